/**
 * Reads records on a thread of their own. Fired delayed messages and retries each need their record
 * read back; on the event loop, one pread each, that work (~2 µs a record in the kernel, more
 * waiting for a core) sat on the broker's one busy thread while the second core was mostly idle.
 * Reads asked for in one turn go to the thread as one batch and come back as one transferred
 * buffer, so the event loop pays one message per batch and a slow disk never holds it. A burst of
 * 500 000 due messages drained in 6.8–9.0 s this way against 9.1–10.4 s (BENCHMARKS.md).
 */
import { Worker } from 'node:worker_threads'
import { StoreError } from '../message-store.ts'

export interface ReadBatch {
  kind: 'read'
  id: number
  paths: string[]
  offsets: number[]
  /** Bytes readable at each offset (the record is at most this long). */
  limits: number[]
}

/** Closes the thread's descriptor of a segment about to be deleted. */
export interface ForgetSegment {
  kind: 'forget'
  path: string
}

export type ReaderCommand = ReadBatch | ForgetSegment

export interface ReadBatchResult {
  id: number
  /** The records back to back; record i ends at ends[i]. */
  data: ArrayBuffer
  ends: Uint32Array
  /** Per record: why it could not be read (absent when all were). */
  errors?: (string | null)[]
}

interface Waiter {
  resolve: (record: Buffer) => void
  reject: (err: Error) => void
}

/** Reads per batch at most: bigger batches wait longer for their first answer. */
const MAX_BATCH = 256

/**
 * The thread's entry: the compiled .js next to this file. Run from the .ts sources (tests, benches
 * under tsx), a worker does not inherit tsx's loader, so it registers it before importing the .ts.
 */
function startThread(replacement?: URL): Worker {
  if (replacement !== undefined) return new Worker(replacement)
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./read-worker-thread.js', import.meta.url))
  const entry = JSON.stringify(new URL('./read-worker-thread.ts', import.meta.url).href)
  return new Worker(`import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${entry}) })`, { eval: true })
}

export class ReadWorker {
  readonly #worker: Worker
  #next: ReadBatch | undefined
  #nextWaiters: Waiter[] = []
  readonly #inFlight = new Map<number, Waiter[]>()
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
    this.#worker = startThread(threadEntry)
    this.#worker.unref()
    this.#worker.on('message', (result: ReadBatchResult) => this.#answer(result))
    this.#worker.on('error', (err) => this.#fail(new StoreError(`file store: reader thread failed: ${err.message}`, { cause: err })))
    this.#worker.on('exit', () => this.#fail(new StoreError('file store: reader thread exited')))
  }

  get failed(): boolean {
    return this.#failed !== undefined
  }

  /** The record at (path, offset), at most `limit` bytes, as read by the thread (unchecked). */
  read(path: string, offset: number, limit: number): Promise<Buffer> {
    if (this.#failed !== undefined) return Promise.reject(this.#failed)
    let batch = this.#next
    if (batch === undefined) {
      batch = this.#next = { kind: 'read', id: ++this.#batchIds, paths: [], offsets: [], limits: [] }
      process.nextTick(this.#send)
    }
    batch.paths.push(path)
    batch.offsets.push(offset)
    batch.limits.push(limit)
    const answer = new Promise<Buffer>((resolve, reject) => this.#nextWaiters.push({ resolve, reject }))
    if (batch.offsets.length >= MAX_BATCH) this.#send()
    return answer
  }

  /** Closes the thread's descriptor for `path` (after every read asked for before). */
  forget(path: string): void {
    if (this.#failed === undefined) this.#worker.postMessage({ kind: 'forget', path } satisfies ForgetSegment)
  }

  /** Stops the thread; call once no read is waiting (reads still waiting are rejected). */
  async close(): Promise<void> {
    this.#closing = true
    this.#fail(new StoreError('file store is stopped'))
    await this.#worker.terminate()
  }

  readonly #send = (): void => {
    const batch = this.#next
    if (batch === undefined) return
    this.#next = undefined
    this.#inFlight.set(batch.id, this.#nextWaiters)
    this.#nextWaiters = []
    this.#worker.postMessage(batch)
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
      if (error != null) waiters[i].reject(new StoreError(`file store: read failed: ${error}`))
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
    this.#next = undefined
  }
}
