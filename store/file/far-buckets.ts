/**
 * The far index: where cold messages (see message-index.ts) wait for their time, on disk. One file
 * per bucket of `bucketMs` (an hour by default) of nextDeliverAtMs, each a list of fixed entries
 * of nine 32-bit words in the machine's byte order (the files never outlive the process's run)
 *
 *   slot | save segment | save offset | nextDeliverAtMs (a float64 as two words) | 4 id words
 *
 * appended as messages go cold and read back when the scheduler's window reaches the bucket
 * (`take`). Entries are never updated: a message that is warmed, deleted or whose slot was reused
 * leaves a stale entry, which the reader recognises because the slot is no longer cold at that
 * SAVE location (a location names one SAVE record for as long as it exists).
 *
 * Derived data: the log alone is the truth, and start-up rebuilds this directory from it (`reset`,
 * then the replay adds every cold message). So nothing here is synced, and a crash at any point
 * loses nothing.
 *
 * Writes are buffered per bucket and appended when a bucket's buffer fills, or all at once when
 * buffers hold more than MAX_BUFFERED_BYTES, so a save costs no system call of its own.
 */
import fs from 'node:fs'
import { join } from 'node:path'
import { StoreError } from '../message-store.ts'
import { lowerBound } from './lower-bound.ts'

const ENTRY_WORDS = 9
export const FAR_ENTRY_BYTES = ENTRY_WORDS * 4
const FIRST_BUFFER_WORDS = ENTRY_WORDS * 32
const MAX_BUCKET_BUFFER_WORDS = ENTRY_WORDS * 1820
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024

/** A float64 seen as two 32-bit words. */
const time64 = new Float64Array(1)
const timeWords = new Uint32Array(time64.buffer)

export const farBucketDefaults = { bucketMs: 3_600_000 }

interface Bucket {
  buffer: Uint32Array
  /** Words of `buffer` in use. */
  length: number
  /** Bytes already appended to the bucket's file. */
  fileBytes: number
}

/** Entries read from a bucket file per read. */
const READ_BLOCK_ENTRIES = 4096

/**
 * The entries of a taken bucket, in the order they were added: its file read a block at a time
 * (the file is already unlinked; the descriptor keeps it readable), then what was still buffered.
 */
export class FarEntries {
  #fd: number | undefined
  #fileBytesLeft: number
  #filePos = 0
  readonly #tail: Uint32Array
  #tailDone = false
  #words: Uint32Array
  #end = 0
  #at = -ENTRY_WORDS

  constructor(fd: number | undefined, fileBytes: number, tail: Uint32Array) {
    this.#fd = fd
    this.#fileBytesLeft = fileBytes
    this.#tail = tail
    this.#words = fd === undefined ? new Uint32Array(0) : new Uint32Array(ENTRY_WORDS * READ_BLOCK_ENTRIES)
  }

