/**
 * Validates and normalises a published message before it is stored. Every rejection is a
 * MessageStoreAck(false) whose feedback starts with KiteQ's text and says why.
 *
 * Delayed messages (KiteQ-TS): Header field 12 `deliverAt` (epoch ms), or, when it is absent, a
 * property `deliverAt` (decimal epoch ms) so unmodified KiteQ clients can schedule. The expiry
 * clamp counts from deliverAt: a message due in 30 days keeps 7 days to be delivered once due.
 */
import { STOP, type Handler, type Stop } from '../pipe/pipeline.ts'
import { getProperty, type Header } from '../protocol/header.ts'
import { isHexId } from '../protocol/message-id.ts'
import type { BrokerContext, PublishContext } from './context.ts'
import { replyStoreAck } from './replies.ts'

const DECIMAL = /^-?\d{1,16}$/

/** The requested delivery time, or NaN when the property is not a number. */
function requestedDeliverAt(h: Header): number | undefined {
  if (h.deliverAt !== undefined) return h.deliverAt
  const prop = getProperty(h, 'deliverAt')
  if (prop === undefined) return undefined
  return DECIMAL.test(prop.trim()) ? Number(prop.trim()) : NaN
}

function refuse(broker: BrokerContext, ctx: PublishContext, feedback: string): Stop {
  broker.stats.count('rejected')
  replyStoreAck(ctx.conn, ctx.frame.opaque, ctx.header.messageId, false, feedback)
  return STOP
}

export function createCheckMessageHandler(broker: BrokerContext): Handler<PublishContext> {
  const { maxDeliverLimit, maxExpirySeconds, maxDelayMs } = broker.settings
  return function checkMessage(ctx) {
    const h = ctx.header
    if (!broker.isServedTopic(h.topic)) return refuse(broker, ctx, `UnSupport Topic Message! topic '${h.topic}' is not served by this broker`)
    if (!isHexId(h.messageId)) return refuse(broker, ctx, `Invalid MessageId For UUID! '${h.messageId}' is not 32 hex characters`)
    const session = ctx.session!
    if (h.groupId === '') h.groupId = session.groupId
    else if (broker.settings.secrets !== undefined && h.groupId !== session.groupId) {
      return refuse(broker, ctx, `Invalid Group! header groupId '${h.groupId}' is not this connection's group '${session.groupId}'`)
    }
    const now = ctx.receivedAtMs
    const nowSec = Math.floor(now / 1000)
    if (h.createTime === undefined || h.createTime <= 0) h.createTime = nowSec
    if (h.deliverLimit <= 0 || h.deliverLimit > maxDeliverLimit) h.deliverLimit = maxDeliverLimit

    const deliverAt = requestedDeliverAt(h)
    if (deliverAt !== undefined && !Number.isFinite(deliverAt)) {
      return refuse(broker, ctx, `Invalid deliverAt! property deliverAt '${getProperty(h, 'deliverAt')}' is not epoch milliseconds`)
    }
    if (deliverAt !== undefined && deliverAt > now + maxDelayMs) {
      return refuse(broker, ctx, `Invalid deliverAt! ${deliverAt} is more than ${maxDelayMs} ms ahead (the limit)`)
    }
    // absent or in the past: deliver now
    ctx.deliverAtMs = deliverAt !== undefined && deliverAt > now ? deliverAt : 0
    const dueSec = Math.floor(Math.max(now, ctx.deliverAtMs) / 1000)

    const latestExpiry = dueSec + maxExpirySeconds
    if (h.expiredTime <= 0 || h.expiredTime > latestExpiry) h.expiredTime = latestExpiry
    else if (h.expiredTime <= nowSec) return refuse(broker, ctx, `Expired Message! expiredTime ${h.expiredTime} is not after now (${nowSec})`)
    else if (ctx.deliverAtMs > 0 && h.expiredTime * 1000 <= ctx.deliverAtMs) {
      return refuse(broker, ctx, `Expired Message! expiredTime ${h.expiredTime} is not after deliverAt ${ctx.deliverAtMs}`)
    }
    return undefined
  }
}
