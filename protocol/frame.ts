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
  buf: Buffer, opaque: number, cmdType: number, bodyLength: number, version = 0, extension = 0n, offset = 0,
): void {
  buf.writeUInt32BE(opaque >>> 0, offset)
  buf[offset + 4] = cmdType
  buf.writeInt16BE(version, offset + 5)
  if (extension === 0n) buf.fill(0, offset + 7, offset + 15)
  else buf.writeBigInt64BE(extension, offset + 7)
  buf.writeInt32BE(bodyLength, offset + 15)
}

/** A frame around an already encoded body. */
export function encodeFrame(frame: Omit<Frame, 'version' | 'extension'> & Partial<Frame>): Buffer {
  const buf = Buffer.allocUnsafe(FRAME_HEADER_BYTES + frame.body.length)
  writeFrameHeader(buf, frame.opaque, frame.cmdType, frame.body.length, frame.version ?? 0, frame.extension ?? 0n)
  buf.set(frame.body, FRAME_HEADER_BYTES)
  return buf
}

/** The body size of `message`, refusing one larger than a frame may carry. */
export function packetBodySize<T>(codec: MessageCodec<T>, message: T, maxBodyBytes = DEFAULT_MAX_BODY_BYTES): number {
  const bodyLength = codec.size(message)
  if (bodyLength > maxBodyBytes) {
    throw new ProtocolError(`${codec.name} of ${bodyLength} bytes exceeds the ${maxBodyBytes}-byte frame limit`)
  }
  return bodyLength
}

/** Writes the frame of `message` (body size from packetBodySize) into `buf` at `offset`. */
export function writePacket<T>(
  buf: Buffer, offset: number, opaque: number, cmdType: number, codec: MessageCodec<T>, message: T, bodyLength: number,
): void {
  writeFrameHeader(buf, opaque, cmdType, bodyLength, 0, 0n, offset)
  const w = new ProtoWriter(buf, offset + FRAME_HEADER_BYTES)
  codec.write(w, message)
  if (w.pos !== offset + FRAME_HEADER_BYTES + bodyLength) {
    throw new Error(`${codec.name}: wrote ${w.pos - offset - FRAME_HEADER_BYTES} of ${bodyLength} bytes`)
  }
}

/** Encodes `message` straight into a frame: one exactly-sized allocation. */
export function encodePacket<T>(
  opaque: number, cmdType: number, codec: MessageCodec<T>, message: T, maxBodyBytes = DEFAULT_MAX_BODY_BYTES,
): Buffer {
  const bodyLength = packetBodySize(codec, message, maxBodyBytes)
  const buf = Buffer.allocUnsafe(FRAME_HEADER_BYTES + bodyLength)
  writePacket(buf, 0, opaque, cmdType, codec, message, bodyLength)
  return buf
}

/** Copies the body so the frame no longer pins the socket chunk it arrived in. */
export function detachFrame(frame: Frame): Frame {
  return { ...frame, body: Buffer.from(frame.body) }
}
