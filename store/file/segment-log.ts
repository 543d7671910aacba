/**
 * The append-only segment files of the file store and their write path.
 *
 * Group commit: `append` places a record at the end of the active segment at once (its location
 * is final) and returns the promise of the batch it joined. A batch is written once per
 * event-loop turn with ONE positional write per segment it touches (records concatenated), then
 * every caller in it resolves together; records appended while a write is in flight form the
 * next batch, written as soon as that write returns. At most one write is in flight.
 *
 * A record is acknowledged once write(2) returned: the bytes are in the kernel's page cache and
 * survive the process being killed. Surviving power loss is the fsync policy's job:
 * - `batch`: fdatasync before the batch resolves (one per batch, shared by all its callers);
 * - `interval`: fdatasync every `fsyncIntervalMs` when something was written; a power loss or OS
 *   crash may lose the last interval;
 * - `never`: left to the OS (dirty pages usually reach the disk within ~30 s on Linux).
 *
 * A failed write breaks the log: its batch and every later append fail with StoreError until the
 * store is reopened, because later records already have locations behind the failed bytes and
 * start-up would stop at the gap. Recovery then keeps everything up to the last good record.
 */
import fs from 'node:fs'
import { join } from 'node:path'
import type { Logger } from '../../protocol/logger.ts'
import { StoreError, type FsyncPolicy } from '../message-store.ts'
import { ReadWorker, type ReadWaiter } from './read-worker.ts'
import { FRAME_HEADER_BYTES, checkFrame, type FrameCheck } from './record-codec.ts'
import { corruptRecord, readRecordSync } from './record-read.ts'

export interface SegmentLogOptions {
  dir: string
  segmentBytes: number
  fsync: FsyncPolicy
  fsyncIntervalMs: number
  /** Records within this many of the newest bytes of the log are read synchronously (see read()). */
  syncReadBytes: number
  /** Those reads go to a reader thread in batches instead (read-worker.ts). */
  readThread: boolean
  /** Replaces the reader thread's script (tests start one that dies). */
  readThreadEntry?: URL
  /** Replaces the calls that decide what a crash can lose (tests observe, slow or fail them). */
  fileOps?: Partial<SegmentFileOps>
  logger: Logger
  /** Told of every new active segment, before any record is placed in it. */
  onNewSegment: (segment: number) => void
  /**
   * Called before a batch is taken to be written: a caller holding records back to join them into
   * one (the file store's deletes) appends them now, into the batch nextBatchWritten() promised.
   */
  beforeFlush?: () => void
}

/** The file calls whose order matters for what survives a crash. */
export interface SegmentFileOps {
  fdatasync: (fd: number) => Promise<void>
  unlink: (path: string) => Promise<void>
}

export interface Appended {
  segment: number
  offset: number
  written: Promise<void>
}

export interface ReadRecord {
  buf: Buffer
  frame: Extract<FrameCheck, { ok: true }>
}

interface Segment {
  id: number
  path: string
  fd: number | undefined
  /** Where the next appended record goes. */
  appendEnd: number
  /** Bytes known to be in the file. */
  writtenEnd: number
  dirty: boolean
  reads: number
  /** Called when the last read ends (closing or deleting the file waits for it). */
  idle: (() => void)[]
}

interface Run {
  segment: Segment
  offset: number
  buffers: Buffer[]
  bytes: number
}

interface Batch {
  runs: Run[]
  promise: Promise<void>
  resolve: () => void
  reject: (err: Error) => void
}

/** Bytes read for a record before its length is known: one read for any ordinary message. */
const READ_AHEAD_BYTES = 4096

const SEGMENT_NAME = /^segment-(\d{12})\.log$/

export const segmentFileName = (id: number) => `segment-${String(id).padStart(12, '0')}.log`

/** Segment numbers found in `dir`, ascending. */
export function listSegments(dir: string): number[] {
  const ids: number[] = []
  for (const name of fs.readdirSync(dir)) {
    const m = SEGMENT_NAME.exec(name)
    if (m) ids.push(Number(m[1]))
  }
  return ids.sort((a, b) => a - b)
}

