/**
 * Turning an application's OutgoingMessage into the exact frame body a KiteQ broker accepts: every
 * required Header field set (golang/protobuf refuses a message without them), the publisher group
 * and creation time filled in as kiteq-client-go does, the body compressed if asked.
 */
import { randomFillSync } from 'node:crypto'
import { Cmd } from '../protocol/commands.ts'
import { ErrorCodes, KiteQError } from '../protocol/errors.ts'
import type { Entry, Header } from '../protocol/header.ts'
import { BytesMessageCodec, StringMessageCodec, type BytesMessage, type StringMessage } from '../protocol/messages.ts'
import type { MessageCodec } from '../protocol/schema.ts'
import { snappyEncode, snappyEncodeString } from './snappy.ts'
import type { OutgoingMessage, SentMessage } from './types.ts'

// Random bytes for 256 ids at a time: one hex slice of the pool is ~90 ns an id, where
// randomUUID() and stripping its dashes took ~410 ns (3 % of a producer's CPU at full rate).
const idPool = Buffer.allocUnsafe(16 * 256)
let idPoolOffset = idPool.length

/** A fresh message id: a random UUIDv4 as 32 lowercase hex characters, the form KiteQ brokers check. */
export function messageId(): string {
  if (idPoolOffset === idPool.length) {
    randomFillSync(idPool)
    idPoolOffset = 0
  }
  const at = idPoolOffset
  idPoolOffset += 16
  idPool[at + 6] = (idPool[at + 6] & 0x0f) | 0x40 // version 4
  idPool[at + 8] = (idPool[at + 8] & 0x3f) | 0x80 // RFC 4122 variant
  return idPool.toString('hex', at, at + 16)
}

export const outgoingDefaults = { expiredTime: -1, deliverLimit: 100, commit: true, fly: false, snappy: false } as const

export type PreparedMessage =
  | { cmdType: typeof Cmd.STRING_MESSAGE; codec: MessageCodec<StringMessage>; wire: StringMessage; sent: SentMessage }
  | { cmdType: typeof Cmd.BYTES_MESSAGE; codec: MessageCodec<BytesMessage>; wire: BytesMessage; sent: SentMessage }

export interface PrepareContext {
  /** The client's group: it overwrites whatever the message says, as kiteq-client-go does. */
  groupId: string
  nowMs: number
  /** Two-phase commit: the message is stored uncommitted whatever `commit` says. */
  transactional: boolean
}

function invalid(message: string): KiteQError {
  return new KiteQError(ErrorCodes.INVALID_ARGUMENT, message)
}

export function prepareStringMessage(msg: OutgoingMessage<string>, ctx: PrepareContext): PreparedMessage {
  checkObject(msg)
  if (typeof msg.body !== 'string') throw invalid('a string message needs a string body')
  const header = buildHeader(msg, ctx)
  const body = header.snappy === true ? snappyEncodeString(msg.body) : msg.body
  return {
    cmdType: Cmd.STRING_MESSAGE,
    codec: StringMessageCodec,
    wire: { header, body },
    sent: sentMessage(header, msg.body, true),
  }
}

export function prepareBytesMessage(msg: OutgoingMessage<Buffer | Uint8Array>, ctx: PrepareContext): PreparedMessage {
  checkObject(msg)
  if (!(msg.body instanceof Uint8Array)) throw invalid('a bytes message needs a Buffer or Uint8Array body')
  const header = buildHeader(msg, ctx)
  const raw = Buffer.isBuffer(msg.body) ? msg.body : Buffer.from(msg.body.buffer, msg.body.byteOffset, msg.body.byteLength)
  const body = header.snappy === true ? snappyEncode(raw) : raw
  return {
    cmdType: Cmd.BYTES_MESSAGE,
    codec: BytesMessageCodec,
    wire: { header, body },
    sent: sentMessage(header, raw, false),
  }
}

function checkObject(msg: unknown): void {
  if (msg === null || typeof msg !== 'object') throw invalid('a message must be an object')
}

