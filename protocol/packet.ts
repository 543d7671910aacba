/** Which codec reads the body of each command. */
import { Cmd } from './commands.ts'
import {
  BindAckCodec, BindRequestCodec, ScheduleAckCodec, ScheduleRequestCodec,
} from './extensions.ts'
import {
  BytesMessageCodec, ConnAuthAckCodec, ConnMetaCodec, DeliverAckCodec, HeartBeatCodec, MessageStoreAckCodec,
  StringMessageCodec, TxACKPacketCodec,
} from './messages.ts'
import type { MessageCodec } from './schema.ts'

const codecs = new Map<number, MessageCodec<any>>([
  [Cmd.HEARTBEAT, HeartBeatCodec],
  [Cmd.CONN_META, ConnMetaCodec],
  [Cmd.CONN_AUTH, ConnAuthAckCodec],
  [Cmd.MESSAGE_STORE_ACK, MessageStoreAckCodec],
  [Cmd.DELIVER_ACK, DeliverAckCodec],
  [Cmd.TX_ACK, TxACKPacketCodec],
  [Cmd.BYTES_MESSAGE, BytesMessageCodec],
  [Cmd.STRING_MESSAGE, StringMessageCodec],
  [Cmd.BIND, BindRequestCodec],
  [Cmd.BIND_ACK, BindAckCodec],
  [Cmd.SCHEDULE, ScheduleRequestCodec],
  [Cmd.SCHEDULE_ACK, ScheduleAckCodec],
])

/** The codec of a command's body, or undefined for a command this version does not know. */
export function codecFor(cmdType: number): MessageCodec<any> | undefined {
  return codecs.get(cmdType)
}