const promisified = {
  open: (path: string, flags: number) => new Promise<number>((res, rej) => fs.open(path, flags, 0o644, (e, fd) => (e ? rej(e) : res(fd)))),
  write: (fd: number, buf: Buffer, offset: number, length: number, position: number) =>
    new Promise<number>((res, rej) => fs.write(fd, buf, offset, length, position, (e, n) => (e ? rej(e) : res(n)))),
  read: (fd: number, buf: Buffer, length: number, position: number) =>
    new Promise<number>((res, rej) => fs.read(fd, buf, 0, length, position, (e, n) => (e ? rej(e) : res(n)))),
  fdatasync: (fd: number) => new Promise<void>((res, rej) => fs.fdatasync(fd, (e) => (e ? rej(e) : res()))),
  close: (fd: number) => new Promise<void>((res, rej) => fs.close(fd, (e) => (e ? rej(e) : res()))),
  unlink: (path: string) => new Promise<void>((res, rej) => fs.unlink(path, (e) => (e ? rej(e) : res()))),
}

function newBatch(): Batch {
  let resolve!: () => void
  let reject!: (err: Error) => void
  const promise = new Promise<void>((res, rej) => {
    resolve = res
    reject = rej
  })
  // callers await it; a batch whose callers all went away must not crash the process
  promise.catch(() => {})
  return { runs: [], promise, resolve, reject }
}

function checked(segment: Segment, offset: number, buf: Buffer, got: number, crcChecked = false): ReadRecord {
  const frame = checkFrame(buf, 0, got, crcChecked)
  if (!frame.ok) throw new StoreError(corruptRecord(segment.path, offset, frame.reason))
  return { buf, frame }
}

function readError(segment: Segment, err: unknown): StoreError {
  return err instanceof StoreError ? err : new StoreError(`file store: reading ${segment.path} failed: ${(err as Error).message}`, { cause: err })
}

/** A read of `segment` is over: whoever waits to close or delete it may go once none is left. */
function readEnded(segment: Segment): void {
  segment.reads--
  if (segment.reads === 0) for (const idle of segment.idle.splice(0)) idle()
}

function readsDone(segment: Segment): Promise<void> {
  return segment.reads === 0 ? Promise.resolve() : new Promise((resolve) => segment.idle.push(resolve))
}

/**
 * One read on the reader thread, answered to the promise #readOnThread made: an object where a
 * then() with two closures cost a second promise and ~250 bytes for every fired message.
 */
class ThreadRead<T> implements ReadWaiter {
  readonly #segment: Segment
  readonly #offset: number
  readonly #afterThreadFailed: (segment: Segment, offset: number, err: Error) => ReadRecord
  readonly #take: (record: ReadRecord) => T | PromiseLike<T>
  readonly #done: (value: T | PromiseLike<T>) => void
  readonly #failed: (err: Error) => void

  constructor(
    segment: Segment, offset: number, afterThreadFailed: (segment: Segment, offset: number, err: Error) => ReadRecord,
    take: (record: ReadRecord) => T | PromiseLike<T>, done: (value: T | PromiseLike<T>) => void, failed: (err: Error) => void,
  ) {
    this.#segment = segment
    this.#offset = offset
    this.#afterThreadFailed = afterThreadFailed
    this.#take = take
    this.#done = done
    this.#failed = failed
  }

