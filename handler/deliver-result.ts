/**
 * Waits for the groups' answers and decides what comes next: all reached → delete; failures →
 * another immediate round while under the immediate-attempt count, else the next attempt is
 * scheduled on the backoff table, until the delivery limit or expiry sends it to dead letters.
 */
import type { Handler } from '../pipe/pipeline.ts'
import type { BrokerContext, DeliveryContext } from './context.ts'
import { finishDelivered, moveToDeadLetter } from './deliver-outcome.ts'

export function createDeliverResultHandler(broker: BrokerContext): Handler<DeliveryContext> {
  return async function deliverResult(ctx) {
    const m = ctx.message
    const answers = ctx.sends.length === 0 ? [] : await Promise.all(ctx.sends.map((s) => s.answer))
    for (let i = 0; i < ctx.sends.length; i++) {
      const group = ctx.sends[i].groupId
      if (answers[i]) {
        ctx.succeeded.push(group)
        broker.stats.groupOutcome(m.topic, group, 'delivered')
        broker.stats.observeDelivered(m.topic, group, m, broker.clock.now())
      } else {
        ctx.failed.push(group)
        broker.stats.groupOutcome(m.topic, group, 'failed')
      }
    }
    broker.stats.count('delivered', ctx.succeeded.length)
    broker.stats.count('failed', ctx.failed.length)
    if (ctx.fly) return
    if (ctx.succeeded.length > 0) m.succGroups = [...m.succGroups, ...ctx.succeeded]
    m.failGroups = ctx.failed
    if (ctx.failed.length === 0 && ctx.deferMs === Infinity) {
      await finishDelivered(broker, ctx)
      return
    }
    const now = broker.clock.now()
    if (m.expiredTime <= Math.floor(now / 1000)) {
      await moveToDeadLetter(broker, m, `expired after ${m.deliverCount} delivery attempts`)
      return
    }
    let nextMs = ctx.deferMs === Infinity ? Infinity : now + ctx.deferMs
    if (ctx.failed.length > 0) {
      if (m.deliverCount >= m.deliverLimit) {
        await moveToDeadLetter(broker, m, `deliverLimit ${m.deliverLimit} reached`)
        return
      }
      for (const group of ctx.failed) broker.stats.groupOutcome(m.topic, group, 'retried')
      broker.stats.count('retried', ctx.failed.length)
      if (m.deliverCount < broker.settings.retry.immediateAttempts) {
        ctx.retryNow = true
        return
      }
      nextMs = Math.min(nextMs, now + broker.settings.retry.delayMs(m.deliverCount))
    }
    m.nextDeliverAtMs = nextMs
    await broker.store.updateDelivery(m.topic, m.messageId, m)
    broker.schedule({ topic: m.topic, messageId: m.messageId, nextDeliverAtMs: nextMs })
  }
}
