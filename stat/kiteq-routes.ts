/** KiteQ's monitoring endpoints (/stat, /binds, /reload) and Prometheus' /metrics. */
import { ApiErrorCodes, HttpError, kiteqReply, type Reply } from './http-io.ts'
import type { Route } from './http-router.ts'
import { kiteqBinds, kiteqStat } from './kiteq-stat.ts'
import type { OperatorContext } from './operator-context.ts'

/** Re-reads the configured topics and serves exactly those from now on. */
export async function reloadTopics(ctx: OperatorContext): Promise<string[]> {
  if (ctx.readTopics === undefined) throw new HttpError(409, ApiErrorCodes.CONFIG, 'this broker was started without a configuration to reload topics from')
  let read: readonly string[]
  try {
    read = await ctx.readTopics()
  } catch (err) {
    if ((err as { code?: string }).code !== ApiErrorCodes.CONFIG) throw err
    throw new HttpError(400, ApiErrorCodes.CONFIG, `${(err as Error).message}; the served topics were left as they are`)
  }
  const topics = [...new Set(read)]
  if (topics.length === 0) throw new HttpError(400, ApiErrorCodes.CONFIG, 'the configuration names no topics; the served topics were left as they are')
  const before = ctx.broker.topics
  await ctx.broker.setTopics(topics)
  ctx.logger.info({ action: 'reload', before, after: topics, result: 'reloaded' }, 'operator action')
  return ctx.broker.topics
}

export function kiteqRoutes(ctx: OperatorContext): Route[] {
  return [
    {
      methods: ['GET'], pattern: '/stat', access: 'read',
      handle: async () => kiteqReply(kiteqStat(ctx.broker, ctx.rates(), await ctx.storeStats.get())),
    },
    { methods: ['GET'], pattern: '/binds', access: 'read', handle: () => kiteqReply(kiteqBinds(ctx.broker)) },
    {
      // KiteQ reloads on GET; POST is accepted too, for tools that will not change state with GET
      methods: ['GET', 'POST'], pattern: '/reload', access: 'admin',
      handle: async () => kiteqReply({ status: 200, topics: await reloadTopics(ctx) }),
    },
    {
      methods: ['GET'], pattern: '/metrics', access: 'read',
      handle: async (): Promise<Reply> => ({ status: 200, contentType: ctx.metrics.contentType, body: await ctx.metrics.text() }),
    },
  ]
}
