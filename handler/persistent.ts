/**
 * Persist, then acknowledge: the MessageStoreAck(true) goes out only once the store says the
 * message is safe. A committed message due now is then delivered (while it is saved, when the store
 * allows: MessageStore.deliverWhileSaving); anything else waits for the scheduler (an uncommitted
 * one for its first transaction check-back).
 * fly=true messages are never stored: delivered once if committed, refused otherwise (as KiteQ).
 */
import { STOP, type Handler } from '../pipe/pipeline.ts'
import { ErrorCodes } from '../protocol/errors.ts'
import { Cmd } from '../protocol/commands.ts'
import { encodeHeader } from '../protocol/header.ts'
import { dueOnArrival, type StoredMessage } from '../store/message-store.ts'
import type { BrokerContext, PublishContext } from './context.ts'
import { replyStoreAck } from './replies.ts'

function toStoredMessage(ctx: PublishContext, nextDeliverAtMs: number): StoredMessage {
  const h = ctx.header
  return {
    messageId: h.messageId,
    topic: h.topic,
    messageType: h.messageType,
    cmdType: ctx.frame.cmdType === Cmd.STRING_MESSAGE ? Cmd.STRING_MESSAGE : Cmd.BYTES_MESSAGE,
    header: h,
    // check-message is done with the header: encode it once for the store and every delivery
    headerBytes: encodeHeader(h),
    body: ctx.body,
    publishGroup: h.groupId,
    commit: h.commit,
    createdAtMs: ctx.receivedAtMs,
    expiredTime: h.expiredTime,
    deliverAtMs: ctx.deliverAtMs,
    deliverCount: 0,
    deliverLimit: h.deliverLimit,
    nextDeliverAtMs,
    succGroups: [],
    failGroups: [],
    txCheckCount: 0,
  }
}

export function createPersistentHandler(broker: BrokerContext): Handler<PublishContext> {
  // a plain promise chain, not an async function: this runs for every message, and a suspended
  // async function costs several objects more than one `then`
  return function persistent(ctx) {
    const h = ctx.header
    const { opaque } = ctx.frame
    if (h.fly) {
      if (!h.commit) {
        broker.stats.count('rejected')
        replyStoreAck(ctx.conn, opaque, h.messageId, false, 'FLY MUST BE COMMITTED !')
        return STOP
      }
      if (ctx.deliverAtMs > 0) {
        broker.stats.count('rejected')
        replyStoreAck(ctx.conn, opaque, h.messageId, false, 'FLY CANNOT BE DELAYED ! a fly message is never stored, so it cannot wait for deliverAt')
        return STOP
      }
      replyStoreAck(ctx.conn, opaque, h.messageId, true, 'FLY NO NEED SAVE')
      broker.deliver(toStoredMessage(ctx, ctx.receivedAtMs), { fly: true })
      return STOP
    }
    const now = ctx.receivedAtMs
    // committed: due at deliverAt (or now); undecided: first up for a check-back
    const message = toStoredMessage(ctx, h.commit ? Math.max(now, ctx.deliverAtMs) : now + broker.settings.txCheck.firstDelayMs)
    const saved = broker.store.save(message)
    // see MessageStore.deliverWhileSaving: the ack below still waits for the save
    const deliveredEarly = dueOnArrival(message) && broker.store.deliverWhileSaving?.(message) === true
    if (deliveredEarly) broker.deliver(message)
    return saved.then(() => {
      broker.stats.stored(h.topic, h.groupId)
      const storedAt = broker.clock.now()
      replyStoreAck(ctx.conn, opaque, h.messageId, true, `Store Result true Cost:${storedAt - now}`)
      if (deliveredEarly) return undefined
      if (message.commit && message.nextDeliverAtMs <= storedAt) broker.deliver(message)
      else broker.schedule({ topic: message.topic, messageId: message.messageId, nextDeliverAtMs: message.nextDeliverAtMs })
      return undefined
    }, (err: unknown) => {
      const code = (err as { code?: string }).code
      broker.stats.count('rejected')
      broker.logger.error({ code, err: (err as Error).message, messageId: h.messageId }, 'store refused a message')
      const feedback = code === ErrorCodes.STORE_FULL
        ? `Store Result KiteQ OverFlow: ${(err as Error).message}`
        : `Store Result false: ${(err as Error).message}`
      replyStoreAck(ctx.conn, opaque, h.messageId, false, feedback)
      return STOP
    })
  }
}
