/**
 * A small declarative codec for KiteQ's flat messages: each message is a list of fields (number,
 * name, kind, required). Header has its own hand-written codec (header.ts) and appears here as a
 * field kind.
 */
import { KiteQError, ErrorCodes } from './errors.ts'
import { decodeHeader, headerSize, missingField, writeHeader, type Header } from './header.ts'
import {
  ProtoReader, ProtoWriter, WireType, noteUnknown, unknownBytes, bytesFieldSize, stringFieldSize, varint32Size, varint64Size,
} from './wire.ts'

export type FieldKind = 'string' | 'bytes' | 'bool' | 'int32' | 'int64' | 'header'

export interface FieldSpec {
  readonly no: number
  readonly name: string
  readonly kind: FieldKind
  /** Required fields are always written; optional ones only when not undefined. */
  readonly required: boolean
}

export interface MessageCodec<T> {
  readonly name: string
  readonly fields: readonly FieldSpec[]
  /** Encoded size in bytes. */
  size(message: T): number
  write(w: ProtoWriter, message: T): void
  /** Decodes `buf[start, end)`; a malformed body or a missing required field is a ProtocolError. */
  decode(buf: Buffer, start?: number, end?: number): T
  encode(message: T): Buffer
}

type Fields = Record<string, unknown> & { unknownFields?: Buffer }

const wireTypeOf = (kind: FieldKind): number =>
  kind === 'string' || kind === 'bytes' || kind === 'header' ? WireType.BYTES : WireType.VARINT

export function defineMessage<T extends object>(name: string, fields: readonly FieldSpec[]): MessageCodec<T> {
  const byTag: (FieldSpec | undefined)[] = []
  let required = 0
  const names: string[] = []
  for (const f of fields) {
    if (f.no < 1 || f.no > 15) throw new Error(`${name}.${f.name}: field numbers 1–15 only (one-byte tags)`)
    byTag[(f.no << 3) | wireTypeOf(f.kind)] = f
    names[f.no] = f.name
    if (f.required) required |= 1 << f.no
  }
  for (let i = 0; i < names.length; i++) names[i] ??= ''
  const ordered = [...fields].sort((a, b) => a.no - b.no)

  function fieldSize(f: FieldSpec, value: unknown): number {
    switch (f.kind) {
      case 'string': return stringFieldSize(value as string)
      case 'bytes': return bytesFieldSize(value as Uint8Array)
      case 'bool': return 2
      case 'int32': return 1 + varint32Size(value as number)
      case 'int64': return 1 + varint64Size(value as number)
      case 'header': {
        const hs = headerSize(value as Header)
        return 1 + varint32Size(hs) + hs
      }
    }
  }

  function size(message: T): number {
    const m = message as unknown as Fields
    let total = 0
    for (const f of ordered) {
      const value = m[f.name]
      if (value === undefined) continue
      total += fieldSize(f, value)
    }
    return total + (m.unknownFields?.length ?? 0)
  }

  function write(w: ProtoWriter, message: T): void {
    const m = message as unknown as Fields
    for (const f of ordered) {
      const value = m[f.name]
      if (value === undefined) {
        if (f.required) {
          throw new KiteQError(ErrorCodes.INVALID_ARGUMENT, `${name}: required field '${f.name}' is not set`)
        }
        continue
      }
      w.tag(f.no, wireTypeOf(f.kind))
      switch (f.kind) {
        case 'string': w.string(value as string); break
        case 'bytes': w.bytes(value as Uint8Array); break
        case 'bool': w.bool(value as boolean); break
        case 'int32': w.int32(value as number); break
        case 'int64': w.int64(value as number); break
        case 'header':
          w.uvarint32(headerSize(value as Header))
          writeHeader(w, value as Header)
          break
      }
    }
    if (m.unknownFields !== undefined) w.raw(m.unknownFields)
  }

  function decode(buf: Buffer, start = 0, end = buf.length): T {
    const r = new ProtoReader(buf, start, end)
    // Every field starts undefined, in declaration order, so all decoded objects share one shape;
    // an absent optional field stays undefined and is not re-emitted (its proto2 default is the
    // reader's business).
    const m: Fields = {}
    for (const f of fields) m[f.name] = undefined
    let seen = 0
    let unknown: number[] | undefined
    while (!r.done) {
      const tagStart = r.pos
      const tag = r.tag()
      const f = tag < byTag.length ? byTag[tag] : undefined
      if (f === undefined) {
        r.skip(tag)
        unknown = noteUnknown(unknown, r, tagStart)
        continue
      }
      seen |= 1 << f.no
      switch (f.kind) {
        case 'string': m[f.name] = r.string(); break
        case 'bytes': m[f.name] = r.bytes(); break
        case 'bool': m[f.name] = r.bool(); break
        case 'int32': m[f.name] = r.int32(); break
        case 'int64': m[f.name] = r.int64(); break
        case 'header': {
          const hs = r.nested()
          m[f.name] = decodeHeader(buf, hs, r.pos)
          break
        }
      }
    }
    if ((seen & required) !== required) throw missingField(name, names, seen, required)
    if (unknown !== undefined) m.unknownFields = unknownBytes(buf, unknown)
    return m as unknown as T
  }

  function encode(message: T): Buffer {
    const buf = Buffer.allocUnsafe(size(message))
    write(new ProtoWriter(buf), message)
    return buf
  }

  return { name, fields, size, write, decode, encode }
}
