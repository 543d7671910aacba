/** HEARTBEAT is echoed with the same opaque and version. */
import type { Handler } from '../pipe/pipeline.ts'
import { Cmd } from '../protocol/commands.ts'
import { HeartBeatCodec } from '../protocol/messages.ts'
import type { PacketContext } from './context.ts'

export function createHeartbeatHandler(): Handler<PacketContext> {
  return function heartbeat(ctx) {
    const { version } = HeartBeatCodec.decode(ctx.frame.body)
    ctx.conn.sendMessage(ctx.frame.opaque, Cmd.HEARTBEAT, HeartBeatCodec, { version })
  }
}
