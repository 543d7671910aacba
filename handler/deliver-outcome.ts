/** The two ways a message leaves the live set, shared by the delivery stages and tx checks. */
import type { StoredMessage } from '../store/message-store.ts'
import type { BrokerContext, DeliveryContext } from './context.ts'

export async function moveToDeadLetter(broker: BrokerContext, m: StoredMessage, reason: string): Promise<void> {
  // the dead letter must show the last attempt (its count and failed groups), not the last persisted one
  await broker.store.updateDelivery(m.topic, m.messageId, m)
  if (!(await broker.store.moveToDeadLetter(m.topic, m.messageId, reason, broker.clock.now()))) return
  broker.stats.deadLettered(m.topic)
  for (const group of m.failGroups) broker.stats.groupOutcome(m.topic, group, 'deadLettered')
  broker.logger.warn({ topic: m.topic, messageId: m.messageId, failGroups: m.failGroups, reason }, 'message dead-lettered')
}

/**
 * Every bound group has the message (or none is bound): remove it. Settles once the delete is
 * written; what it resolves with means nothing (a then() to make it void was a promise more for
 * every delivered message).
 */
export function finishDelivered(broker: BrokerContext, ctx: DeliveryContext): Promise<unknown> | undefined {
  const m = ctx.message
  if (ctx.fly) return undefined
  // delivered to every group now, whether or not the delete is written yet (a cancel waits for this round first)
  broker.markDelivered(m.topic, m.messageId)
  return broker.store.delete(m.topic, m.messageId)
}
