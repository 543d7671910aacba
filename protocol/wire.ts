/**
 * proto2 wire primitives. KiteQ's messages are tiny and fixed, so the codecs in this folder are
 * written against these primitives instead of a reflective runtime: that is what lets them write
 * every required field even when it equals its default, keep unknown fields byte for byte, and
 * encode a whole frame into one exactly-sized buffer.
 *
 * 64-bit integers are JavaScript numbers: every int64 KiteQ carries is a Unix time in seconds or
 * milliseconds, far inside ±2^53. Negative values use the 10-byte two's-complement varint, as Go does.
 */
import { ProtocolError } from './errors.ts'

export const WireType = { VARINT: 0, FIXED64: 1, BYTES: 2, START_GROUP: 3, END_GROUP: 4, FIXED32: 5 } as const

const TWO_32 = 4294967296
const TWO_63 = 2 ** 63
const MAX_GROUP_DEPTH = 64

// ---------------------------------------------------------------------------------------- sizes

export function varint32Size(value: number): number {
  // Negative int32 values are sign-extended to 64 bits on the wire, hence 10 bytes.
  if (value < 0) return 10
  if (value < 0x80) return 1
  if (value < 0x4000) return 2
  if (value < 0x200000) return 3
  if (value < 0x10000000) return 4
  return 5
}

export function varint64Size(value: number): number {
  if (value < 0) return 10
  if (value >= TWO_63) return 9 // written as the largest int64 (see ProtoWriter.int64)
  if (value < TWO_32) return value < 0x10000000 ? varint32Size(value) : 5
  let size = 5
  for (let rest = Math.floor(value / 0x800000000); rest > 0; rest = Math.floor(rest / 128)) size++
  return size
}

/** Size of a length-delimited string field including its tag (tags of fields 1–15 are one byte). */
export function stringFieldSize(value: string): number {
  const len = utf8Length(value)
  return 1 + varint32Size(len) + len
}

/** Buffer.byteLength(value), counted by hand for short ASCII strings (cheaper than the call into native code). */
export function utf8Length(value: string): number {
  return value.length < 64 && isAscii(value) ? value.length : Buffer.byteLength(value)
}

export function bytesFieldSize(value: Uint8Array): number {
  return 1 + varint32Size(value.length) + value.length
}

function isAscii(value: string): boolean {
  for (let i = 0; i < value.length; i++) if (value.charCodeAt(i) > 0x7f) return false
  return true
}

// --------------------------------------------------------------------------------------- writer

/** Writes into a buffer whose exact size was computed beforehand. */
export class ProtoWriter {
  readonly buf: Buffer
  pos: number

  constructor(buf: Buffer, pos = 0) {
    this.buf = buf
    this.pos = pos
  }

  /** Tag for field numbers 1–15 (every field KiteQ defines fits in one byte). */
  tag(fieldNo: number, wireType: number): void {
    this.buf[this.pos++] = (fieldNo << 3) | wireType
  }

  uvarint32(value: number): void {
    const buf = this.buf
    let pos = this.pos
    while (value > 0x7f) {
      buf[pos++] = (value & 0x7f) | 0x80
      value >>>= 7
    }
    buf[pos++] = value
    this.pos = pos
  }

  /** int32 as proto2 encodes it: negatives sign-extended to a 10-byte varint. */
  int32(value: number): void {
    if (value >= 0) this.uvarint32(value)
    else this.int64(value)
  }

  /**
   * A double at or past ±2^63 has no int64; the nearest one is written. (The largest int64 reads
   * back as the double 2^63, whose bits would otherwise come out as the smallest: a far-future
   * time re-encoded as a far-past one.)
   */
  int64(value: number): void {
    let lo: number
    let hi: number
    if (value >= TWO_63) {
      lo = 0xffffffff
      hi = 0x7fffffff
    } else if (value >= 0) {
      lo = value >>> 0
      hi = Math.floor(value / TWO_32) >>> 0
    } else {
      const abs = Math.min(-value, TWO_63)
      lo = (~(abs >>> 0) + 1) >>> 0
      hi = (~(Math.floor(abs / TWO_32) >>> 0) + (lo === 0 ? 1 : 0)) >>> 0
    }
    const buf = this.buf
    let pos = this.pos
    while (hi !== 0 || lo > 0x7f) {
      buf[pos++] = (lo & 0x7f) | 0x80
      lo = ((lo >>> 7) | (hi << 25)) >>> 0
      hi >>>= 7
    }
    buf[pos++] = lo
    this.pos = pos
  }

  bool(value: boolean): void {
    this.buf[this.pos++] = value ? 1 : 0
  }

  string(value: string): void {
    // Short strings: write the bytes first, one byte after the length, then fill in the length.
    if (value.length < 43) {
      const written = this.buf.write(value, this.pos + 1, 'utf8')
      this.buf[this.pos] = written
      this.pos += written + 1
      return
    }
    const len = Buffer.byteLength(value)
    this.uvarint32(len)
    this.pos += this.buf.write(value, this.pos, len, 'utf8')
  }

