/** The client's public data types: what goes out, what comes in, what the listener answers. */
import type { Header } from '../protocol/header.ts'

export interface OutgoingMessage<B> {
  topic: string
  messageType: string
  body: B
  /** Default: a fresh messageId() (32 lowercase hex characters, which KiteQ brokers require). */
  messageId?: string
  properties?: Record<string, string>
  /** Unix SECONDS; default -1 (the broker clamps it to its maximum, 7 days in KiteQ). */
  expiredTime?: number
  /** Default 100. */
  deliverLimit?: number
  /** Default true; sendTx* always send false. */
  commit?: boolean
  /** Default false. */
  fly?: boolean
  /** Default false: compress the body as kiteq-client-go does (see snappy.ts). */
  snappy?: boolean
  /** Deliver no earlier than this (a Date, or epoch milliseconds): Header field 12. */
  deliverAt?: Date | number
  /** deliverAt = now + delayMs. Giving both is an INVALID_ARGUMENT. */
  delayMs?: number
}

export interface SendResult {
  messageId: string
  /** The broker's MessageStoreAck feedback. */
  feedback: string
}

export interface TxSendResult extends SendResult {
  committed: boolean
}

export interface ReceivedMessage {
  /** As delivered (or, for a SentMessage, as sent). */
  header: Header
  messageId: string
  topic: string
  messageType: string
  /** The publishing group (header.groupId). */
  publisherGroup: string
  properties: Record<string, string>
  /** Decompressed when header.snappy is set. */
  body: string | Buffer
  /** True for a string message (cmd 0x12). */
  isString: boolean
  /** Epoch milliseconds (Header field 12), when the message was scheduled. */
  deliverAt?: number
}

/** What doTransaction sees: the header as sent, the body as the application gave it. */
export type SentMessage = ReceivedMessage

/** Runs the local transaction of a sendTx*: exactly `true` commits; anything else (undefined too) or a throw rolls back. */
export type DoTransaction = (message: SentMessage) => boolean | Promise<boolean>

export type TxDecision = 'commit' | 'rollback' | 'unknown'

/** A broker asking how the local transaction of an uncommitted message ended. */
export interface TxCheck {
  messageId: string
  topic: string
  messageType: string
  header: Header
  properties: Record<string, string>
}

export interface MessageListener {
  /** Exactly `true` acknowledges the delivery; false, anything else, or a throw asks for redelivery. */
  onMessage(message: ReceivedMessage): boolean | Promise<boolean>
  /**
   * How the local transaction of a message this group sent ended, when the broker did not hear
   * (its TX_ACK was lost, or the producer stopped before sending it). Without it the client answers
   * 'unknown', as does a throw: the broker asks again, and dead-letters the message after its
   * check budget. (kiteq-client-go's default listener answers 'commit', which can deliver a message
   * whose transaction was rolled back.)
   */
  onMessageCheck?(tx: TxCheck): TxDecision | Promise<TxDecision>
}

export interface ScheduleOutcome {
  result: 'cancelled' | 'rescheduled' | 'already-delivered' | 'not-found' | 'refused'
  feedback: string
  /** Epoch milliseconds now in force, after a reschedule. */
  deliverAt?: number
}
