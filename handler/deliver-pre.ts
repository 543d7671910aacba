/**
 * First delivery stage: a message past its expiry or delivery limit goes to the dead-letter table;
 * otherwise find the groups bound to it that have not received it yet. None left: it is done.
 */
import { STOP, type Handler } from '../pipe/pipeline.ts'
import type { BrokerContext, DeliveryContext } from './context.ts'
import { finishDelivered, moveToDeadLetter } from './deliver-outcome.ts'

export function createDeliverPreHandler(broker: BrokerContext): Handler<DeliveryContext> {
  return async function deliverPre(ctx) {
    const m = ctx.message
    if (!ctx.fly) {
      const nowSec = Math.floor(broker.clock.now() / 1000)
      if (m.expiredTime <= nowSec) {
        await moveToDeadLetter(broker, m, `expired after ${m.deliverCount} delivery attempts`)
        return STOP
      }
      if (m.deliverCount >= m.deliverLimit) {
        await moveToDeadLetter(broker, m, `deliverLimit ${m.deliverLimit} reached`)
        return STOP
      }
    }
    ctx.routes = broker.exchanger.routes(m.topic, m.messageType, m.succGroups)
    if (ctx.routes.length === 0) {
      await finishDelivered(broker, ctx)
      return STOP
    }
    return undefined
  }
}
