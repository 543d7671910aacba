/**
 * Per-group flow control and the sends: each group gets the message once, on one live connection
 * chosen at random among its warmed-up ones, within its watermark. A group that cannot be tried now
 * (limited, busy, warming up, or offline with a persistent binding) is put off without spending a
 * delivery attempt; an offline group with a non-persistent binding is dropped, as KiteQ does. A
 * scheduled delivery also needs a place in its group's window (server/due-pump.ts), held until the
 * round has ended (answer and store write), for a delivery target (the Kafka bridge) as for
 * connections; without one the group is parked for this round.
 */
import type { GroupRoute } from '../binding/exchanger.ts'
import type { Handler } from '../pipe/pipeline.ts'
import { Cmd } from '../protocol/commands.ts'
import { deliverAckStatus, PreencodedMessageCodec } from '../protocol/messages.ts'
import type { Frame } from '../protocol/frame.ts'
import type { Connection } from '../remoting/connection.ts'
import { encodedHeader, type StoredMessage } from '../store/message-store.ts'
import { withItem, type BrokerContext, type DeliveryContext } from './context.ts'

/** How long to put off a group whose consumers are all pushing back or warming up. */
const BUSY_RETRY_MS = 100
const WARMING_RETRY_MS = 200

/**
 * Whether the group took the message: the ack's status. No ack (timeout, closed connection,
 * back-pressure) or one that does not decode is a failed attempt, retried like any other.
 */
function accepted(answer: Frame | Error): boolean {
  if (answer instanceof Error) return false
  try {
    return deliverAckStatus(answer.body)
  } catch {
    return false
  }
}

function send(broker: BrokerContext, conn: Connection, m: StoredMessage): Promise<boolean> {
  // kept on the broker's own copy: a retry round copies the same bytes again
  const delivery = { header: (m.headerBytes ??= encodedHeader(m)), body: m.body }
  return conn.requestMessageAs(m.cmdType, PreencodedMessageCodec, delivery, Cmd.DELIVER_ACK, broker.settings.deliveryTimeoutMs, accepted)
}

/**
 * Whether the group may be sent to now: a scheduled round needs a place in its window (parked
 * without one), and the group's rate limit must allow it (put off otherwise, the place given back).
 */
function admitSend(
  broker: BrokerContext, ctx: DeliveryContext, groupId: string, now: number, limiter: GroupRoute['limiter'],
): boolean {
  if (ctx.scheduled && !broker.dueFlow.tryTake(ctx.message.topic, groupId)) {
    ctx.parked = withItem(ctx.parked, groupId)
    return false
  }
  const wait = limiter?.tryTake(now) ?? 0
  if (wait > 0) {
    if (ctx.scheduled) broker.dueFlow.release(groupId)
    ctx.deferMs = Math.min(ctx.deferMs, wait)
    return false
  }
  if (ctx.scheduled) ctx.windowPlaces = withItem(ctx.windowPlaces, groupId)
  return true
}

export function createDeliverQosHandler(broker: BrokerContext): Handler<DeliveryContext> {
  return function deliverQos(ctx) {
    const m = ctx.message
    const now = ctx.nowMs
    for (const route of ctx.routes) {
      const target = broker.targetFor(route.groupId)
      if (target !== undefined) {
        const busyMs = target.busyForMs()
        if (busyMs > 0) {
          ctx.deferMs = Math.min(ctx.deferMs, busyMs)
          continue
        }
        if (!admitSend(broker, ctx, route.groupId, now, route.limiter)) continue
        ctx.sends = withItem(ctx.sends, { groupId: route.groupId, answer: target.deliver(m).catch(() => false) })
        continue
      }
      const picked = broker.sessions.pick(route.groupId, now)
      if (!('session' in picked)) {
        if (picked.unavailable === 'offline' && !route.binding.persistent) ctx.succeeded = withItem(ctx.succeeded, route.groupId)
        else {
          const wait = picked.unavailable === 'offline' ? broker.settings.offlineRetryMs
            : picked.unavailable === 'busy' ? BUSY_RETRY_MS : WARMING_RETRY_MS
          ctx.deferMs = Math.min(ctx.deferMs, wait)
        }
        continue
      }
      if (!admitSend(broker, ctx, route.groupId, now, route.limiter)) continue
      ctx.sends = withItem(ctx.sends, { groupId: route.groupId, answer: send(broker, picked.session.connection, m) })
    }
    if (ctx.sends.length > 0) {
      m.deliverCount++
      // how late a delayed message went out, on its first attempt
      if (m.deliverCount === 1 && m.deliverAtMs > 0) broker.stats.observeLateness(m.topic, now - m.deliverAtMs)
    }
  }
}
