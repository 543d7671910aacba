/** Decodes a published message; refuses it while the broker stops, and past the broker-wide accept limit (off by default). */
import { TokenBucket } from '../binding/rate-limiter.ts'
import { STOP, type Handler } from '../pipe/pipeline.ts'
import { RawMessageCodec } from '../protocol/messages.ts'
import type { BrokerContext, PublishContext } from './context.ts'
import { replyStoreAck } from './replies.ts'

export function createAcceptHandler(broker: BrokerContext): Handler<PublishContext> {
  const permits = broker.settings.acceptPermitsPerSecond
  const limiter = permits > 0 ? new TokenBucket(permits) : undefined
  return function accept(ctx) {
    const message = RawMessageCodec.decode(ctx.frame.body)
    ctx.header = message.header
    // copied: the body is kept past this frame, and must not pin the socket chunk it came in
    ctx.body = Buffer.from(message.body)
    ctx.receivedAtMs = broker.clock.now()
    broker.stats.received(ctx.header.topic, ctx.header.groupId)
    if (broker.stopping) {
      // what is under way finishes before connections close; a new message would lose its ack
      broker.stats.count('rejected')
      replyStoreAck(ctx.conn, ctx.frame.opaque, ctx.header.messageId, false, 'Store Result KiteQ OverFlow [broker stopping]')
      return STOP
    }
    if (limiter !== undefined && limiter.tryTake(ctx.receivedAtMs) > 0) {
      broker.stats.count('rejected')
      broker.stats.count('throttled')
      replyStoreAck(ctx.conn, ctx.frame.opaque, ctx.header.messageId, false, `Store Result KiteQ OverFlow [${permits}/s accept limit]`)
      return STOP
    }
    return undefined
  }
}
