/** Anything but CONN_META before a successful handshake: ConnAuthAck(false) with opaque 0, and close. */
import { STOP, type Handler } from '../pipe/pipeline.ts'
import type { BrokerContext, PacketContext } from './context.ts'
import { refuseConnection } from './replies.ts'

export function createValidateHandler(broker: BrokerContext): Handler<PacketContext> {
  return function validate(ctx) {
    ctx.session = broker.sessions.get(ctx.conn)
    if (ctx.session !== undefined) return undefined
    broker.logger.warn({ conn: ctx.conn.label, cmdType: ctx.frame.cmdType, code: 'KITEQ_ERR_AUTH' }, 'packet before handshake, closing')
    refuseConnection(ctx.conn, 0, 'Unauthorized,Connection broken!')
    return STOP
  }
}