function buildHeader(msg: OutgoingMessage<unknown>, ctx: PrepareContext): Header {
  const header: Header = {
    messageId: msg.messageId === undefined ? messageId() : nonEmpty(msg.messageId, 'messageId'),
    topic: nonEmpty(msg.topic, 'topic'),
    messageType: nonEmpty(msg.messageType, 'messageType'),
    expiredTime: msg.expiredTime === undefined ? outgoingDefaults.expiredTime : integer(msg.expiredTime, 'expiredTime'),
    deliverLimit: msg.deliverLimit === undefined ? outgoingDefaults.deliverLimit : int32(msg.deliverLimit, 'deliverLimit'),
    groupId: ctx.groupId,
    commit: ctx.transactional ? false : optionalBool(msg.commit, 'commit', outgoingDefaults.commit),
    fly: optionalBool(msg.fly, 'fly', outgoingDefaults.fly),
    properties: entries(msg.properties),
    createTime: Math.floor(ctx.nowMs / 1000),
  }
  // Left out rather than written as false when not asked for, so such a header is byte for byte
  // what kiteq-client-go sends.
  if (optionalBool(msg.snappy, 'snappy', outgoingDefaults.snappy)) header.snappy = true
  const deliverAt = deliverAtOf(msg, ctx.nowMs)
  if (deliverAt !== undefined) header.deliverAt = deliverAt
  return header
}

function deliverAtOf(msg: OutgoingMessage<unknown>, nowMs: number): number | undefined {
  if (msg.deliverAt !== undefined && msg.delayMs !== undefined) throw invalid('give deliverAt or delayMs, not both')
  if (msg.delayMs !== undefined) {
    if (typeof msg.delayMs !== 'number' || !Number.isFinite(msg.delayMs) || msg.delayMs < 0) {
      throw invalid(`delayMs must be a non-negative number of milliseconds, not ${String(msg.delayMs)}`)
    }
    const at = Math.trunc(nowMs + msg.delayMs)
    if (!Number.isSafeInteger(at)) throw invalid(`delayMs ${msg.delayMs} puts deliverAt beyond any representable time`)
    return at
  }
  if (msg.deliverAt !== undefined) return epochMs(msg.deliverAt, 'deliverAt')
  return undefined
}

/** A Date or epoch milliseconds, as a whole non-negative number of milliseconds (at most 2^53 − 1). */
export function epochMs(value: unknown, name: string): number {
  const ms = value instanceof Date ? value.getTime() : value
  // beyond 2^53 a number is no longer a whole millisecond, and beyond 2^63 it no longer fits the wire's int64
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0 || !Number.isSafeInteger(Math.trunc(ms))) {
    throw invalid(`${name} must be a valid Date or epoch milliseconds, not ${String(value)}`)
  }
  return Math.trunc(ms)
}

export function nonEmpty(value: unknown, name: string): string {
  if (typeof value !== 'string' || value === '') throw invalid(`${name} must be a non-empty string`)
  return value
}

function integer(value: unknown, name: string): number {
  if (!Number.isSafeInteger(value)) throw invalid(`${name} must be an integer, not ${String(value)}`)
  return value as number
}

function int32(value: unknown, name: string): number {
  const n = integer(value, name)
  if (n < -0x80000000 || n > 0x7fffffff) throw invalid(`${name} must fit in 32 bits, not ${n}`)
  return n
}

function optionalBool(value: unknown, name: string, fallback: boolean): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') throw invalid(`${name} must be a boolean`)
  return value
}

function entries(properties: Record<string, string> | undefined): Entry[] {
  if (properties === undefined) return []
  if (properties === null || typeof properties !== 'object') throw invalid('properties must be an object of strings')
  return Object.entries(properties).map(([key, value]) => {
    if (typeof value !== 'string') throw invalid(`property '${key}' must be a string`)
    return { key, value }
  })
}

function sentMessage(wireHeader: Header, body: string | Buffer, isString: boolean): SentMessage {
  // A copy: doTransaction may scribble on what it is given, the TX_ACK must carry the header as sent.
  const header: Header = { ...wireHeader, properties: wireHeader.properties.map((e) => ({ ...e })) }
  const sent: SentMessage = {
    header,
    messageId: header.messageId,
    topic: header.topic,
    messageType: header.messageType,
    publisherGroup: header.groupId,
    properties: Object.fromEntries(header.properties.map((e) => [e.key, e.value])),
    body,
    isString,
  }
  if (header.deliverAt !== undefined) sent.deliverAt = header.deliverAt
  return sent
}
