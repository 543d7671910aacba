// The client's public surface, listed by name. The binding helpers, the Header type and the error
// root are re-exported so an application needs only this entry point.
export { KiteQClient } from './kiteq-client.ts'
export type { KiteQClientEvents } from './kiteq-client.ts'
export { clientDefaults } from './options.ts'
export type { KiteQClientOptions } from './options.ts'
export { messageId, outgoingDefaults } from './outgoing.ts'
export { snappyDecode, snappyDecodeString, snappyEncode, snappyEncodeString } from './snappy.ts'
export type {
  DoTransaction, MessageListener, OutgoingMessage, ReceivedMessage, ScheduleOutcome, SendResult, SentMessage, TxCheck,
  TxDecision, TxSendResult,
} from './types.ts'
export { BindType, bindDirect, bindFanout, bindRegx } from '../binding/binding.ts'
export type { Binding } from '../binding/binding.ts'
export { ErrorCodes, KiteQError, isKiteQError } from '../protocol/errors.ts'
export type { ErrorCode } from '../protocol/errors.ts'
export type { Header } from '../protocol/header.ts'
export type { Logger } from '../protocol/logger.ts'
