/**
 * The JSON API behind every console page, so a script can do what the console does:
 *   GET  /api/access                              what the caller may do (public)
 *   GET  /api/overview                            totals, rates, connections, backlog
 *   GET  /api/trends?hours=24                     per topic / producer group, from the snapshots
 *   GET  /api/messages/:id                        a message and its delivery state per group
 *   POST /api/messages/:topic/:id/cancel          (admin)
 *   POST /api/messages/:topic/:id/reschedule      {deliverAt: epoch ms or ISO date} (admin)
 *   GET  /api/dead-letters?topic=&limit=&after=   newest last, paged by message id
 *   POST /api/dead-letters/:topic/:id/redrive     (admin)
 *   GET  /api/bindings                            per topic: groups, bindings, connections
 *   POST /api/reload                              as /reload (admin)
 */
import type { ScheduleOutcome } from '../handler/message-ops.ts'
import { ApiErrorCodes, HttpError, jsonReply, type Reply } from './http-io.ts'
import type { Route } from './http-router.ts'
import { reloadTopics } from './kiteq-routes.ts'
import type { LatencyHistogram } from './latency-histogram.ts'
import { splitTopicGroupKey } from './broker-stats.ts'
import { bindingJson, deadLetterJson, messageViewJson } from './message-json.ts'
import type { OperatorContext } from './operator-context.ts'
import { trendsFrom } from './trends.ts'

export const apiLimits = {
  maxTrendHours: 7 * 24,
  defaultTrendHours: 24,
  defaultDeadLetters: 50,
  maxDeadLetters: 500,
  maxIdLength: 256,
} as const

function numberParam(query: URLSearchParams, name: string, fallback: number, min: number, max: number): number {
  const raw = query.get(name)
  if (raw === null || raw === '') return fallback
  const n = Number(raw)
  if (!Number.isFinite(n) || n < min || n > max) {
    throw new HttpError(400, ApiErrorCodes.INVALID_ARGUMENT, `${name}=${raw} must be a number from ${min} to ${max}`)
  }
  return n
}

function idParam(value: string, what: string): string {
  if (value.length === 0 || value.length > apiLimits.maxIdLength) {
    throw new HttpError(400, ApiErrorCodes.INVALID_ARGUMENT, `${what} must be 1 to ${apiLimits.maxIdLength} characters`)
  }
  return value
}

/** deliverAt as epoch milliseconds or an ISO 8601 date. */
function deliverAtOf(body: unknown): number {
  const raw = (body as { deliverAt?: unknown } | undefined)?.deliverAt
  const ms = typeof raw === 'number' ? raw : typeof raw === 'string' ? (/^\d+$/.test(raw) ? Number(raw) : Date.parse(raw)) : NaN
  if (!Number.isFinite(ms) || ms < 0) {
    throw new HttpError(400, ApiErrorCodes.INVALID_ARGUMENT, 'body must be {"deliverAt": epoch milliseconds or an ISO 8601 date}')
  }
  return Math.round(ms)
}

/** cancelled/rescheduled → 200; not-found → 404; refused/already-delivered → 409, with the broker's reason. */
function outcomeReply(outcome: ScheduleOutcome): Reply {
  if (outcome.result === 'cancelled' || outcome.result === 'rescheduled') return jsonReply(outcome)
  const notFound = outcome.result === 'not-found'
  return jsonReply({
    error: outcome.feedback,
    code: notFound ? ApiErrorCodes.NOT_FOUND : ApiErrorCodes.CONFLICT,
    result: outcome.result,
  }, notFound ? 404 : 409)
}

function latencyJson(h: LatencyHistogram) {
  const s = h.summary()
  return { count: s.count, p50Ms: s.p50Ms, p99Ms: s.p99Ms, maxMs: s.maxMs }
}

async function overview(ctx: OperatorContext) {
  const { broker } = ctx
  const stats = broker.stats
  const store = await ctx.storeStats.get()
  const rates = ctx.rates()
  const pendingByTopic: Record<string, number> = Object.fromEntries(broker.topics.map((t) => [t, 0]))
  Object.assign(pendingByTopic, store.pendingByTopic)
  const now = broker.clock.now()
  return {
    nowMs: now,
    uptimeSeconds: Math.round((Date.now() - ctx.startedAtMs) / 1000),
    store: broker.store.kind,
    topics: broker.topics,
    totals: { ...stats.totals },
    rates,
    receivedByTopic: Object.fromEntries(stats.receivedByTopic),
    receivedByGroup: Object.fromEntries(stats.receivedByGroup),
    deliveredByTopic: Object.fromEntries(stats.deliveredByTopic),
    connections: broker.connectionCount,
    groups: broker.sessions.groups(),
    pendingByTopic,
    pendingTotal: Object.values(pendingByTopic).reduce((a, b) => a + b, 0),
    uncommitted: store.uncommitted,
    deadLetters: store.deadLetters,
    scheduledInMemory: broker.scheduledInMemory,
    delayLatenessByTopic: Object.fromEntries([...stats.delayLateness].map(([t, h]) => [t, latencyJson(h)])),
    deliverLatency: [...stats.deliverLatency].map(([key, h]) => {
      const [topic, group] = splitTopicGroupKey(key)
      return { topic, group, ...latencyJson(h) }
    }),
  }
}

