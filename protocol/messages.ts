/**
 * KiteQ's protobuf messages (kite_remoting.proto, proto2, package `protocol`), with the field
 * numbers, types and labels of kiteq-common. The schema is also in ./kite_remoting.proto.
 */
import type { Header } from './header.ts'
import { defineMessage, type FieldSpec } from './schema.ts'
import { ProtoReader } from './wire.ts'

const req = (no: number, name: string, kind: FieldSpec['kind']): FieldSpec => ({ no, name, kind, required: true })
const opt = (no: number, name: string, kind: FieldSpec['kind']): FieldSpec => ({ no, name, kind, required: false })

interface Unknown {
  /** Raw bytes of fields this version does not know, re-emitted on encode. */
  unknownFields?: Buffer
}

/** HeartBeat => version:1 int64 (req) */
export interface HeartBeat extends Unknown { version: number }
export const HeartBeatCodec = defineMessage<HeartBeat>('HeartBeat', [req(1, 'version', 'int64')])

/** ConnMeta => groupId:1 string (req) | secretKey:2 string (req) | warmingupSec:3 int32 (opt, default 0) */
export interface ConnMeta extends Unknown { groupId: string; secretKey: string; warmingupSec?: number }
export const ConnMetaCodec = defineMessage<ConnMeta>('ConnMeta', [
  req(1, 'groupId', 'string'), req(2, 'secretKey', 'string'), opt(3, 'warmingupSec', 'int32'),
])

/** ConnAuthAck => status:1 bool (req) | feedback:2 string (req) */
export interface ConnAuthAck extends Unknown { status: boolean; feedback: string }
export const ConnAuthAckCodec = defineMessage<ConnAuthAck>('ConnAuthAck', [
  req(1, 'status', 'bool'), req(2, 'feedback', 'string'),
])

/** MessageStoreAck => messageId:1 string (req) | status:2 bool (req) | feedback:3 string (req) */
export interface MessageStoreAck extends Unknown { messageId: string; status: boolean; feedback: string }
export const MessageStoreAckCodec = defineMessage<MessageStoreAck>('MessageStoreAck', [
  req(1, 'messageId', 'string'), req(2, 'status', 'bool'), req(3, 'feedback', 'string'),
])

/**
 * DeliverAck => messageId:1 | topic:2 | messageType:3 | groupId:4 (all string, req) | status:5 bool (req)
 *             | feedback:6 string (opt). groupId is the message's publisher group, as KiteQ sends it.
 */
export interface DeliverAck extends Unknown {
  messageId: string
  topic: string
  messageType: string
  groupId: string
  status: boolean
  feedback?: string
}
export const DeliverAckCodec = defineMessage<DeliverAck>('DeliverAck', [
  req(1, 'messageId', 'string'), req(2, 'topic', 'string'), req(3, 'messageType', 'string'),
  req(4, 'groupId', 'string'), req(5, 'status', 'bool'), opt(6, 'feedback', 'string'),
])

/**
 * DeliverAck.status alone, for the broker, which reads nothing else of an ack: skipping the other
 * fields spares making four strings per delivery. A missing status reads as false (not delivered).
 */
export function deliverAckStatus(body: Buffer): boolean {
  const reader = new ProtoReader(body)
  let status = false
  while (!reader.done) {
    const tag = reader.tag()
    if (tag === DELIVER_ACK_STATUS_TAG) status = reader.bool()
    else reader.skip(tag)
  }
  return status
}
/** Field 5, varint wire type. */
const DELIVER_ACK_STATUS_TAG = (5 << 3) | 0

/** TxACKPacket => header:1 Header (req) | status:2 int32 (req; 0 unknown, 1 commit, 2 rollback) | feedback:3 string (req) */
export interface TxACKPacket extends Unknown { header: Header; status: number; feedback: string }
export const TxACKPacketCodec = defineMessage<TxACKPacket>('TxACKPacket', [
  req(1, 'header', 'header'), req(2, 'status', 'int32'), req(3, 'feedback', 'string'),
])

/** BytesMessage => header:1 Header (req) | body:2 bytes (req) */
export interface BytesMessage extends Unknown { header: Header; body: Buffer }
export const BytesMessageCodec = defineMessage<BytesMessage>('BytesMessage', [
  req(1, 'header', 'header'), req(2, 'body', 'bytes'),
])

/** StringMessage => header:1 Header (req) | body:2 string (req) */
export interface StringMessage extends Unknown { header: Header; body: string }
export const StringMessageCodec = defineMessage<StringMessage>('StringMessage', [
  req(1, 'header', 'header'), req(2, 'body', 'string'),
])

/**
 * The broker never looks inside bodies, and a string body is the same length-delimited field on the
 * wire as a bytes body, so it handles both message kinds as BytesMessage: no UTF-8 decode and
 * re-encode on the way through.
 */
export const RawMessageCodec = BytesMessageCodec

/**
 * The same message with its header already encoded: the broker encodes a header once, after
 * check-message, and from then on the store and every delivery copy those bytes. Wire-identical to
 * BytesMessage (a nested message and a bytes field are both length-delimited).
 */
export interface PreencodedMessage extends Unknown { header: Buffer; body: Buffer }
export const PreencodedMessageCodec = defineMessage<PreencodedMessage>('BytesMessage', [
  req(1, 'header', 'bytes'), req(2, 'body', 'bytes'),
])