  bytes(value: Uint8Array): void {
    this.uvarint32(value.length)
    this.buf.set(value, this.pos)
    this.pos += value.length
  }

  raw(value: Uint8Array): void {
    this.buf.set(value, this.pos)
    this.pos += value.length
  }
}

// --------------------------------------------------------------------------------------- reader

/** Reads one message's fields from `buf[pos, end)`. Every malformed input is a ProtocolError. */
export class ProtoReader {
  readonly buf: Buffer
  pos: number
  readonly end: number

  constructor(buf: Buffer, pos = 0, end = buf.length) {
    this.buf = buf
    this.pos = pos
    this.end = end
  }

  get done(): boolean {
    return this.pos >= this.end
  }

  /** Returns the tag (fieldNo << 3 | wireType). */
  tag(): number {
    const tag = this.uvarint32()
    if (tag >>> 3 === 0) throw new ProtocolError('invalid field number 0')
    return tag
  }

  /** A varint whose value must fit in 32 bits (tags, lengths); higher bits are rejected. */
  uvarint32(): number {
    const buf = this.buf
    const end = this.end
    let pos = this.pos
    let result = 0
    let shift = 0
    while (true) {
      if (pos >= end) throw new ProtocolError('truncated varint')
      const b = buf[pos++]
      if (shift === 28) {
        if (b > 0x0f) throw new ProtocolError('varint too large for 32 bits')
        result = (result | (b << 28)) >>> 0
        break
      }
      result |= (b & 0x7f) << shift
      if (b < 0x80) break
      shift += 7
    }
    this.pos = pos
    return result >>> 0
  }

  /** A full 64-bit varint, returned as [lo, hi] halves in `scratch`. */
  #varint64(): void {
    const buf = this.buf
    const end = this.end
    let pos = this.pos
    let lo = 0
    let hi = 0
    let b = 0
    for (let shift = 0; shift < 28; shift += 7) {
      if (pos >= end) throw new ProtocolError('truncated varint')
      b = buf[pos++]
      lo |= (b & 0x7f) << shift
      if (b < 0x80) {
        this.pos = pos
        scratch[0] = lo >>> 0
        scratch[1] = 0
        return
      }
    }
    if (pos >= end) throw new ProtocolError('truncated varint')
    b = buf[pos++]
    lo |= (b & 0x7f) << 28
    hi = (b & 0x7f) >> 4
    if (b >= 0x80) {
      for (let shift = 3; ; shift += 7) {
        if (pos >= end) throw new ProtocolError('truncated varint')
        b = buf[pos++]
        if (shift === 31) {
          if (b > 0x01) throw new ProtocolError('varint longer than 10 bytes')
          hi |= b << 31
          break
        }
        hi |= (b & 0x7f) << shift
        if (b < 0x80) break
      }
    }
    this.pos = pos
    scratch[0] = lo >>> 0
    scratch[1] = hi >>> 0
  }

  int64(): number {
    this.#varint64()
    const lo = scratch[0]
    const hi = scratch[1]
    if (hi & 0x80000000) return -((~hi >>> 0) * TWO_32 + (~lo >>> 0) + 1)
    return hi * TWO_32 + lo
  }

  /** int32 fields: the low 32 bits of the varint, as Go reads them. */
  int32(): number {
    this.#varint64()
    return scratch[0] | 0
  }

  bool(): boolean {
    this.#varint64()
    return scratch[0] !== 0 || scratch[1] !== 0
  }

  #length(): number {
    const len = this.uvarint32()
    if (len > this.end - this.pos) throw new ProtocolError(`length ${len} runs past the end of the message`)
    return len
  }

  string(): string {
    const len = this.#length()
    const start = this.pos
    this.pos += len
    return this.buf.toString('utf8', start, start + len)
  }

  /** string() that returns `known` itself when the field spells it (see knownOrDecoded). */
  stringLike(known: string): string {
    const len = this.#length()
    const start = this.pos
    this.pos += len
    return knownOrDecoded(this.buf, start, start + len, known)
  }

  /**
   * For fields whose values repeat from message to message (topic, messageType, groupId, property
   * keys): a small cache hands out the string already made for the same bytes, which is several
   * times cheaper than decoding UTF-8 again. Unique values (message ids, bodies) use string().
   */
  internedString(): string {
    const len = this.#length()
    const start = this.pos
    this.pos += len
    return internString(this.buf, start, start + len)
  }

  /** A view into the frame (no copy); callers that keep it longer than the frame must copy. */
  bytes(): Buffer {
    const len = this.#length()
    const start = this.pos
    this.pos += len
    return this.buf.subarray(start, start + len)
  }

  /** Bounds of a nested message; the caller decodes `[start, end)` and continues after it. */
  nested(): number {
    const len = this.#length()
    const start = this.pos
    this.pos += len
    return start
  }

  /**
   * Skips the value of a field whose tag was just read, returning nothing; the caller keeps the
   * raw bytes [tagStart, pos) when it wants to preserve the unknown field.
   */
  skip(tag: number): void {
    const wireType = tag & 7
    switch (wireType) {
      case WireType.VARINT:
        this.#varint64()
        return
      case WireType.FIXED64:
        this.#advance(8)
        return
      case WireType.BYTES:
        this.#advance(this.uvarint32())
        return
      case WireType.START_GROUP:
        this.#skipGroup(tag >>> 3)
        return
      case WireType.FIXED32:
        this.#advance(4)
        return
      default:
        throw new ProtocolError(`invalid wire type ${wireType}`)
    }
  }

  #advance(n: number): void {
    if (n > this.end - this.pos) throw new ProtocolError('field runs past the end of the message')
    this.pos += n
  }

  #skipGroup(fieldNo: number): void {
    // Iterative, with a depth bound, so hostile input cannot exhaust the stack.
    const open = [fieldNo]
    while (open.length > 0) {
      if (this.pos >= this.end) throw new ProtocolError('unterminated group')
      const tag = this.tag()
      const wireType = tag & 7
      if (wireType === WireType.END_GROUP) {
        if (tag >>> 3 !== open.pop()) throw new ProtocolError('mismatched end group')
      } else if (wireType === WireType.START_GROUP) {
        if (open.length >= MAX_GROUP_DEPTH) throw new ProtocolError('groups nested too deeply')
        open.push(tag >>> 3)
      } else {
        this.skip(tag)
      }
    }
  }
}

