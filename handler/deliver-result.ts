/**
 * Waits for the groups' answers and decides what comes next: all reached → delete; failures →
 * another immediate round while under the immediate-attempt count, else the next attempt is
 * scheduled on the backoff table, until the delivery limit or expiry sends it to dead letters;
 * only full group windows in the way → parked until there is room.
 */
import type { Handler } from '../pipe/pipeline.ts'
import { withItem, type BrokerContext, type DeliveryContext } from './context.ts'
import { finishDelivered, moveToDeadLetter } from './deliver-outcome.ts'

export function createDeliverResultHandler(broker: BrokerContext): Handler<DeliveryContext> {
  return function deliverResult(ctx) {
    const sends = ctx.sends
    // one group is the common case: no Promise.all and its arrays
    if (sends.length === 1) return sends[0].answer.then((ok) => settle(broker, ctx, [ok]))
    if (sends.length === 0) return settle(broker, ctx, [])
    return Promise.all(sends.map((s) => s.answer)).then((answers) => settle(broker, ctx, answers))
  }
}

/** `answers[i]` is the outcome of `ctx.sends[i]`. */
function settle(broker: BrokerContext, ctx: DeliveryContext, answers: boolean[]): Promise<unknown> | undefined {
  const m = ctx.message
  // every answer is in: one reading of the clock serves the round's outcome
  const now = broker.clock.now()
  for (let i = 0; i < ctx.sends.length; i++) {
    const group = ctx.sends[i].groupId
    if (answers[i]) {
      ctx.succeeded = withItem(ctx.succeeded, group)
      broker.stats.groupOutcome(m.topic, group, 'delivered')
      broker.stats.observeDelivered(m.topic, group, m, now)
    } else {
      ctx.failed = withItem(ctx.failed, group)
      broker.stats.groupOutcome(m.topic, group, 'failed')
    }
  }
  broker.stats.count('delivered', ctx.succeeded.length)
  broker.stats.count('failed', ctx.failed.length)
  if (ctx.fly) return undefined
  if (ctx.succeeded.length > 0) m.succGroups = m.succGroups.length === 0 ? ctx.succeeded : [...m.succGroups, ...ctx.succeeded]
  // a round that only put groups off (offline, rate-limited) tried nobody: the last failures stand,
  // less the groups reached now, so a dead letter still names who failed
  if (ctx.failed.length > 0 || ctx.deferMs === Infinity) m.failGroups = ctx.failed
  else if (ctx.succeeded.length > 0 && m.failGroups.length > 0) m.failGroups = m.failGroups.filter((g) => !ctx.succeeded.includes(g))
  if (ctx.failed.length === 0 && ctx.deferMs === Infinity) return ctx.parked.length === 0 ? finishDelivered(broker, ctx) : parkUntilRoom(broker, ctx)
  if (m.expiredTime <= Math.floor(now / 1000)) return moveToDeadLetter(broker, m, `expired after ${m.deliverCount} delivery attempts`)
  let nextMs = ctx.deferMs === Infinity ? Infinity : now + ctx.deferMs
  if (ctx.failed.length > 0) {
    if (m.deliverCount >= m.deliverLimit) return moveToDeadLetter(broker, m, `deliverLimit ${m.deliverLimit} reached`)
    for (const group of ctx.failed) broker.stats.groupOutcome(m.topic, group, 'retried')
    broker.stats.count('retried', ctx.failed.length)
    if (m.deliverCount < broker.settings.retry.immediateAttempts) {
      ctx.retryNow = true
      return undefined
    }
    nextMs = Math.min(nextMs, now + broker.settings.retry.delayMs(m.deliverCount))
  }
  m.nextDeliverAtMs = nextMs
  return broker.store.updateDelivery(m.topic, m.messageId, m).then(() => {
    broker.schedule({ topic: m.topic, messageId: m.messageId, nextDeliverAtMs: nextMs })
  })
}

/**
 * Some groups' windows were full and nothing else calls for a later attempt: the message stays due
 * and waits, as its key, until there is room. Its row changes only when this round reached groups.
 */
function parkUntilRoom(broker: BrokerContext, ctx: DeliveryContext): Promise<unknown> | undefined {
  const m = ctx.message
  const park = () => broker.dueFlow.park({ topic: m.topic, messageId: m.messageId, nextDeliverAtMs: m.nextDeliverAtMs }, ctx.parked[0])
  if (ctx.succeeded.length > 0) return broker.store.updateDelivery(m.topic, m.messageId, m).then(park)
  park()
  return undefined
}
