// The protocol layer's public surface, listed by name.
export { Cmd, FIRST_EXTENSION_CMD, TxStatus, cmdName, isMessageCmd } from './commands.ts'
export type { CmdType, TxStatusValue } from './commands.ts'
export {
  KiteQError, ProtocolError, TimeoutError, ConnectionClosedError, BackpressureError, ErrorCodes, isKiteQError,
} from './errors.ts'
export type { ErrorCode, KiteQErrorOptions } from './errors.ts'
export { DEFAULT_MAX_BODY_BYTES, FRAME_HEADER_BYTES, detachFrame, encodeFrame, encodePacket, writeFrameHeader } from './frame.ts'
export type { Frame } from './frame.ts'
export { FrameDecoder } from './frame-decoder.ts'
export type { FrameDecoderOptions } from './frame-decoder.ts'
export { decodeHeader, getProperty, headerSize, writeHeader } from './header.ts'
export type { Entry, Header } from './header.ts'
export {
  BytesMessageCodec, ConnAuthAckCodec, ConnMetaCodec, DeliverAckCodec, HeartBeatCodec, MessageStoreAckCodec,
  RawMessageCodec, StringMessageCodec, TxACKPacketCodec, deliverAckStatus,
} from './messages.ts'
export type {
  BytesMessage, ConnAuthAck, ConnMeta, DeliverAck, HeartBeat, MessageStoreAck, StringMessage, TxACKPacket,
} from './messages.ts'
export {
  BindAckCodec, BindRequestCodec, ScheduleAckCodec, ScheduleAction, ScheduleRequestCodec, ScheduleResult,
} from './extensions.ts'
export type {
  BindAck, BindRequest, ScheduleAck, ScheduleActionValue, ScheduleRequest, ScheduleResultValue,
} from './extensions.ts'
export { silentLogger } from './logger.ts'
export type { LogFn, Logger } from './logger.ts'
export { codecFor } from './packet.ts'
export { defineMessage } from './schema.ts'
export type { FieldKind, FieldSpec, MessageCodec } from './schema.ts'
