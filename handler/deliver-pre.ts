/**
 * First delivery stage: a message past its expiry or delivery limit goes to the dead-letter table;
 * otherwise find the groups bound to it that have not received it yet. None left: it is done.
 */
import { STOP, type Handler, type Stop } from '../pipe/pipeline.ts'
import type { BrokerContext, DeliveryContext } from './context.ts'
import { finishDelivered, moveToDeadLetter } from './deliver-outcome.ts'

export function createDeliverPreHandler(broker: BrokerContext): Handler<DeliveryContext> {
  // synchronous unless the message leaves the live set: most rounds go straight on to the sends
  return function deliverPre(ctx) {
    const m = ctx.message
    if (!ctx.fly) {
      const nowSec = Math.floor(ctx.nowMs / 1000)
      if (m.expiredTime <= nowSec) return stopAfter(moveToDeadLetter(broker, m, `expired after ${m.deliverCount} delivery attempts`))
      if (m.deliverCount >= m.deliverLimit) return stopAfter(moveToDeadLetter(broker, m, `deliverLimit ${m.deliverLimit} reached`))
    }
    ctx.routes = broker.exchanger.routes(m.topic, m.messageType, m.succGroups)
    if (ctx.routes.length === 0) return stopAfter(finishDelivered(broker, ctx))
    return undefined
  }
}

function stopAfter(work: Promise<unknown> | undefined): Stop | Promise<Stop> {
  return work === undefined ? STOP : work.then(() => STOP)
}
