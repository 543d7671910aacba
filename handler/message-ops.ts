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

/**
 * Runs `change` on a stored message that no delivery may start on meanwhile: a fire between the
 * read below and the change landing would deliver a message the answer calls cancelled (stores
 * whose reads take a round trip, such as mysql://, leave such a gap). A fire skipped while the
 * message was held is made up for by scheduling it again, unless the change removed it.
 */
async function changeStored(
  broker: BrokerContext, topic: string, messageId: string, change: (m: StoredMessage) => Promise<ScheduleOutcome>,
): Promise<ScheduleOutcome> {
  const release = await broker.holdForChange(topic, messageId)
  let message: StoredMessage | undefined
  let outcome: ScheduleOutcome | undefined
  try {
    message = await broker.store.get(topic, messageId)
    outcome = unchangeable(broker, topic, messageId, message) ?? await change(message!)
    return outcome
  } finally {
    release()
    if (message !== undefined && outcome?.result !== 'cancelled') {
      const movedTo = outcome?.result === 'rescheduled' && message.commit ? outcome.deliverAt : undefined
      broker.schedule({ topic, messageId, nextDeliverAtMs: movedTo ?? message.nextDeliverAtMs })
    }
  }
}

/** Why the message cannot be cancelled or moved, if it cannot. */
function unchangeable(broker: BrokerContext, topic: string, messageId: string, message: StoredMessage | undefined): ScheduleOutcome | undefined {
  if (message === undefined) {
    return broker.wasDelivered(topic, messageId)
      ? { result: 'already-delivered', feedback: 'already delivered to every bound group' }
      : { result: 'not-found', feedback: `no message ${messageId} on topic '${topic}' on this broker` }
  }
  if (message.deliverCount > 0 || message.succGroups.length > 0) {
    return { result: 'refused', feedback: `delivery already started (${message.deliverCount} attempts): it can no longer be cancelled or moved` }
  }
  return undefined
}

export function cancelMessage(broker: BrokerContext, topic: string, messageId: string): Promise<ScheduleOutcome> {
  return changeStored(broker, topic, messageId, async () => {
    if (!(await broker.store.delete(topic, messageId))) return { result: 'not-found', feedback: 'gone meanwhile' }
    broker.logger.info({ topic, messageId }, 'message cancelled')
    return { result: 'cancelled', feedback: 'cancelled' }
  })
}

export function rescheduleMessage(
  broker: BrokerContext, topic: string, messageId: string, deliverAtMs: number,
): Promise<ScheduleOutcome> {
  const { maxDelayMs } = broker.settings
  return changeStored(broker, topic, messageId, async (message) => {
    const now = broker.clock.now()
    if (deliverAtMs > now + maxDelayMs) return { result: 'refused', feedback: `deliverAt ${deliverAtMs} is more than ${maxDelayMs} ms ahead` }
    if (Math.floor(deliverAtMs / 1000) >= message.expiredTime) {
      return { result: 'refused', feedback: `deliverAt ${deliverAtMs} is not before the message's expiry (${message.expiredTime})` }
    }
    const at = Math.max(now, deliverAtMs)
    await broker.store.reschedule(topic, messageId, at)
    // an undecided transaction keeps its check-back time; deliverAt applies once it is committed
    if (!message.commit) await broker.store.updateDelivery(topic, messageId, message)
    return { result: 'rescheduled', feedback: 'rescheduled', deliverAt: at }
  })
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