  /** Moves to the next entry; false at the end (the file is then closed). */
  next(): boolean {
    this.#at += ENTRY_WORDS
    if (this.#at + ENTRY_WORDS <= this.#end) return true
    this.#at = 0
    if (this.#fd !== undefined && this.#fileBytesLeft > 0) {
      const want = Math.min(this.#fileBytesLeft, this.#words.byteLength)
      let got: number
      try {
        got = fs.readSync(this.#fd, this.#words, 0, want, this.#filePos)
      } catch (err) {
        this.close()
        throw new StoreError(`file store: reading a far index bucket failed: ${(err as Error).message}`, { cause: err })
      }
      if (got !== want) {
        this.close()
        throw new StoreError(`file store: a far index bucket ended ${this.#fileBytesLeft - got} bytes early`)
      }
      this.#filePos += got
      this.#fileBytesLeft -= got
      this.#end = got / 4
      return true
    }
    this.close()
    if (!this.#tailDone && this.#tail.length > 0) {
      this.#tailDone = true
      this.#words = this.#tail
      this.#end = this.#tail.length
      return true
    }
    this.#end = 0
    return false
  }

  /** Stops reading (at the end, or when the store stops half-way through). */
  close(): void {
    if (this.#fd === undefined) return
    fs.closeSync(this.#fd)
    this.#fd = undefined
  }

  get slot(): number {
    return this.#words[this.#at]
  }

  get segment(): number {
    return this.#words[this.#at + 1]
  }

  get offset(): number {
    return this.#words[this.#at + 2]
  }

  get nextDeliverAtMs(): number {
    timeWords[0] = this.#words[this.#at + 3]
    timeWords[1] = this.#words[this.#at + 4]
    return time64[0]
  }

  word(i: number): number {
    return this.#words[this.#at + 5 + i]
  }
}

export class FarBuckets {
  readonly bucketMs: number
  readonly #dir: string
  readonly #buckets = new Map<number, Bucket>()
  /** Keys of the buckets holding entries, ascending. */
  readonly #keys: number[] = []
  #bufferedBytes = 0
  #entries = 0

  constructor(dir: string, bucketMs: number = farBucketDefaults.bucketMs) {
    if (!(bucketMs >= 1000)) throw new StoreError(`file store: far index buckets must be at least 1000 ms, not ${bucketMs}`)
    this.#dir = dir
    this.bucketMs = bucketMs
  }

  /** Empties the far index on disk and in memory (start-up rebuilds it from the log). */
  reset(): void {
    this.#buckets.clear()
    this.#keys.length = 0
    this.#bufferedBytes = 0
    this.#entries = 0
    try {
      fs.rmSync(this.#dir, { recursive: true, force: true })
      fs.mkdirSync(this.#dir, { recursive: true })
    } catch (err) {
      throw new StoreError(`file store: cannot reset the far index ${this.#dir}: ${(err as Error).message}`, { cause: err })
    }
  }

  keyOf(ms: number): number {
    return Math.floor(ms / this.bucketMs)
  }

  /** Entries added and not yet taken (stale ones included). */
  get entries(): number {
    return this.#entries
  }

  /** Memory held by write buffers. */
  get bufferedBytes(): number {
    let n = 0
    for (const b of this.#buckets.values()) n += b.buffer.byteLength
    return n
  }

  /** Records a cold message. Throws StoreError when its bucket cannot be written. */
  add(nextDeliverAtMs: number, slot: number, segment: number, offset: number, words: Uint32Array): void {
    const key = this.keyOf(nextDeliverAtMs)
    let b = this.#buckets.get(key)
    if (b === undefined) {
      b = { buffer: new Uint32Array(FIRST_BUFFER_WORDS), length: 0, fileBytes: 0 }
      this.#buckets.set(key, b)
      this.#keys.splice(lowerBound(this.#keys, key), 0, key)
    }
    if (b.length === b.buffer.length) {
      if (b.length < MAX_BUCKET_BUFFER_WORDS) {
        const grown = new Uint32Array(Math.min(b.buffer.length * 2, MAX_BUCKET_BUFFER_WORDS))
        grown.set(b.buffer)
        b.buffer = grown
      } else this.#flush(key, b)
    }
    const buf = b.buffer
    const at = b.length
    time64[0] = nextDeliverAtMs
    buf[at] = slot
    buf[at + 1] = segment
    buf[at + 2] = offset
    buf[at + 3] = timeWords[0]
    buf[at + 4] = timeWords[1]
    buf[at + 5] = words[0]
    buf[at + 6] = words[1]
    buf[at + 7] = words[2]
    buf[at + 8] = words[3]
    b.length = at + ENTRY_WORDS
    this.#bufferedBytes += FAR_ENTRY_BYTES
    this.#entries++
    if (this.#bufferedBytes > MAX_BUFFERED_BYTES) for (const [k, bucket] of this.#buckets) this.#flush(k, bucket)
  }

  /** The smallest bucket key >= `key` that holds entries. */
  firstKeyFrom(key: number): number | undefined {
    const i = lowerBound(this.#keys, key)
    return i < this.#keys.length ? this.#keys[i] : undefined
  }

  /** Removes a bucket and returns its entries (to be read to the end, or closed). */
  take(key: number): FarEntries {
    const b = this.#buckets.get(key)
    if (b === undefined) return new FarEntries(undefined, 0, new Uint32Array(0))
    let fd: number | undefined
    if (b.fileBytes > 0) {
      const path = this.#pathOf(key)
      try {
        fd = fs.openSync(path, 'r')
        fs.unlinkSync(path)
      } catch (err) {
        if (fd !== undefined) fs.closeSync(fd)
        throw new StoreError(`file store: cannot read the far index bucket ${path}: ${(err as Error).message}`, { cause: err })
      }
    }
    this.#buckets.delete(key)
    this.#keys.splice(lowerBound(this.#keys, key), 1)
    this.#bufferedBytes -= b.length * 4
    this.#entries -= (b.fileBytes / 4 + b.length) / ENTRY_WORDS
    return new FarEntries(fd, b.fileBytes, b.buffer.subarray(0, b.length))
  }

  // ------------------------------------------------------------------------------------ internals

  #pathOf(key: number): string {
    return join(this.#dir, `bucket-${key}.far`)
  }

  #flush(key: number, b: Bucket): void {
    if (b.length === 0) return
    try {
      fs.appendFileSync(this.#pathOf(key), new Uint8Array(b.buffer.buffer, 0, b.length * 4))
    } catch (err) {
      throw new StoreError(`file store: cannot write the far index bucket ${this.#pathOf(key)}: ${(err as Error).message}`, { cause: err })
    }
    b.fileBytes += b.length * 4
    this.#bufferedBytes -= b.length * 4
    b.length = 0
  }
}
