/**
 * Bytes waiting to be written on one connection. Frames are encoded straight into a shared slab,
 * back to back, and a flush hands the stream one view of everything queued. A slab is never
 * written twice: what was handed out stays as it was (the stream may still hold it), new frames go
 * after it, and a full slab is simply left to the garbage collector. Compared with one buffer per
 * frame joined by Buffer.concat at flush time, this saves an allocation and a copy per frame.
 */
/** Slabs start small (an idle connection holds little) and double up to the largest size. */
const FIRST_SLAB_BYTES = 8 * 1024
const MAX_SLAB_BYTES = 64 * 1024

export class OutboundBuffer {
  #slab: Buffer = Buffer.allocUnsafe(0)
  #nextSlabBytes = FIRST_SLAB_BYTES
  /** Start of the queued bytes in the slab. */
  #start = 0
  /** End of the queued bytes in the slab. */
  #end = 0
  /** Queued views of earlier slabs, in order (only when frames outgrow one slab between flushes). */
  #earlier: Buffer[] = []
  #earlierBytes = 0

  get bytes(): number {
    return this.#earlierBytes + this.#end - this.#start
  }

  /**
   * Room for `length` more bytes at the end of the queue: returns the slab to write them into,
   * at `writeOffset`. They count as queued only after `commit(length)`.
   */
  reserve(length: number): Buffer {
    if (this.#slab.length - this.#end < length) this.#newSlab(length)
    return this.#slab
  }

  get writeOffset(): number {
    return this.#end
  }

  commit(length: number): void {
    this.#end += length
  }

  append(frame: Uint8Array): void {
    this.reserve(frame.length).set(frame, this.#end)
    this.#end += frame.length
  }

  /** Everything queued, as one buffer, leaving the queue empty. */
  take(): Buffer {
    const current = this.#slab.subarray(this.#start, this.#end)
    this.#start = this.#end
    if (this.#earlier.length === 0) return current
    const all = Buffer.concat([...this.#earlier, current], this.#earlierBytes + current.length)
    this.#earlier = []
    this.#earlierBytes = 0
    return all
  }

  clear(): void {
    this.#start = this.#end
    this.#earlier = []
    this.#earlierBytes = 0
  }

  #newSlab(atLeast: number): void {
    if (this.#end > this.#start) {
      this.#earlier.push(this.#slab.subarray(this.#start, this.#end))
      this.#earlierBytes += this.#end - this.#start
    }
    // allocUnsafeSlow: a slab of its own, not a slice of Node's shared pool that would pin the rest
    this.#slab = Buffer.allocUnsafeSlow(Math.max(this.#nextSlabBytes, atLeast))
    this.#nextSlabBytes = Math.min(MAX_SLAB_BYTES, this.#nextSlabBytes * 2)
    this.#start = 0
    this.#end = 0
  }
}
