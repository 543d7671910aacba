/**
 * Snappy as KiteQ uses it (kiteq-client-go, golang/snappy): the raw *block* format (a uvarint
 * length, then literal and copy elements; no stream framing, no CRC), and for string messages the
 * block in padded standard base64 so it survives a proto2 `string` field.
 *
 * snappyjs does the work. Its decoder trusts its input, though: it neither checks that the elements
 * produce exactly the declared length nor that copies stay inside the output, so corrupt input can
 * come back as a silently zero-padded buffer. `snappyDecode` therefore walks the block first with
 * golang/snappy's own rules and only then lets snappyjs copy; the walk also means a lying length
 * prefix is caught before anything is allocated.
 */
import { compress, uncompress } from 'snappyjs'
import { ErrorCodes, KiteQError } from '../protocol/errors.ts'

function asBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength)
}

function corrupt(why: string): KiteQError {
  return new KiteQError(ErrorCodes.PROTOCOL, `snappy: corrupt input (${why})`)
}

export function snappyEncode(data: Uint8Array): Buffer {
  return compress(asBuffer(data))
}

/** Decodes one snappy block; corrupt input is a KiteQError with code PROTOCOL. */
export function snappyDecode(block: Uint8Array): Buffer {
  const buf = asBuffer(block)
  const length = checkedDecodedLength(buf)
  return uncompress(buf, length)
}

/** The decoded length of a valid block; throws on anything golang/snappy's Decode would refuse. */
export function checkedDecodedLength(src: Buffer): number {
  const n = src.length
  let pos = 0
  let declared = 0
  for (let shift = 0; ; shift += 7) {
    if (pos >= n) throw corrupt('truncated length')
    if (shift > 28) throw corrupt('length varint too long')
    const b = src[pos++]
    declared += (b & 0x7f) * 2 ** shift
    if (b < 0x80) break
  }
  if (declared > 0xffffffff) throw corrupt('declared length too large')
  let out = 0
  while (pos < n) {
    const tag = src[pos++]
    let length: number
    let offset: number
    switch (tag & 3) {
      case 0: {
        length = tag >>> 2
        if (length >= 60) {
          const extra = length - 59
          if (pos + extra > n) throw corrupt('truncated literal length')
          length = src.readUIntLE(pos, extra)
          pos += extra
        }
        length += 1
        if (length > n - pos || length > declared - out) throw corrupt('literal overruns')
        pos += length
        out += length
        continue
      }
      case 1:
        if (pos + 1 > n) throw corrupt('truncated copy')
        length = 4 + ((tag >>> 2) & 7)
        offset = ((tag & 0xe0) << 3) | src[pos]
        pos += 1
        break
      case 2:
        if (pos + 2 > n) throw corrupt('truncated copy')
        length = 1 + (tag >>> 2)
        offset = src.readUInt16LE(pos)
        pos += 2
        break
      default:
        if (pos + 4 > n) throw corrupt('truncated copy')
        length = 1 + (tag >>> 2)
        offset = src.readUInt32LE(pos)
        pos += 4
    }
    if (offset === 0 || offset > out || length > declared - out) throw corrupt('copy out of range')
    out += length
  }
  if (out !== declared) throw corrupt(`decodes to ${out} bytes, declares ${declared}`)
  return declared
}

/** KiteQ's snappy string body: base64 (standard alphabet, padded) of the block of the UTF-8 bytes. */
export function snappyEncodeString(text: string): string {
  return snappyEncode(Buffer.from(text, 'utf8')).toString('base64')
}

// Go's base64.StdEncoding: padded, standard alphabet, CR and LF ignored. Node's own decoder would
// accept almost anything (it skips invalid characters), so a mangled body would decode to garbage.
const STD_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

export function snappyDecodeString(encoded: string): string {
  const text = encoded.includes('\n') || encoded.includes('\r') ? encoded.replace(/[\r\n]/g, '') : encoded
  if (!STD_BASE64.test(text)) throw new KiteQError(ErrorCodes.PROTOCOL, 'snappy string body is not padded standard base64')
  // Go turns the bytes into a string without checking UTF-8; invalid sequences become U+FFFD here.
  return snappyDecode(Buffer.from(text, 'base64')).toString('utf8')
}
