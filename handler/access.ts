/**
 * CONN_META → CONN_AUTH. KiteQ accepted every group and ignored secretKey; here, when the operator
 * configures secrets, a group must present its own (compared in constant time).
 */
import { timingSafeEqual } from 'node:crypto'
import { STOP, type Handler } from '../pipe/pipeline.ts'
import { Cmd } from '../protocol/commands.ts'
import { ConnAuthAckCodec, ConnMetaCodec } from '../protocol/messages.ts'
import type { BrokerContext, PacketContext } from './context.ts'
import { refuseConnection } from './replies.ts'

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given)
  const b = Buffer.from(expected)
  return a.length === b.length && timingSafeEqual(a, b)
}

export function createAccessHandler(broker: BrokerContext): Handler<PacketContext> {
  return function access(ctx) {
    const meta = ConnMetaCodec.decode(ctx.frame.body)
    const secrets = broker.settings.secrets
    if (secrets !== undefined) {
      const expected = secrets.get(meta.groupId)
      const refusal =
        expected === undefined
          ? `Auth Failed: group '${meta.groupId}' is not allowed on this broker`
          : sameSecret(meta.secretKey, expected) ? undefined : `Auth Failed: wrong secretKey for group '${meta.groupId}'`
      if (refusal !== undefined) {
        broker.logger.warn({ conn: ctx.conn.label, group: meta.groupId, code: 'KITEQ_ERR_AUTH' }, refusal)
        refuseConnection(ctx.conn, ctx.frame.opaque, refusal)
        return STOP
      }
    }
    const session = {
      connection: ctx.conn,
      groupId: meta.groupId,
      warmingupSec: meta.warmingupSec ?? 0,
      authAtMs: broker.clock.now(),
      remote: ctx.conn.label,
    }
    const known = broker.sessions.get(ctx.conn) !== undefined
    broker.sessions.add(session)
    ctx.session = session
    if (!known) broker.logger.info({ conn: ctx.conn.label, group: meta.groupId, warmingupSec: session.warmingupSec }, 'connection open')
    ctx.conn.sendMessage(ctx.frame.opaque, Cmd.CONN_AUTH, ConnAuthAckCodec, { status: true, feedback: 'Auth Succ' })
    return undefined
  }
}