  resolve(buf: Buffer): void {
    readEnded(this.#segment)
    let value: T | PromiseLike<T>
    try {
      // the thread checked the CRC (3 % of the event loop's time draining a burst, done here)
      value = this.#take(checked(this.#segment, this.#offset, buf, buf.length, true))
    } catch (err) {
      this.#failed(err as Error)
      return
    }
    this.#done(value)
  }

  reject(err: Error): void {
    let value: T | PromiseLike<T>
    try {
      value = this.#take(this.#afterThreadFailed(this.#segment, this.#offset, err))
    } catch (again) {
      this.#failed(again as Error)
      return
    } finally {
      readEnded(this.#segment)
    }
    this.#done(value)
  }
}

export class SegmentLog {
  readonly #options: SegmentLogOptions
  readonly #segments = new Map<number, Segment>()
  #active!: Segment
  #pending: Batch | undefined
  #inFlight: Batch | undefined
  #flushScheduled = false
  #failure: StoreError | undefined
  #closed = false
  #syncTimer: NodeJS.Timeout | undefined
  #syncing: Promise<boolean> | undefined
  #writes = 0
  #fsyncs = 0
  /** Segment deletions, chained: one at a time, in the order asked for (close waits for them). */
  #removals: Promise<void> = Promise.resolve()
  /** A deletion had to keep its file: every later one keeps its own too (see remove()). */
  #removalsStopped = false
  readonly #fileOps: SegmentFileOps
  /** Where synchronous reads land before the record is copied out at its own size. */
  readonly #readScratch = Buffer.allocUnsafe(READ_AHEAD_BYTES)
  readonly #syncReadSegments: number
  /** Started at the first read that wants it. */
  #reader: ReadWorker | undefined
  /** The reader thread died: reads are back on the event loop for good (logged once). */
  #readerBroken = false

  constructor(options: SegmentLogOptions) {
    this.#options = options
    this.#fileOps = { fdatasync: promisified.fdatasync, unlink: promisified.unlink, ...options.fileOps }
    this.#syncReadSegments = Math.ceil(options.syncReadBytes / options.segmentBytes)
  }

  /**
   * Opens the recovered segments (ascending, with their valid sizes); appends continue at the end
   * of the last one, or in a new first segment.
   */
  openSync(existing: readonly { id: number; size: number }[]): void {
    for (const { id, size } of existing) {
      const path = join(this.#options.dir, segmentFileName(id))
      const fd = fs.openSync(path, fs.constants.O_RDWR)
      const segment: Segment = { id, path, fd, appendEnd: size, writtenEnd: size, dirty: false, reads: 0, idle: [] }
      this.#segments.set(id, segment)
      this.#active = segment
    }
    if (existing.length === 0) this.#newSegment(1)
    else this.#options.onNewSegment(this.#active.id)
    if (this.#options.fsync === 'interval') {
      this.#syncTimer = setInterval(() => void this.#syncDirty(), this.#options.fsyncIntervalMs)
      this.#syncTimer.unref()
    }
  }

  get activeSegment(): number {
    return this.#active.id
  }

  /** write(2) and fdatasync(2) calls so far (group commit makes these far fewer than records). */
  get io(): { writes: number; fsyncs: number } {
    return { writes: this.#writes, fsyncs: this.#fsyncs }
  }

  /** Places a complete framed record at the end of the log; `written` settles with its batch. */
  append(record: Buffer): Appended {
    if (this.#closed) throw new StoreError('file store is stopped')
    if (this.#failure !== undefined) throw this.#failure
    let segment = this.#active
    if (segment.appendEnd > 0 && segment.appendEnd + record.length > this.#options.segmentBytes) {
      segment = this.#newSegment(segment.id + 1)
    }
    const batch = (this.#pending ??= newBatch())
    let run = batch.runs[batch.runs.length - 1]
    if (run === undefined || run.segment !== segment) {
      run = { segment, offset: segment.appendEnd, buffers: [], bytes: 0 }
      batch.runs.push(run)
    }
    run.buffers.push(record)
    run.bytes += record.length
    const offset = segment.appendEnd
    segment.appendEnd += record.length
    this.#flushSoon()
    return { segment: segment.id, offset, written: batch.promise }
  }

  /**
   * What a record appended now would wait for: the pending batch (begun if there is none) and its
   * flush. For records held back until beforeFlush; throws as append() would.
   */
  nextBatchWritten(): Promise<void> {
    if (this.#closed) throw new StoreError('file store is stopped')
    if (this.#failure !== undefined) throw this.#failure
    const batch = (this.#pending ??= newBatch())
    this.#flushSoon()
    return batch.promise
  }

  /** Resolves once everything appended so far is written (or rejects if the log broke). */
  async drain(): Promise<void> {
    while (this.#pending !== undefined || this.#inFlight !== undefined) {
      const batch = this.#inFlight ?? this.#pending!
      if (this.#inFlight === undefined) void this.#flush()
      await batch.promise
    }
  }

  /**
   * Reads and checks the record at (segment, offset) and resolves with what `take` makes of it
   * (a throw in `take` rejects; a promise it returns is followed): the caller's decoding runs in the
   * read's own continuation, where a then() on the read would be one more promise for every fired
   * message. A record in the newest `syncReadBytes` of the log (counted in whole segments) was
   * written lately, so it is in the page cache: it is read with a synchronous pread, ~1.5 µs against
   * 7–12 µs of CPU for one through the libuv thread pool (measured on this 2-core machine), on the
   * reader thread in batches (`readThread`, the default) or else on the event loop. Fired delayed
   * messages and retries mostly read from there, up to hundreds of thousands a second. Older records
   * go through the libuv pool, so that a read from the disk itself never holds the event loop.
   */
  read<T>(segmentId: number, offset: number, take: (record: ReadRecord) => T | PromiseLike<T>): Promise<T> {
    const segment = this.#segments.get(segmentId)
    if (segment === undefined) return Promise.reject(new StoreError(`file store: segment ${segmentId} is gone`))
    if (segment.fd === undefined || segment.writtenEnd <= offset || segment.id <= this.#active.id - this.#syncReadSegments) {
      return this.#readLater(segment, offset).then(take)
    }
    if (this.#options.readThread && !this.#readerBroken && !this.#closed) return this.#readOnThread(segment, offset, take)
    let record: ReadRecord
    try {
      record = this.#readNow(segment, segment.fd, offset)
    } catch (err) {
      return Promise.reject(readError(segment, err))
    }
    try {
      return Promise.resolve(take(record))
    } catch (err) {
      return Promise.reject(err)
    }
  }

  #readNow(segment: Segment, fd: number, offset: number): ReadRecord {
    const buf = readRecordSync(fd, this.#readScratch, offset, segment.writtenEnd - offset)
    return checked(segment, offset, buf, buf.length)
  }

  #readOnThread<T>(segment: Segment, offset: number, take: (record: ReadRecord) => T | PromiseLike<T>): Promise<T> {
    const reader = (this.#reader ??= new ReadWorker((err) => this.#readerFailed(err), this.#options.readThreadEntry))
    segment.reads++
    return new Promise((resolve, reject) => {
      reader.read(segment.path, offset, segment.writtenEnd - offset, new ThreadRead(segment, offset, this.#afterThreadFailed, take, resolve, reject))
    })
  }

  /** A read the reader thread could not do: the thread is gone, so it happens here (as every later one will). */
  readonly #afterThreadFailed = (segment: Segment, offset: number, err: Error): ReadRecord => {
    if (!this.#reader?.failed || segment.fd === undefined) throw readError(segment, err)
    try {
      return this.#readNow(segment, segment.fd, offset)
    } catch (again) {
      throw readError(segment, again)
    }
  }

  #readerFailed(err: Error): void {
    this.#readerBroken = true
    this.#options.logger.warn({ err: err.message }, 'file store: reader thread failed; reading on the event loop from now on')
  }

  async #readLater(segment: Segment, offset: number): Promise<ReadRecord> {
    if (segment.writtenEnd <= offset) await this.drain()
    if (segment.fd === undefined || segment.writtenEnd <= offset) throw new StoreError(`file store: segment ${segment.id} has no record at ${offset}`)
    segment.reads++
    try {
      const fd = segment.fd
      let buf = Buffer.allocUnsafe(Math.min(READ_AHEAD_BYTES, segment.writtenEnd - offset))
      let got = await promisified.read(fd, buf, buf.length, offset)
      if (got >= FRAME_HEADER_BYTES) {
        const total = FRAME_HEADER_BYTES + buf.readUInt32LE(0)
        if (total > got && total <= segment.writtenEnd - offset) {
          buf = Buffer.allocUnsafe(total)
          got = await promisified.read(fd, buf, total, offset)
        }
      }
      return checked(segment, offset, buf, got)
    } catch (err) {
      throw readError(segment, err)
    } finally {
      readEnded(segment)
    }
  }

  /**
   * Deletes a segment's file, but only once the records that made it dead are written (and, unless
   * fsync=never, synced): deleting first could let a crash resurrect an older state of a message.
   *
   * Deletions run one at a time, in the order they were asked for. SegmentRefs names a segment
   * only after every older segment its tombstones cancel records in, so the files go in that order
   * too: were a tombstone's file gone first, a crash before the older file goes would bring the
   * cancelled record back. For the same reason a deletion that keeps its file (the log broke, a
   * sync or unlink failed) stops every later one; start-up works out again what may go.
   */
  remove(segmentId: number): void {
    const segment = this.#segments.get(segmentId)
    if (segment === undefined || segment === this.#active) return
    this.#segments.delete(segmentId)
    const writtenBefore = Promise.allSettled([this.#inFlight?.promise, this.#pending?.promise])
    this.#removals = this.#removals
      .then(() => this.#reclaim(segment, writtenBefore))
      .catch((err: Error) => this.#stopRemovals(segment, err.message)) // a rejection would skip every later link
  }

  /** Writes what is pending, syncs (unless fsync=never), closes every file. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    clearInterval(this.#syncTimer)
    try {
      await this.drain()
    } catch {
      // the failure was reported to the callers of the failed batch
    }
    await this.#syncing
    await this.#removals
    // reads under way (on the thread too) finish first
    for (const segment of this.#segments.values()) await readsDone(segment)
    await this.#reader?.close()
    for (const segment of this.#segments.values()) {
      if (segment.fd === undefined) continue
      try {
        if (segment.dirty && this.#options.fsync !== 'never') await this.#fileOps.fdatasync(segment.fd)
        await promisified.close(segment.fd)
      } catch (err) {
        this.#options.logger.error({ err: (err as Error).message, segment: segment.path }, 'file store: closing a segment failed')
      }
      segment.fd = undefined
    }
  }

  // ------------------------------------------------------------------------------------ internals

  #newSegment(id: number): Segment {
    const segment: Segment = {
      id, path: join(this.#options.dir, segmentFileName(id)), fd: undefined, appendEnd: 0, writtenEnd: 0, dirty: false, reads: 0, idle: [],
    }
    this.#segments.set(id, segment)
    this.#active = segment
    this.#options.onNewSegment(id)
    return segment
  }

  #flushSoon(): void {
    if (this.#flushScheduled || this.#inFlight !== undefined) return
    this.#flushScheduled = true
    setImmediate(() => {
      this.#flushScheduled = false
      void this.#flush()
    })
  }

  async #flush(): Promise<void> {
    while (this.#inFlight === undefined && this.#pending !== undefined) {
      this.#options.beforeFlush?.()
      const batch = this.#pending
      this.#pending = undefined
      this.#inFlight = batch
      try {
        if (this.#failure !== undefined) throw this.#failure
        for (const run of batch.runs) await this.#writeRun(run)
        if (this.#options.fsync === 'batch') {
          for (const run of batch.runs) {
            await this.#fileOps.fdatasync(run.segment.fd!)
            this.#fsyncs++
            run.segment.dirty = false
          }
        }
        batch.resolve()
      } catch (err) {
        this.#failure ??= new StoreError(`file store: write failed, no more writes until reopened: ${(err as Error).message}`, { cause: err, retriable: false })
        this.#options.logger.error({ err: (err as Error).message, code: this.#failure.code }, 'file store: write failed; the store refuses writes until it is reopened')
        batch.reject(this.#failure)
        const later = this.#pending as Batch | undefined // appended while this batch was being written
        this.#pending = undefined
        later?.reject(this.#failure)
      } finally {
        this.#inFlight = undefined
      }
    }
  }

  async #writeRun(run: Run): Promise<void> {
    const segment = run.segment
    if (segment.fd === undefined) {
      segment.fd = await promisified.open(segment.path, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_EXCL)
      if (this.#options.fsync !== 'never') await this.#syncDirectory()
    }
    const data = run.buffers.length === 1 ? run.buffers[0] : Buffer.concat(run.buffers, run.bytes)
    let done = 0
    while (done < data.length) {
      this.#writes++
      done += await promisified.write(segment.fd, data, done, data.length - done, run.offset + done)
    }
    segment.writtenEnd = run.offset + run.bytes
    segment.dirty = true
  }

  /** A new file's directory entry must reach the disk too, or a power loss can lose the file. */
  async #syncDirectory(): Promise<void> {
    const fd = await promisified.open(this.#options.dir, fs.constants.O_RDONLY)
    try {
      await new Promise<void>((res, rej) => fs.fsync(fd, (e) => (e ? rej(e) : res())))
    } finally {
      await promisified.close(fd)
    }
  }

  /** Syncs every segment written since its last sync; false when an fdatasync failed. */
  #syncDirty(): Promise<boolean> {
    this.#syncing ??= (async () => {
      let synced = true
      for (const segment of [...this.#segments.values()]) {
        if (!segment.dirty || segment.fd === undefined) continue
        segment.dirty = false
        try {
          await this.#fileOps.fdatasync(segment.fd)
          this.#fsyncs++
        } catch (err) {
          segment.dirty = true
          synced = false
          this.#options.logger.error({ err: (err as Error).message, segment: segment.path }, 'file store: fdatasync failed')
        }
      }
      return synced
    })().finally(() => (this.#syncing = undefined))
    return this.#syncing
  }

  /**
   * Syncs everything written so far. A sync under way may have passed a segment before its latest
   * write: it is waited for, then a new one runs (or one begun meanwhile, hence after the write).
   */
  async #syncAll(): Promise<boolean> {
    if (this.#options.fsync === 'never') return true
    await this.#syncing
    return this.#syncDirty()
  }

  /** One deletion of remove()'s chain. */
  async #reclaim(segment: Segment, writtenBefore: Promise<unknown>): Promise<void> {
    await writtenBefore
    // not when the records that made the file dead may be lost (the log broke, the sync failed) or
    // an earlier deletion kept its file
    const safe = !this.#removalsStopped && this.#failure === undefined && (await this.#syncAll())
    await readsDone(segment)
    await this.#closeSegment(segment)
    if (!safe) {
      this.#stopRemovals(segment, 'the records that made it dead may not be on disk')
      return
    }
    try {
      await this.#fileOps.unlink(segment.path)
      this.#options.logger.debug({ segment: segment.path }, 'file store: deleted a segment whose records are all dead')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.#stopRemovals(segment, (err as Error).message)
    }
  }

  async #closeSegment(segment: Segment): Promise<void> {
    const fd = segment.fd
    segment.fd = undefined
    this.#reader?.forget(segment.path)
    if (fd === undefined) return
    try {
      await promisified.close(fd)
    } catch (err) {
      this.#options.logger.warn({ err: (err as Error).message, segment: segment.path }, 'file store: closing a dead segment failed')
    }
  }

  /** Keeps this file and every later dead one until the next start-up (warned once). */
  #stopRemovals(segment: Segment, why: string): void {
    if (this.#removalsStopped) return
    this.#removalsStopped = true
    this.#options.logger.warn({ err: why, segment: segment.path },
      'file store: could not delete a dead segment; it and later dead segments stay until the next start-up')
  }
}
