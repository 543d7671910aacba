/**
 * SCHEDULE (KiteQ-TS extension 0x22): cancel or reschedule a stored message by topic and id. The
 * answer says exactly what happened: cancelled / rescheduled, already delivered, not found, or
 * refused with a reason.
 */
import type { Handler } from '../pipe/pipeline.ts'
import { Cmd } from '../protocol/commands.ts'
import { ScheduleAckCodec, ScheduleAction, ScheduleRequestCodec, ScheduleResult } from '../protocol/extensions.ts'
import type { BrokerContext, PacketContext } from './context.ts'

export interface ScheduleSettings {
  /** How far ahead a reschedule may move a message. */
  maxDelayMs: number
}

export function createScheduleHandler(broker: BrokerContext, settings: ScheduleSettings): Handler<PacketContext> {
  return async function schedule(ctx) {
    const req = ScheduleRequestCodec.decode(ctx.frame.body)
    const answer = (result: number, feedback: string, deliverAt?: number) =>
      ctx.conn.sendMessage(ctx.frame.opaque, Cmd.SCHEDULE_ACK, ScheduleAckCodec, {
        messageId: req.messageId, result, feedback, ...(deliverAt === undefined ? {} : { deliverAt }),
      })
    const { topic, messageId } = req
    const message = await broker.store.get(topic, messageId)
    if (message === undefined) {
      if (broker.wasDelivered(topic, messageId)) answer(ScheduleResult.ALREADY_DELIVERED, 'already delivered to every bound group')
      else answer(ScheduleResult.NOT_FOUND, `no message ${messageId} on topic '${topic}' on this broker`)
      return
    }
    if (message.deliverCount > 0 || message.succGroups.length > 0) {
      answer(ScheduleResult.REFUSED, `delivery already started (${message.deliverCount} attempts): it can no longer be cancelled or moved`)
      return
    }
    if (req.action === ScheduleAction.CANCEL) {
      await broker.store.delete(topic, messageId)
      broker.logger.info({ topic, messageId, group: ctx.session?.groupId }, 'message cancelled')
      answer(ScheduleResult.CANCELLED, 'cancelled')
      return
    }
    if (req.action !== ScheduleAction.RESCHEDULE || req.deliverAt === undefined) {
      answer(ScheduleResult.REFUSED, `unknown action ${req.action} (1 cancel, 2 reschedule with deliverAt)`)
      return
    }
    const now = broker.clock.now()
    if (req.deliverAt > now + settings.maxDelayMs) {
      answer(ScheduleResult.REFUSED, `deliverAt ${req.deliverAt} is more than ${settings.maxDelayMs} ms ahead`)
      return
    }
    if (Math.floor(req.deliverAt / 1000) >= message.expiredTime) {
      answer(ScheduleResult.REFUSED, `deliverAt ${req.deliverAt} is not before the message's expiry (${message.expiredTime})`)
      return
    }
    const at = Math.max(now, req.deliverAt)
    await broker.store.reschedule(topic, messageId, at)
    if (message.commit) broker.schedule({ topic, messageId, nextDeliverAtMs: at })
    // an undecided transaction keeps its check-back time; deliverAt applies once it is committed
    else await broker.store.updateDelivery(topic, messageId, message)
    answer(ScheduleResult.RESCHEDULED, 'rescheduled', at)
  }
}
