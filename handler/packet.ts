/**
 * The entry for every inbound frame: picks the chain for its command. Chains are compiled once,
 * here, when the broker starts. A body that does not decode closes its connection with the reason
 * logged (other clients are untouched); any other handler failure is logged with its code.
 */
import { compilePipeline, type Pipeline } from '../pipe/pipeline.ts'
import { Cmd, cmdName } from '../protocol/commands.ts'
import { ProtocolError } from '../protocol/errors.ts'
import type { Frame } from '../protocol/frame.ts'
import { UnderWay } from '../protocol/under-way.ts'
import type { Connection } from '../remoting/connection.ts'
import { createAcceptHandler } from './accept.ts'
import { createAccessHandler } from './access.ts'
import { createBindHandler } from './bind.ts'
import { createCheckMessageHandler } from './check-message.ts'
import type { BrokerContext, PacketContext, PublishContext } from './context.ts'
import { createHeartbeatHandler } from './heartbeat.ts'
import { createPersistentHandler } from './persistent.ts'
import { createScheduleHandler } from './schedule.ts'
import { createTxAckHandler } from './tx-ack.ts'
import { createValidateHandler } from './validate.ts'

export interface PacketDispatcher {
  onFrame(frame: Frame, conn: Connection): void
  /** Resolves once no packet's chain is under way (a publish waiting for its store write, say). */
  settled(): Promise<void>
}

export function createPacketDispatcher(broker: BrokerContext): PacketDispatcher {
  const onError = (err: unknown, ctx: PacketContext, stage: string) => {
    if (err instanceof ProtocolError) {
      broker.logger.warn({ conn: ctx.conn.label, stage, code: err.code, err: err.message }, 'malformed packet, closing connection')
      ctx.conn.close(err)
      return
    }
    const code = (err as { code?: string }).code
    broker.logger.error({ conn: ctx.conn.label, stage, code, err: (err as Error).message }, 'handler failed')
  }
  const validate = createValidateHandler(broker)
  const chains = new Map<number, Pipeline<PacketContext>>([
    [Cmd.CONN_META, compilePipeline('conn-meta', [createAccessHandler(broker)], onError)],
    [Cmd.HEARTBEAT, compilePipeline('heartbeat', [validate, createHeartbeatHandler()], onError)],
    [Cmd.TX_ACK, compilePipeline('tx-ack', [validate, createTxAckHandler(broker)], onError)],
    [Cmd.BIND, compilePipeline('bind', [validate, createBindHandler(broker)], onError)],
    [Cmd.SCHEDULE, compilePipeline('schedule', [validate, createScheduleHandler(broker)], onError)],
  ])
  const publish = compilePipeline<PublishContext>('publish', [
    validate, createAcceptHandler(broker), createCheckMessageHandler(broker), createPersistentHandler(broker),
  ], onError)
  chains.set(Cmd.BYTES_MESSAGE, publish as Pipeline<PacketContext>)
  chains.set(Cmd.STRING_MESSAGE, publish as Pipeline<PacketContext>)

  const underWay = new UnderWay()

  function onFrame(frame: Frame, conn: Connection): void {
    const chain = chains.get(frame.cmdType)
    if (chain === undefined) {
      // KiteQ ignores commands it does not know; so do we (a late DELIVER_ACK lands here too)
      broker.logger.debug({ conn: conn.label, cmd: cmdName(frame.cmdType), opaque: frame.opaque }, 'unhandled packet ignored')
      return
    }
    // every field present from the start, so all contexts share one shape
    const ctx: PublishContext = { conn, frame, session: undefined, header: undefined!, body: undefined!, receivedAtMs: 0, deliverAtMs: 0 }
    underWay.begin()
    chain.run(ctx, underWay.end)
  }

  return {
    onFrame,
    settled: () => underWay.idle(),
  }
}
