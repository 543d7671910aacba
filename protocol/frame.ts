/**
 * The modern KiteQ frame (turbo `tpacket.go`), all big-endian, no prefix, no trailer:
 *
 *   offset size type   field
 *   0      4    uint32 opaque     request id; a response carries its request's opaque
 *   4      1    uint8  cmdType    see commands.ts
 *   5      2    int16  version    written 0, ignored on read
 *   7      8    int64  extension  written 0, ignored on read
 *   15     4    int32  bodyLen
 *   19     N    bytes  body       protobuf message of cmdType
 */
import { ProtocolError } from './errors.ts'
import type { MessageCodec } from './schema.ts'
import { ProtoWriter } from './wire.ts'

export const FRAME_HEADER_BYTES = 19
export const DEFAULT_MAX_BODY_BYTES = 2 * 1024 * 1024

export interface Frame {
  opaque: number
  cmdType: number
  version: number
  extension: bigint
  /** A view into the received bytes; copy it to keep it beyond the frame's handling. */
  body: Buffer
}

export function writeFrameHeader(
  buf: Buffer, opaque: number, cmdType: number, bodyLength: number, version = 0, extension = 0n,
): void {
  buf.writeUInt32BE(opaque >>> 0, 0)
  buf[4] = cmdType
  buf.writeInt16BE(version, 5)
  if (extension === 0n) buf.fill(0, 7, 15)
  else buf.writeBigInt64BE(extension, 7)
  buf.writeInt32BE(bodyLength, 15)
}

/** A frame around an already encoded body. */
export function encodeFrame(frame: Omit<Frame, 'version' | 'extension'> & Partial<Frame>): Buffer {
  const buf = Buffer.allocUnsafe(FRAME_HEADER_BYTES + frame.body.length)
  writeFrameHeader(buf, frame.opaque, frame.cmdType, frame.body.length, frame.version ?? 0, frame.extension ?? 0n)
  buf.set(frame.body, FRAME_HEADER_BYTES)
  return buf
}

/** Encodes `message` straight into a frame: one exactly-sized allocation. */
export function encodePacket<T>(
  opaque: number, cmdType: number, codec: MessageCodec<T>, message: T, maxBodyBytes = DEFAULT_MAX_BODY_BYTES,
): Buffer {
  const bodyLength = codec.size(message)
  if (bodyLength > maxBodyBytes) {
    throw new ProtocolError(`${codec.name} of ${bodyLength} bytes exceeds the ${maxBodyBytes}-byte frame limit`)
  }
  const buf = Buffer.allocUnsafe(FRAME_HEADER_BYTES + bodyLength)
  writeFrameHeader(buf, opaque, cmdType, bodyLength)
  const w = new ProtoWriter(buf, FRAME_HEADER_BYTES)
  codec.write(w, message)
  if (w.pos !== buf.length) throw new Error(`${codec.name}: wrote ${w.pos - FRAME_HEADER_BYTES} of ${bodyLength} bytes`)
  return buf
}

/** Copies the body so the frame no longer pins the socket chunk it arrived in. */
export function detachFrame(frame: Frame): Frame {
  return { ...frame, body: Buffer.from(frame.body) }
}
