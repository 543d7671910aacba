/**
 * A resumable frame decoder: push socket chunks in, frames come out through `onFrame`. It never
 * touches a socket. A frame that lies inside one chunk is handed out as a view of that chunk (no
 * copy). A frame split across chunks is copied, as its bytes arrive, into one buffer of its size
 * (known from its header): holding each chunk until the last one came cost ~220 bytes of heap per
 * chunk, so a peer sending a 2 MiB body a byte at a time made a single frame hold ~450 MB.
 *
 * A negative or oversized bodyLen is a ProtocolError thrown from `push`; the decoder then stays
 * failed, since the stream cannot be resynchronised (there is no frame marker).
 */
import { ProtocolError } from './errors.ts'
import { DEFAULT_MAX_BODY_BYTES, FRAME_HEADER_BYTES, type Frame } from './frame.ts'

export interface FrameDecoderOptions {
  maxBodyBytes?: number
}

export class FrameDecoder {
  readonly maxBodyBytes: number
  readonly #onFrame: (frame: Frame) => void
  /** Bytes received but not yet part of an emitted frame. */
  #pending: Buffer[] = []
  #pendingBytes = 0
  /** How many pending bytes the next step needs before parsing is worth trying. */
  #needed = FRAME_HEADER_BYTES
  /** A frame whose header has arrived and whose body is being copied in, and how much of it is. */
  #assembling: Buffer | undefined
  #assembled = 0
  #failed: ProtocolError | undefined

  constructor(onFrame: (frame: Frame) => void, options: FrameDecoderOptions = {}) {
    this.#onFrame = onFrame
    this.maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES
  }

  /** Bytes held waiting for the rest of a frame. */
  get bufferedBytes(): number {
    return this.#pendingBytes + this.#assembled
  }

  push(chunk: Buffer): void {
    if (this.#failed !== undefined) throw this.#failed
    if (chunk.length === 0) return
    if (this.#assembling !== undefined) {
      const frame = this.#assembling
      const taken = chunk.copy(frame, this.#assembled, 0, Math.min(chunk.length, frame.length - this.#assembled))
      this.#assembled += taken
      if (this.#assembled < frame.length) return
      this.#assembling = undefined
      this.#assembled = 0
      // the frame alone, then what came after it in this chunk
      const rest = chunk.subarray(taken)
      try {
        this.#parse(frame)
      } catch (err) {
        if (rest.length > 0) this.#keep(rest, 0, FRAME_HEADER_BYTES)
        throw err
      }
      if (rest.length > 0) this.push(rest)
      return
    }
    if (this.#pendingBytes === 0) {
      this.#parse(chunk)
      return
    }
    this.#pending.push(chunk)
    this.#pendingBytes += chunk.length
    if (this.#pendingBytes < this.#needed) return
    const joined = Buffer.concat(this.#pending, this.#pendingBytes)
    this.#pending = []
    this.#pendingBytes = 0
    this.#parse(joined)
  }

  #parse(buf: Buffer): void {
    let pos = 0
    const length = buf.length
    while (length - pos >= FRAME_HEADER_BYTES) {
      const bodyLength = buf.readInt32BE(pos + 15)
      if (bodyLength < 0 || bodyLength > this.maxBodyBytes) {
        this.#failed = new ProtocolError(
          bodyLength < 0 ? `negative body length ${bodyLength}` : `body length ${bodyLength} exceeds the limit of ${this.maxBodyBytes} bytes`,
        )
        throw this.#failed
      }
      const frameEnd = pos + FRAME_HEADER_BYTES + bodyLength
      if (frameEnd > length) {
        this.#keep(buf, pos, FRAME_HEADER_BYTES + bodyLength)
        return
      }
      const frame: Frame = {
        opaque: buf.readUInt32BE(pos),
        cmdType: buf[pos + 4],
        version: buf.readInt16BE(pos + 5),
        // extension is always 0 in practice: skip the BigInt allocation then
        extension: buf.readInt32BE(pos + 7) === 0 && buf.readInt32BE(pos + 11) === 0 ? 0n : buf.readBigInt64BE(pos + 7),
        body: buf.subarray(pos + FRAME_HEADER_BYTES, frameEnd),
      }
      pos = frameEnd
      try {
        this.#onFrame(frame)
      } catch (err) {
        // A throwing consumer must not lose the frames behind this one.
        this.#keep(buf, pos, FRAME_HEADER_BYTES)
        throw err
      }
    }
    this.#keep(buf, pos, FRAME_HEADER_BYTES)
  }

  #keep(buf: Buffer, from: number, needed: number): void {
    if (from >= buf.length) {
      this.#pending = []
      this.#pendingBytes = 0
    } else if (needed > FRAME_HEADER_BYTES) {
      // the header is in: the frame's buffer can be made now and filled as its bytes come
      this.#assembling = Buffer.allocUnsafe(needed)
      this.#assembled = buf.copy(this.#assembling, 0, from)
      this.#pending = []
      this.#pendingBytes = 0
    } else {
      const rest = buf.subarray(from)
      this.#pending = [rest]
      this.#pendingBytes = rest.length
    }
    this.#needed = needed
  }
}