function bindings(ctx: OperatorContext) {
  const { broker } = ctx
  const byTopic = broker.exchanger.snapshot()
  const online = broker.sessions.groups()
  const topics = [...new Set([...broker.topics, ...Object.keys(byTopic)])].sort()
  return {
    topics: topics.map((topic) => {
      const groups = new Map<string, ReturnType<typeof bindingJson>[]>()
      for (const b of byTopic[topic] ?? []) groups.set(b.groupId, [...(groups.get(b.groupId) ?? []), bindingJson(b)])
      return {
        topic,
        served: broker.isServedTopic(topic),
        groups: [...groups].sort(([a], [b]) => (a < b ? -1 : 1)).map(([groupId, list]) => ({
          groupId, bindings: list, connections: online[groupId] ?? [],
        })),
      }
    }),
  }
}

export function apiRoutes(ctx: OperatorContext): Route[] {
  const { broker } = ctx
  const audit = (action: string, fields: object, result: string) => ctx.logger.info({ action, ...fields, result }, 'operator action')
  return [
    {
      methods: ['GET'], pattern: '/api/access', access: 'public',
      handle: (req) => jsonReply({
        adminEnabled: ctx.access.adminEnabled,
        protectReads: ctx.access.protectReads,
        tokenAccepted: ctx.access.tokenMatches(req.authorization),
      }),
    },
    { methods: ['GET'], pattern: '/api/overview', access: 'read', handle: async () => jsonReply(await overview(ctx)) },
    {
      methods: ['GET'], pattern: '/api/trends', access: 'read',
      handle: async (req) => {
        const hours = numberParam(req.query, 'hours', apiLimits.defaultTrendHours, 0.01, apiLimits.maxTrendHours)
        const since = broker.clock.now() - hours * 3600_000
        const snapshots = await broker.store.listSnapshots(since)
        return jsonReply({ hours, snapshotIntervalMs: ctx.snapshotIntervalMs, ...trendsFrom(snapshots) })
      },
    },
    {
      methods: ['GET'], pattern: '/api/messages/:id', access: 'read',
      handle: async (req) => {
        const id = idParam(req.params.id, 'message id')
        const view = await broker.lookup(id)
        if (view === undefined) throw new HttpError(404, ApiErrorCodes.NOT_FOUND, `no message ${id} on this broker (live, uncommitted or dead)`)
        return jsonReply(messageViewJson(view))
      },
    },
    {
      methods: ['POST'], pattern: '/api/messages/:topic/:id/cancel', access: 'admin',
      handle: async (req) => {
        const topic = idParam(req.params.topic, 'topic')
        const id = idParam(req.params.id, 'message id')
        const outcome = await broker.cancel(topic, id)
        audit('cancel', { topic, messageId: id }, outcome.result)
        return outcomeReply(outcome)
      },
    },
    {
      methods: ['POST'], pattern: '/api/messages/:topic/:id/reschedule', access: 'admin',
      handle: async (req) => {
        const topic = idParam(req.params.topic, 'topic')
        const id = idParam(req.params.id, 'message id')
        const deliverAt = deliverAtOf(await req.body())
        // a time no message may have is the request's fault (400); 409 stays for the message's state
        const { maxDelayMs } = broker.settings
        if (deliverAt > broker.clock.now() + maxDelayMs) {
          throw new HttpError(400, ApiErrorCodes.INVALID_ARGUMENT, `deliverAt ${deliverAt} is more than ${maxDelayMs} ms ahead`)
        }
        const outcome = await broker.reschedule(topic, id, deliverAt)
        audit('reschedule', { topic, messageId: id, deliverAt }, outcome.result)
        return outcomeReply(outcome)
      },
    },
    {
      methods: ['GET'], pattern: '/api/dead-letters', access: 'read',
      handle: async (req) => {
        const limit = numberParam(req.query, 'limit', apiLimits.defaultDeadLetters, 1, apiLimits.maxDeadLetters)
        const topic = req.query.get('topic') || undefined
        const after = req.query.get('after') || undefined
        const items = await broker.listDeadLetters({ limit: Math.floor(limit), ...(topic ? { topic } : {}), ...(after ? { afterMessageId: after } : {}) })
        return jsonReply({
          items: items.map(deadLetterJson),
          next: items.length === Math.floor(limit) ? items[items.length - 1].message.messageId : null,
        })
      },
    },
    {
      methods: ['POST'], pattern: '/api/dead-letters/:topic/:id/redrive', access: 'admin',
      handle: async (req) => {
        const topic = idParam(req.params.topic, 'topic')
        const id = idParam(req.params.id, 'message id')
        const ok = await broker.redrive(topic, id)
        audit('redrive', { topic, messageId: id }, ok ? 'redriven' : 'not-found')
        if (!ok) throw new HttpError(404, ApiErrorCodes.NOT_FOUND, `no dead letter ${id} on topic '${topic}'`)
        return jsonReply({ result: 'redriven', topic, messageId: id })
      },
    },
    { methods: ['GET'], pattern: '/api/bindings', access: 'read', handle: () => jsonReply(bindings(ctx)) },
    {
      methods: ['POST'], pattern: '/api/reload', access: 'admin',
      handle: async () => jsonReply({ status: 200, topics: await reloadTopics(ctx) }),
    },
  ]
}
