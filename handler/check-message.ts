/**
 * Validates and normalises a published message before it is stored. Every rejection is a
 * MessageStoreAck(false) whose feedback starts with KiteQ's text and says why.
 */
import { STOP, type Handler, type Stop } from '../pipe/pipeline.ts'
import type { BrokerContext, PublishContext } from './context.ts'
import { replyStoreAck } from './replies.ts'

const MESSAGE_ID = /^[0-9a-fA-F]{32}$/

export function createCheckMessageHandler(broker: BrokerContext): Handler<PublishContext> {
  const { maxDeliverLimit, maxExpirySeconds } = broker.settings
  return function checkMessage(ctx) {
    const h = ctx.header
    const reject = (feedback: string): Stop => {
      broker.stats.count('rejected')
      replyStoreAck(ctx.conn, ctx.frame.opaque, h.messageId, false, feedback)
      return STOP
    }
    if (!broker.isServedTopic(h.topic)) return reject(`UnSupport Topic Message! topic '${h.topic}' is not served by this broker`)
    if (!MESSAGE_ID.test(h.messageId)) return reject(`Invalid MessageId For UUID! '${h.messageId}' is not 32 hex characters`)
    const session = ctx.session!
    if (h.groupId === '') h.groupId = session.groupId
    else if (broker.settings.secrets !== undefined && h.groupId !== session.groupId) {
      return reject(`Invalid Group! header groupId '${h.groupId}' is not this connection's group '${session.groupId}'`)
    }
    const nowSec = Math.floor(ctx.receivedAtMs / 1000)
    if (h.createTime === undefined || h.createTime <= 0) h.createTime = nowSec
    if (h.deliverLimit <= 0 || h.deliverLimit > maxDeliverLimit) h.deliverLimit = maxDeliverLimit
    const latestExpiry = nowSec + maxExpirySeconds
    if (h.expiredTime <= 0 || h.expiredTime > latestExpiry) h.expiredTime = latestExpiry
    else if (h.expiredTime <= nowSec) return reject(`Expired Message! expiredTime ${h.expiredTime} is not after now (${nowSec})`)
    return undefined
  }
}
