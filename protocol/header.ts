/**
 * Header and Entry: the per-message metadata, on the hot path of every publish and delivery, so
 * their codec is written out by hand.
 *
 *   Entry  => key:1 string (req) | value:2 string (req)
 *   Header => messageId:1 string (req) | topic:2 string (req) | messageType:3 string (req)
 *           | expiredTime:4 int64 (req, default -1, Unix seconds) | deliverLimit:5 int32 (req, default 100)
 *           | groupId:6 string (req, publisher group) | commit:7 bool (req) | fly:8 bool (req, default false)
 *           | properties:9 Entry (repeated) | createTime:10 int64 (opt) | snappy:11 bool (opt)
 *           | deliverAt:12 int64 (opt; KiteQ-TS extension: Unix epoch milliseconds)
 */
import { ProtocolError } from './errors.ts'
import { ProtoReader, ProtoWriter, noteUnknown, stringFieldSize, unknownBytes, varint32Size, varint64Size } from './wire.ts'

export interface Entry {
  key: string
  value: string
  /** Raw bytes of fields this version does not know, re-emitted on encode. */
  unknownFields?: Buffer
}

export interface Header {
  messageId: string
  topic: string
  messageType: string
  /** Unix seconds; -1 means "no expiry" (the broker clamps it). */
  expiredTime: number
  deliverLimit: number
  /** The publishing group. */
  groupId: string
  commit: boolean
  fly: boolean
  properties: Entry[]
  createTime?: number
  snappy?: boolean
  /** KiteQ-TS extension (field 12): deliver no earlier than this Unix time in milliseconds. */
  deliverAt?: number
  unknownFields?: Buffer
}

// ---------------------------------------------------------------------------------------- Entry

const ENTRY_REQUIRED = 0b11

function entrySize(e: Entry): number {
  return stringFieldSize(e.key) + stringFieldSize(e.value) + (e.unknownFields?.length ?? 0)
}

function writeEntry(w: ProtoWriter, e: Entry): void {
  w.buf[w.pos++] = 0x0a
  w.string(e.key)
  w.buf[w.pos++] = 0x12
  w.string(e.value)
  if (e.unknownFields !== undefined) w.raw(e.unknownFields)
}

function decodeEntry(buf: Buffer, start: number, end: number): Entry {
  const r = new ProtoReader(buf, start, end)
  let key = ''
  let value = ''
  let seen = 0
  let unknown: number[] | undefined
  while (!r.done) {
    const tagStart = r.pos
    const tag = r.tag()
    if (tag === 0x0a) {
      key = r.internedString()
      seen |= 1
    } else if (tag === 0x12) {
      value = r.string()
      seen |= 2
    } else {
      r.skip(tag)
      unknown = noteUnknown(unknown, r, tagStart)
    }
  }
  if (seen !== ENTRY_REQUIRED) throw new ProtocolError(`Entry: missing required field '${seen & 1 ? 'value' : 'key'}'`)
  const entry: Entry = { key, value }
  if (unknown !== undefined) entry.unknownFields = unknownBytes(buf, unknown)
  return entry
}

// --------------------------------------------------------------------------------------- Header

const HEADER_FIELDS = ['', 'messageId', 'topic', 'messageType', 'expiredTime', 'deliverLimit', 'groupId', 'commit', 'fly']
const HEADER_REQUIRED = 0b1_1111_1110 // fields 1–8

export function headerSize(h: Header): number {
  let size =
    stringFieldSize(h.messageId) +
    stringFieldSize(h.topic) +
    stringFieldSize(h.messageType) +
    1 + varint64Size(h.expiredTime) +
    1 + varint32Size(h.deliverLimit) +
    stringFieldSize(h.groupId) +
    4 // commit + fly: tag and one byte each
  const props = h.properties
  for (let i = 0; i < props.length; i++) {
    const es = entrySize(props[i])
    size += 1 + varint32Size(es) + es
  }
  if (h.createTime !== undefined) size += 1 + varint64Size(h.createTime)
  if (h.snappy !== undefined) size += 2
  if (h.deliverAt !== undefined) size += 1 + varint64Size(h.deliverAt)
  if (h.unknownFields !== undefined) size += h.unknownFields.length
  return size
}

/** The header's protobuf encoding on its own (the bytes of a message's field 1). */
export function encodeHeader(h: Header): Buffer {
  const buf = Buffer.allocUnsafe(headerSize(h))
  writeHeader(new ProtoWriter(buf), h)
  return buf
}

