/**
 * What a fresh connection to a broker must do before it carries messages: authenticate, then (in
 * standalone and file mode, where no registry tells the broker about us) send our bindings. It runs
 * on every reconnection, so a restarted broker learns the bindings again.
 */
import { Cmd } from '../protocol/commands.ts'
import { ErrorCodes, KiteQError } from '../protocol/errors.ts'
import { BindAckCodec, BindRequestCodec } from '../protocol/extensions.ts'
import type { Logger } from '../protocol/logger.ts'
import { ConnAuthAckCodec, ConnMetaCodec } from '../protocol/messages.ts'
import type { Connection } from '../remoting/connection.ts'

export interface HandshakeParams {
  groupId: string
  secretKey: string
  warmingupSec: number
  /** KiteQ binding JSON to send with BIND, or undefined to send none. */
  bindingsJson: string | undefined
  /** Per request (KiteQ waits 5 s for CONN_AUTH). */
  timeoutMs: number
  logger: Logger
}

export async function handshake(connection: Connection, p: HandshakeParams): Promise<void> {
  // warmingupSec is always written, 0 included: kiteq-client-go sets the field unconditionally.
  const authFrame = await connection.requestMessage(
    Cmd.CONN_META, ConnMetaCodec, { groupId: p.groupId, secretKey: p.secretKey, warmingupSec: p.warmingupSec },
    Cmd.CONN_AUTH, p.timeoutMs,
  )
  const auth = ConnAuthAckCodec.decode(authFrame.body)
  if (!auth.status) {
    throw new KiteQError(ErrorCodes.AUTH, auth.feedback === '' ? `${connection.label} refused the connection` : auth.feedback)
  }
  if (p.bindingsJson === undefined) return
  let bindFrame
  try {
    bindFrame = await connection.requestMessage(Cmd.BIND, BindRequestCodec, { bindings: p.bindingsJson }, Cmd.BIND_ACK, p.timeoutMs)
  } catch (err) {
    // A KiteQ (Go) broker ignores the unknown BIND command and never answers: that must not keep
    // the client from using it, since such a broker takes bindings from its registry instead.
    if ((err as KiteQError).code !== ErrorCodes.TIMEOUT) throw err
    p.logger.warn({ broker: connection.label }, 'no answer to BIND: the broker does not take bindings over the wire')
    return
  }
  const bound = BindAckCodec.decode(bindFrame.body)
  if (!bound.status) p.logger.warn({ broker: connection.label, feedback: bound.feedback }, 'broker refused our bindings')
}
