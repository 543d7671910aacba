/**
 * The operator's HTTP port (node:http): KiteQ's endpoints, /metrics, the JSON API and the web
 * console. Every answer is produced as a Reply first, so errors of any route come out the same
 * way: JSON {error, code} with a fitting status.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { ErrorCodes, KiteQError, isKiteQError } from '../protocol/errors.ts'
import { silentLogger, type Logger } from '../protocol/logger.ts'
import { consoleAsset } from './console-assets.ts'
import type { AccessPolicy } from './http-auth.ts'
import { ApiErrorCodes, HttpError, errorReply, readJsonBody, type Reply } from './http-io.ts'
import { Router, type Route } from './http-router.ts'

/** The console loads nothing from elsewhere; the policy makes the browser hold it to that. */
const consoleSecurityPolicy =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

export interface HttpServerOptions {
  host: string
  port: number
  routes: readonly Route[]
  access: AccessPolicy
  logger?: Logger
}

export interface StatHttpServer {
  readonly host: string
  readonly port: number
  close(): Promise<void>
}

function replyForError(err: unknown, logger: Logger): Reply {
  if (err instanceof HttpError) return errorReply(err.status, err.code, err.message, err.headers)
  if (isKiteQError(err)) {
    const status = err.code === ErrorCodes.INVALID_ARGUMENT ? 400 : err.code === ErrorCodes.SHUTDOWN || err.retriable ? 503 : 500
    if (status >= 500) logger.warn({ code: err.code, err: err.message }, 'operator request failed')
    return errorReply(status, err.code, err.message)
  }
  logger.error({ err: (err as Error)?.message, stack: (err as Error)?.stack }, 'operator request failed')
  return errorReply(500, ApiErrorCodes.INTERNAL, `internal error: ${(err as Error)?.message ?? String(err)}`)
}

function parseRequestUrl(path: string): URL {
  try {
    return new URL(`http://operator.invalid${path.startsWith('/') ? '' : '/'}${path}`)
  } catch {
    throw new HttpError(400, ApiErrorCodes.INVALID_ARGUMENT, 'the request path does not parse')
  }
}

async function answer(req: IncomingMessage, router: Router, access: AccessPolicy, logger: Logger): Promise<Reply> {
  const method = req.method ?? 'GET'
  try {
    // appended, not resolved against a base: a request path starting with // would name a host
    const url = parseRequestUrl(req.url ?? '/')
    if (method === 'GET') {
      const asset = await consoleAsset(url.pathname)
      if (asset !== undefined) {
        return { status: 200, contentType: asset.contentType, body: asset.body, headers: { 'content-security-policy': consoleSecurityPolicy } }
      }
    }
    const match = router.match(method, url.pathname)
    if (match === undefined) throw new HttpError(404, ApiErrorCodes.NOT_FOUND, `no such page: ${method} ${url.pathname}`)
    if ('allowed' in match) {
      throw new HttpError(405, ApiErrorCodes.INVALID_ARGUMENT, `${url.pathname} takes ${match.allowed.join(' or ')}`, { allow: match.allowed.join(', ') })
    }
    const authorization = req.headers.authorization
    access.check(match.route.access, authorization)
    return await match.route.handle({ params: match.params, query: url.searchParams, body: () => readJsonBody(req), authorization })
  } catch (err) {
    return replyForError(err, logger)
  }
}

function send(res: ServerResponse, reply: Reply): void {
  const body = typeof reply.body === 'string' ? Buffer.from(reply.body) : reply.body
  res.writeHead(reply.status, {
    'content-type': reply.contentType,
    'content-length': body.length,
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...reply.headers,
  })
  res.end(body)
}

export function listenHttp(options: HttpServerOptions): Promise<StatHttpServer> {
  const logger = options.logger ?? silentLogger
  const router = new Router(options.routes)
  const server: Server = createServer((req, res) => {
    answer(req, router, options.access, logger).then(
      (reply) => {
        // an unread body (a refused POST) is drained, so keep-alive connections stay usable
        req.resume()
        send(res, reply)
      },
      (err: Error) => {
        logger.error({ err: err.message }, 'operator reply failed')
        res.destroy()
      },
    )
  })
  return new Promise((resolve, reject) => {
    const failed = (err: Error) =>
      reject(new KiteQError(ErrorCodes.CONFIG, `HTTP port ${options.host}:${options.port}: ${err.message}`, { cause: err }))
    server.once('error', failed)
    server.listen({ host: options.host, port: options.port }, () => {
      server.off('error', failed)
      server.on('error', (err) => logger.error({ err: err.message }, 'operator HTTP server error'))
      const address = server.address() as AddressInfo
      resolve({
        host: address.address,
        port: address.port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done())
            server.closeAllConnections()
          }),
      })
    })
  })
}
