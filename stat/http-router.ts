/** Routes of the operator's port: method, path pattern with :params, who may call it, handler. */
import type { Access } from './http-auth.ts'
import type { Reply } from './http-io.ts'

export interface RouteRequest {
  params: Record<string, string>
  query: URLSearchParams
  /** The JSON body (undefined when empty). */
  body: () => Promise<unknown>
  authorization: string | undefined
}

export interface Route {
  methods: readonly ('GET' | 'POST')[]
  /** e.g. "/api/messages/:topic/:id/cancel"; a :param matches one path segment. */
  pattern: string
  access: Access
  handle: (req: RouteRequest) => Reply | Promise<Reply>
}

export type RouteMatch =
  | { route: Route; params: Record<string, string> }
  | { allowed: readonly string[] }
  | undefined

interface Compiled {
  route: Route
  segments: string[]
}

export class Router {
  readonly #routes: Compiled[]

  constructor(routes: readonly Route[]) {
    this.#routes = routes.map((route) => ({ route, segments: route.pattern.split('/') }))
  }

  /** The route for (method, path); `{allowed}` when the path exists with other methods only. */
  match(method: string, path: string): RouteMatch {
    const parts = path.split('/')
    const allowed: string[] = []
    for (const { route, segments } of this.#routes) {
      const params = matchSegments(segments, parts)
      if (params === undefined) continue
      if ((route.methods as readonly string[]).includes(method)) return { route, params }
      allowed.push(...route.methods)
    }
    return allowed.length > 0 ? { allowed: [...new Set(allowed)] } : undefined
  }
}

function matchSegments(segments: string[], parts: string[]): Record<string, string> | undefined {
  if (segments.length !== parts.length) return undefined
  const params: Record<string, string> = {}
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i]
    if (s.startsWith(':')) {
      if (parts[i] === '') return undefined
      try {
        params[s.slice(1)] = decodeURIComponent(parts[i])
      } catch {
        return undefined
      }
    } else if (s !== parts[i]) return undefined
  }
  return params
}
