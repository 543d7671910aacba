/**
 * Operations on one stored message, shared by the wire (SCHEDULE) and the operator's console:
 * cancel, reschedule, re-drive a dead letter, and look a message up with its delivery state.
 */
import type { StoredMessage } from '../store/message-store.ts'
import type { BrokerContext } from './context.ts'

export type ScheduleOutcomeKind = 'cancelled' | 'rescheduled' | 'already-delivered' | 'not-found' | 'refused'

export interface ScheduleOutcome {
  result: ScheduleOutcomeKind
  feedback: string
  deliverAt?: number
}

async function loadForChange(broker: BrokerContext, topic: string, messageId: string): Promise<StoredMessage | ScheduleOutcome> {
  // a round under way may deliver it this very moment: answer once we know how it ended
  await broker.deliverySettled(topic, messageId)
  const message = await broker.store.get(topic, messageId)
  if (message === undefined) {
    return broker.wasDelivered(topic, messageId)
      ? { result: 'already-delivered', feedback: 'already delivered to every bound group' }
      : { result: 'not-found', feedback: `no message ${messageId} on topic '${topic}' on this broker` }
  }
  if (message.deliverCount > 0 || message.succGroups.length > 0) {
    return { result: 'refused', feedback: `delivery already started (${message.deliverCount} attempts): it can no longer be cancelled or moved` }
  }
  return message
}

export async function cancelMessage(broker: BrokerContext, topic: string, messageId: string): Promise<ScheduleOutcome> {
  const loaded = await loadForChange(broker, topic, messageId)
  if ('result' in loaded) return loaded
  if (!(await broker.store.delete(topic, messageId))) return { result: 'not-found', feedback: 'gone meanwhile' }
  broker.logger.info({ topic, messageId }, 'message cancelled')
  return { result: 'cancelled', feedback: 'cancelled' }
}

export async function rescheduleMessage(
  broker: BrokerContext, topic: string, messageId: string, deliverAtMs: number,
): Promise<ScheduleOutcome> {
  const { maxDelayMs } = broker.settings
  const loaded = await loadForChange(broker, topic, messageId)
  if ('result' in loaded) return loaded
  const now = broker.clock.now()
  if (deliverAtMs > now + maxDelayMs) return { result: 'refused', feedback: `deliverAt ${deliverAtMs} is more than ${maxDelayMs} ms ahead` }
  if (Math.floor(deliverAtMs / 1000) >= loaded.expiredTime) {
    return { result: 'refused', feedback: `deliverAt ${deliverAtMs} is not before the message's expiry (${loaded.expiredTime})` }
  }
  const at = Math.max(now, deliverAtMs)
  await broker.store.reschedule(topic, messageId, at)
  if (loaded.commit) broker.schedule({ topic, messageId, nextDeliverAtMs: at })
  // an undecided transaction keeps its check-back time; deliverAt applies once it is committed
  else await broker.store.updateDelivery(topic, messageId, loaded)
  return { result: 'rescheduled', feedback: 'rescheduled', deliverAt: at }
}

/** Moves a dead letter back into delivery, due now, with a fresh delivery budget. */
export async function redriveMessage(broker: BrokerContext, topic: string, messageId: string): Promise<boolean> {
  const now = broker.clock.now()
  if (!(await broker.store.redriveDeadLetter(topic, messageId, now))) return false
  broker.schedule({ topic, messageId, nextDeliverAtMs: now })
  broker.logger.info({ topic, messageId }, 'dead letter re-driven')
  return true
}

export type GroupDeliveryState = 'delivered' | 'failed' | 'pending'

export interface MessageView {
  message: StoredMessage
  state: 'live' | 'dead' | 'uncommitted'
  deadLetter?: { reason: string; deadAtMs: number }
  /** Per bound (or already reached) group. */
  groups: Record<string, GroupDeliveryState>
}

export async function lookupMessage(broker: BrokerContext, messageId: string): Promise<MessageView | undefined> {
  const found = await broker.store.findById(messageId)
  if (found === undefined) return undefined
  const m = found.message
  const groups: Record<string, GroupDeliveryState> = {}
  for (const route of broker.exchanger.routes(m.topic, m.messageType)) groups[route.groupId] = 'pending'
  for (const g of m.failGroups) groups[g] = 'failed'
  for (const g of m.succGroups) groups[g] = 'delivered'
  return {
    message: m,
    state: found.deadLetter ? 'dead' : m.commit ? 'live' : 'uncommitted',
    ...(found.deadLetter ? { deadLetter: found.deadLetter } : {}),
    groups,
  }
}
