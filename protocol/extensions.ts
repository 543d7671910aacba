/**
 * KiteQ-TS protocol extensions (commands 0x20 and up). KiteQ brokers and clients ignore unknown
 * command types, so these never disturb them. See ./README.md for the exchange each one belongs to.
 */
import { defineMessage, type FieldSpec } from './schema.ts'

const req = (no: number, name: string, kind: FieldSpec['kind']): FieldSpec => ({ no, name, kind, required: true })
const opt = (no: number, name: string, kind: FieldSpec['kind']): FieldSpec => ({ no, name, kind, required: false })

/**
 * BIND (0x20, client → broker) => bindings:1 string (req): a JSON array of KiteQ bindings, exactly
 * the document KiteQ writes to /kiteq/sub/{topic}/{groupId}-bind. Replaces every binding of the
 * connection's group on this broker for the topics it names.
 */
export interface BindRequest { bindings: string; unknownFields?: Buffer }
export const BindRequestCodec = defineMessage<BindRequest>('BindRequest', [req(1, 'bindings', 'string')])

/** BIND_ACK (0x21, broker → client, same opaque) => status:1 bool (req) | feedback:2 string (req) */
export interface BindAck { status: boolean; feedback: string; unknownFields?: Buffer }
export const BindAckCodec = defineMessage<BindAck>('BindAck', [req(1, 'status', 'bool'), req(2, 'feedback', 'string')])

export const ScheduleAction = { CANCEL: 1, RESCHEDULE: 2 } as const
export type ScheduleActionValue = (typeof ScheduleAction)[keyof typeof ScheduleAction]

/**
 * SCHEDULE (0x22, client → broker) => topic:1 string (req) | messageId:2 string (req)
 *   | action:3 int32 (req; 1 cancel, 2 reschedule) | deliverAt:4 int64 (opt; epoch ms, for reschedule)
 */
export interface ScheduleRequest {
  topic: string
  messageId: string
  action: number
  deliverAt?: number
  unknownFields?: Buffer
}
export const ScheduleRequestCodec = defineMessage<ScheduleRequest>('ScheduleRequest', [
  req(1, 'topic', 'string'), req(2, 'messageId', 'string'), req(3, 'action', 'int32'), opt(4, 'deliverAt', 'int64'),
])

/** What a SCHEDULE request did: exactly one of these. */
export const ScheduleResult = {
  CANCELLED: 1,
  RESCHEDULED: 2,
  ALREADY_DELIVERED: 3,
  NOT_FOUND: 4,
  REFUSED: 5,
} as const
export type ScheduleResultValue = (typeof ScheduleResult)[keyof typeof ScheduleResult]

/**
 * SCHEDULE_ACK (0x23, broker → client, same opaque) => messageId:1 string (req) | result:2 int32 (req)
 *   | feedback:3 string (req) | deliverAt:4 int64 (opt; the time now in force after a reschedule)
 */
export interface ScheduleAck {
  messageId: string
  result: number
  feedback: string
  deliverAt?: number
  unknownFields?: Buffer
}
export const ScheduleAckCodec = defineMessage<ScheduleAck>('ScheduleAck', [
  req(1, 'messageId', 'string'), req(2, 'result', 'int32'), req(3, 'feedback', 'string'), opt(4, 'deliverAt', 'int64'),
])
