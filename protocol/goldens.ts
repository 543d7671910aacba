/**
 * Golden frames: the worked hex examples of KiteQ's wire format (kiteq-spec §1.5, computed from the
 * Go proto definitions as golang/protobuf marshals them). Used by tests and benchmarks.
 */
import { Cmd } from './commands.ts'
import type { Header } from './header.ts'
import type { MessageCodec } from './schema.ts'
import {
  ConnAuthAckCodec, ConnMetaCodec, DeliverAckCodec, HeartBeatCodec, MessageStoreAckCodec, StringMessageCodec,
} from './messages.ts'

export const GOLDEN_MESSAGE_ID = '0123456789abcdef0123456789abcdef'
const ID_HEX = Buffer.from(GOLDEN_MESSAGE_ID, 'ascii').toString('hex')

export const goldenHeader: Header = {
  messageId: GOLDEN_MESSAGE_ID,
  topic: 'trade',
  messageType: 'pay-succ',
  expiredTime: 1700086400,
  deliverLimit: 100,
  groupId: 'go-kite-test',
  commit: true,
  fly: false,
  properties: [],
  createTime: 1700000000,
}

export interface GoldenFrame {
  name: string
  opaque: number
  cmdType: number
  codec: MessageCodec<any>
  message: object
  hex: string
}

const h = (s: string) => s.replace(/\s+/g, '')

export const goldenFrames: readonly GoldenFrame[] = [
  {
    name: 'HeartBeat',
    opaque: 1,
    cmdType: Cmd.HEARTBEAT,
    codec: HeartBeatCodec,
    message: { version: 1700000000 },
    hex: h('00000001 01 0000 0000000000000000 00000006 0880e2cfaa06'),
  },
  {
    name: 'ConnMeta',
    opaque: 2,
    cmdType: Cmd.CONN_META,
    codec: ConnMetaCodec,
    message: { groupId: 's-mts-test', secretKey: '123456', warmingupSec: 0 },
    hex: h(`00000002 02 0000 0000000000000000 00000016
            0a0a732d6d74732d74657374 1206313233343536 1800`),
  },
  {
    name: 'ConnAuthAck',
    opaque: 2,
    cmdType: Cmd.CONN_AUTH,
    codec: ConnAuthAckCodec,
    message: { status: true, feedback: 'Auth Succ' },
    hex: h('00000002 03 0000 0000000000000000 0000000d 0801 1209417574682053756363'),
  },
  {
    name: 'StringMessage',
    opaque: 7,
    cmdType: Cmd.STRING_MESSAGE,
    codec: StringMessageCodec,
    message: { header: goldenHeader, body: 'hello' },
    hex: h(`00000007 12 0000 0000000000000000 0000005c
            0a53
              0a20 ${ID_HEX}
              1205 7472616465
              1a08 7061792d73756363
              20 8085d5aa06
              28 64
              320c 676f2d6b6974652d74657374
              38 01
              40 00
              50 80e2cfaa06
            1205 68656c6c6f`),
  },
  {
    name: 'MessageStoreAck',
    opaque: 7,
    cmdType: Cmd.MESSAGE_STORE_ACK,
    codec: MessageStoreAckCodec,
    message: { messageId: GOLDEN_MESSAGE_ID, status: true, feedback: 'Store Result true Cost:0' },
    hex: h(`00000007 04 0000 0000000000000000 0000003e
            0a20 ${ID_HEX} 1001 1a18 ${Buffer.from('Store Result true Cost:0').toString('hex')}`),
  },
  {
    name: 'DeliverAck',
    opaque: 9,
    cmdType: Cmd.DELIVER_ACK,
    codec: DeliverAckCodec,
    message: {
      messageId: GOLDEN_MESSAGE_ID, topic: 'trade', messageType: 'pay-succ', groupId: 'go-kite-test', status: true, feedback: '',
    },
    hex: h(`00000009 05 0000 0000000000000000 00000045
            0a20 ${ID_HEX} 1205 7472616465 1a08 7061792d73756363 220c 676f2d6b6974652d74657374 2801 3200`),
  },
]

/** Header.expiredTime = -1: int64 negatives are always the 10-byte varint. */
export const goldenExpiredMinusOne = h('20 ffffffffffffffffff01')
/** A property Entry{"tradeno","42"} inside a Header. */
export const goldenPropertyEntry = h('4a0d 0a07 74726164656e6f 1202 3432')