const scratch = new Uint32Array(2)

/**
 * The UTF-8 string of buf[start, end), which is `known` itself when the bytes spell it in ASCII: a
 * reader that expects a value (the id it looked up) skips decoding and allocating it again.
 */
export function knownOrDecoded(buf: Buffer, start: number, end: number, known: string): string {
  const length = end - start
  if (length === known.length) {
    let i = 0
    while (i < length && buf[start + i] < 0x80 && buf[start + i] === known.charCodeAt(i)) i++
    if (i === length) return known
  }
  return buf.toString('utf8', start, end)
}

// A direct-mapped cache of recently decoded short strings, keyed by a hash of their bytes.
const INTERN_SLOTS = 1024
const INTERN_MAX_BYTES = 48
const internKeys: (Buffer | undefined)[] = new Array(INTERN_SLOTS).fill(undefined)
const internValues: string[] = new Array(INTERN_SLOTS).fill('')

/**
 * The UTF-8 string of buf[start, end), the very string handed out last time for the same bytes
 * when it is still cached (see ProtoReader.internedString).
 */
export function internString(buf: Buffer, start: number, end: number): string {
  const len = end - start
  if (len === 0) return ''
  if (len > INTERN_MAX_BYTES) return buf.toString('utf8', start, end)
  let hash = len
  for (let i = start; i < end; i++) hash = Math.imul(hash ^ buf[i], 0x01000193)
  const slot = (hash ^ (hash >>> 15)) & (INTERN_SLOTS - 1)
  const key = internKeys[slot]
  if (key !== undefined && key.length === len) {
    let same = true
    for (let i = 0; i < len; i++) {
      if (key[i] !== buf[start + i]) {
        same = false
        break
      }
    }
    if (same) return internValues[slot]
  }
  const value = buf.toString('utf8', start, end)
  internKeys[slot] = Buffer.from(buf.subarray(start, end))
  internValues[slot] = value
  return value
}

/**
 * Notes where an unknown field lies (from its tag through its value), so that a decode → encode
 * round trip can re-emit it after the known fields, as Go does. Only positions are kept while
 * decoding; `unknownBytes` copies them out once at the end. (Copying the fields seen so far at each
 * new one was quadratic: a 512 KiB body of 2-byte unknown fields held the event loop 12 s.)
 */
export function noteUnknown(ranges: number[] | undefined, reader: ProtoReader, tagStart: number): number[] {
  if (ranges === undefined) return [tagStart, reader.pos]
  // adjacent to the last one: one range
  if (ranges[ranges.length - 1] === tagStart) ranges[ranges.length - 1] = reader.pos
  else ranges.push(tagStart, reader.pos)
  return ranges
}

/** The unknown fields noted in `ranges`, in order, in one fresh buffer (it must outlive the frame). */
export function unknownBytes(buf: Buffer, ranges: readonly number[]): Buffer {
  let size = 0
  for (let i = 0; i < ranges.length; i += 2) size += ranges[i + 1] - ranges[i]
  const out = Buffer.allocUnsafe(size)
  let at = 0
  for (let i = 0; i < ranges.length; i += 2) at += buf.copy(out, at, ranges[i], ranges[i + 1])
  return out
}