/** Writes every required field, in field-number order, even when it equals its default (as Go does). */
export function writeHeader(w: ProtoWriter, h: Header): void {
  const buf = w.buf
  buf[w.pos++] = 0x0a
  w.string(h.messageId)
  buf[w.pos++] = 0x12
  w.string(h.topic)
  buf[w.pos++] = 0x1a
  w.string(h.messageType)
  buf[w.pos++] = 0x20
  w.int64(h.expiredTime)
  buf[w.pos++] = 0x28
  w.int32(h.deliverLimit)
  buf[w.pos++] = 0x32
  w.string(h.groupId)
  buf[w.pos++] = 0x38
  w.bool(h.commit)
  buf[w.pos++] = 0x40
  w.bool(h.fly)
  const props = h.properties
  for (let i = 0; i < props.length; i++) {
    buf[w.pos++] = 0x4a
    w.uvarint32(entrySize(props[i]))
    writeEntry(w, props[i])
  }
  if (h.createTime !== undefined) {
    buf[w.pos++] = 0x50
    w.int64(h.createTime)
  }
  if (h.snappy !== undefined) {
    buf[w.pos++] = 0x58
    w.bool(h.snappy)
  }
  if (h.deliverAt !== undefined) {
    buf[w.pos++] = 0x60
    w.int64(h.deliverAt)
  }
  if (h.unknownFields !== undefined) w.raw(h.unknownFields)
}

/** `likelyId`: the id the caller expects (a store reading what it looked up); it is then not decoded again. */
export function decodeHeader(buf: Buffer, start: number, end: number, likelyId?: string): Header {
  const r = new ProtoReader(buf, start, end)
  let messageId = ''
  let topic = ''
  let messageType = ''
  let expiredTime = -1
  let deliverLimit = 100
  let groupId = ''
  let commit = false
  let fly = false
  const properties: Entry[] = []
  let createTime: number | undefined
  let snappy: boolean | undefined
  let deliverAt: number | undefined
  let unknown: number[] | undefined
  let seen = 0
  while (!r.done) {
    const tagStart = r.pos
    const tag = r.tag()
    switch (tag) {
      case 0x0a: messageId = likelyId === undefined ? r.string() : r.stringLike(likelyId); seen |= 1 << 1; break
      case 0x12: topic = r.internedString(); seen |= 1 << 2; break
      case 0x1a: messageType = r.internedString(); seen |= 1 << 3; break
      case 0x20: expiredTime = r.int64(); seen |= 1 << 4; break
      case 0x28: deliverLimit = r.int32(); seen |= 1 << 5; break
      case 0x32: groupId = r.internedString(); seen |= 1 << 6; break
      case 0x38: commit = r.bool(); seen |= 1 << 7; break
      case 0x40: fly = r.bool(); seen |= 1 << 8; break
      case 0x4a: {
        const entryStart = r.nested()
        properties.push(decodeEntry(buf, entryStart, r.pos))
        break
      }
      case 0x50: createTime = r.int64(); break
      case 0x58: snappy = r.bool(); break
      case 0x60: deliverAt = r.int64(); break
      default:
        // Unknown field, or a known number with an unexpected wire type: kept as unknown, like Go.
        r.skip(tag)
        unknown = noteUnknown(unknown, r, tagStart)
    }
  }
  if ((seen & HEADER_REQUIRED) !== HEADER_REQUIRED) throw missingField('Header', HEADER_FIELDS, seen, HEADER_REQUIRED)
  const header: Header = {
    messageId, topic, messageType, expiredTime, deliverLimit, groupId, commit, fly, properties,
  }
  if (createTime !== undefined) header.createTime = createTime
  if (snappy !== undefined) header.snappy = snappy
  if (deliverAt !== undefined) header.deliverAt = deliverAt
  if (unknown !== undefined) header.unknownFields = unknownBytes(buf, unknown)
  return header
}

export function missingField(message: string, names: readonly string[], seen: number, required: number): ProtocolError {
  const missing: string[] = []
  for (let no = 1; no < names.length; no++) {
    if (required & (1 << no) && !(seen & (1 << no))) missing.push(`'${names[no]}' (${no})`)
  }
  return new ProtocolError(`${message}: missing required field ${missing.join(', ')}`)
}

/** The value of a property, or undefined. */
export function getProperty(h: Header, key: string): string | undefined {
  for (const e of h.properties) if (e.key === key) return e.value
  return undefined
}
