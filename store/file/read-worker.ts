/**
 * Reads records on a thread of their own. Fired delayed messages and retries each need their record
 * read back; on the event loop, one pread each, that work (~2 µs a record in the kernel, more
 * waiting for a core) sat on the broker's one busy thread while the second core was mostly idle.
 * Reads asked for in one turn go to the thread as one batch and come back as one transferred
 * buffer, so the event loop pays one message per batch and a slow disk never holds it. A burst of
 * 500 000 due messages drained in 6.8–9.0 s this way against 9.1–10.4 s (BENCHMARKS.md).
 */
import type { Worker } from 'node:worker_threads'
import { StoreError } from '../message-store.ts'
import { startStoreThread } from '../thread-entry.ts'

export interface ReadBatch {
  kind: 'read'
  id: number
  /**
   * Per read three numbers: the file's number (see OpenFile), the offset, and the bytes readable
   * there (the record is at most this long). Numbers in one transferred array, not arrays of
   * paths and numbers: cloning those cost the event loop ~50 µs a batch of ~120 reads.
   */
  reads: Float64Array
}

/** Names a segment file for the reads that follow. */
export interface OpenFile {
  kind: 'open'
  file: number
  path: string
}

/** Closes the thread's descriptor of a segment about to be deleted. */
export interface ForgetFile {
  kind: 'forget'
  file: number
}

export type ReaderCommand = ReadBatch | OpenFile | ForgetFile

export interface ReadBatchResult {
  id: number
  /** The records back to back; record i ends at ends[i]. */
  data: ArrayBuffer
  ends: Uint32Array
  /** Per record: why it could not be read or failed its check, as the error says it (absent when all were fine). */
  errors?: (string | null)[]
}

/** Who a read's answer goes to: the record (its frame checked by the thread), or why there is none. */
export interface ReadWaiter {
  resolve(record: Buffer): void
  reject(err: Error): void
}

/** Reads per batch at most: bigger batches wait longer for their first answer. */
const MAX_BATCH = 256

/** Numbers per read in ReadBatch.reads. */
export const READ_FIELDS = 3

export class ReadWorker {
  readonly #worker: Worker
  /** The reads of the batch being gathered, READ_FIELDS numbers each (#nextWaiters has their count). */
  readonly #next = new Float64Array(MAX_BATCH * READ_FIELDS)
  #nextWaiters: ReadWaiter[] = []
  /** The number the thread knows each segment file by. */
  readonly #files = new Map<string, number>()
  #fileNumbers = 0
  readonly #inFlight = new Map<number, ReadWaiter[]>()
  #batchIds = 0
  #failed: Error | undefined
  #closing = false
  readonly #onFailure: (err: Error) => void

  /**
   * `onFailure` hears once that the thread died (every read then rejects). `threadEntry` replaces
   * the thread's script (tests start one that fails).
   */
  constructor(onFailure: (err: Error) => void, threadEntry?: URL) {
    this.#onFailure = onFailure
    this.#worker = startStoreThread(import.meta.url, './read-worker-thread.ts', threadEntry)
    this.#worker.unref()
    this.#worker.on('message', (result: ReadBatchResult) => this.#answer(result))
    this.#worker.on('error', (err) => this.#fail(new StoreError(`file store: reader thread failed: ${err.message}`, { cause: err })))
    this.#worker.on('exit', () => this.#fail(new StoreError('file store: reader thread exited')))
  }

  get failed(): boolean {
    return this.#failed !== undefined
  }

  /**
   * Reads the record at (path, offset), at most `limit` bytes, and answers `waiter` with it, its
   * frame checked by the thread (a record that fails the check is rejected, as one that cannot be
   * read is). The answer comes later, never from within this call, unless the thread has failed.
   */
  read(path: string, offset: number, limit: number, waiter: ReadWaiter): void {
    if (this.#failed !== undefined) {
      waiter.reject(this.#failed)
      return
    }
    const n = this.#nextWaiters.length
    if (n === 0) process.nextTick(this.#send)
    const at = n * READ_FIELDS
    this.#next[at] = this.#fileOf(path)
    this.#next[at + 1] = offset
    this.#next[at + 2] = limit
    this.#nextWaiters.push(waiter)
    if (n + 1 >= MAX_BATCH) this.#send()
  }

  /** Closes the thread's descriptor for `path` (after every read asked for before). */
  forget(path: string): void {
    const file = this.#files.get(path)
    if (file === undefined) return
    this.#files.delete(path)
    if (this.#failed !== undefined) return
    // reads gathered for it go first
    this.#send()
    this.#worker.postMessage({ kind: 'forget', file } satisfies ForgetFile)
  }

  /** Stops the thread; call once no read is waiting (reads still waiting are rejected). */
  async close(): Promise<void> {
    this.#closing = true
    this.#fail(new StoreError('file store is stopped'))
    await this.#worker.terminate()
  }

  #fileOf(path: string): number {
    let file = this.#files.get(path)
    if (file === undefined) {
      this.#files.set(path, (file = ++this.#fileNumbers))
      this.#worker.postMessage({ kind: 'open', file, path } satisfies OpenFile)
    }
    return file
  }

  readonly #send = (): void => {
    const n = this.#nextWaiters.length
    if (n === 0 || this.#failed !== undefined) return
    const batch: ReadBatch = { kind: 'read', id: ++this.#batchIds, reads: this.#next.slice(0, n * READ_FIELDS) }
    this.#inFlight.set(batch.id, this.#nextWaiters)
    this.#nextWaiters = []
    this.#worker.postMessage(batch, [batch.reads.buffer as ArrayBuffer])
  }

  #answer(result: ReadBatchResult): void {
    const waiters = this.#inFlight.get(result.id)
    if (waiters === undefined) return
    this.#inFlight.delete(result.id)
    const data = Buffer.from(result.data)
    let start = 0
    for (let i = 0; i < waiters.length; i++) {
      const end = result.ends[i]
      const error = result.errors?.[i]
      if (error != null) waiters[i].reject(new StoreError(error))
      else waiters[i].resolve(data.subarray(start, end))
      start = end
    }
  }

  #fail(err: Error): void {
    if (this.#failed !== undefined) return
    this.#failed = err
    if (!this.#closing) this.#onFailure(err)
    for (const waiters of [...this.#inFlight.values(), this.#nextWaiters]) for (const w of waiters) w.reject(err)
    this.#inFlight.clear()
    this.#nextWaiters = []
  }
}
