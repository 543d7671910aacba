/**
 * SCHEDULE (KiteQ-TS extension 0x22): cancel or reschedule a stored message by topic and id. The
 * answer says exactly what happened: cancelled / rescheduled, already delivered, not found, or
 * refused with a reason.
 */
import type { Handler } from '../pipe/pipeline.ts'
import { Cmd } from '../protocol/commands.ts'
import { ScheduleAckCodec, ScheduleAction, ScheduleRequestCodec, ScheduleResult } from '../protocol/extensions.ts'
import type { BrokerContext, PacketContext } from './context.ts'
import { cancelMessage, rescheduleMessage, type ScheduleOutcome } from './message-ops.ts'

const wireResult: Record<ScheduleOutcome['result'], number> = {
  cancelled: ScheduleResult.CANCELLED,
  rescheduled: ScheduleResult.RESCHEDULED,
  'already-delivered': ScheduleResult.ALREADY_DELIVERED,
  'not-found': ScheduleResult.NOT_FOUND,
  refused: ScheduleResult.REFUSED,
}

export function createScheduleHandler(broker: BrokerContext): Handler<PacketContext> {
  return async function schedule(ctx) {
    const req = ScheduleRequestCodec.decode(ctx.frame.body)
    let outcome: ScheduleOutcome
    if (req.action === ScheduleAction.CANCEL) outcome = await cancelMessage(broker, req.topic, req.messageId)
    else if (req.action === ScheduleAction.RESCHEDULE && req.deliverAt !== undefined) {
      outcome = await rescheduleMessage(broker, req.topic, req.messageId, req.deliverAt)
    } else outcome = { result: 'refused', feedback: `unknown action ${req.action} (1 cancel, 2 reschedule with deliverAt)` }
    ctx.conn.sendMessage(ctx.frame.opaque, Cmd.SCHEDULE_ACK, ScheduleAckCodec, {
      messageId: req.messageId,
      result: wireResult[outcome.result],
      feedback: outcome.feedback,
      ...(outcome.deliverAt === undefined ? {} : { deliverAt: outcome.deliverAt }),
    })
  }
}
