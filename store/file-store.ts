/**
 * `file://dir` — an append-only log of segment files with an in-memory index (see store/file/).
 *
 * Memory holds the index, not the messages, and only the near future of it in full: a message
 * due within the far index's current bucket (an hour), or with any state beyond its SAVE record,
 * is hot (id, time and place in the time index in memory); a committed message due later is cold:
 * a hash of its id, its topic and where its SAVE record is (about 22 bytes with the hash table),
 * its id and time in the far index on disk until the scheduler's window reaches its hour (see
 * store-state.ts). A lookup that meets a cold message checks its id against the SAVE record on
 * disk, so answers stay exact. get() reads the body back from the segment with one positional
 * read. Every change
 * is applied to the index at once (reads see it) and appended to the log (deletes gather into one
 * record per batch, file/pending-deletes.ts); the call resolves when its batch is written (group
 * commit, one write per event-loop turn, see segment-log.ts).
 *
 * Durability (`fsync`, default `interval` every 100 ms): every acknowledged write has reached
 * the OS, so a killed process loses nothing it acknowledged. `batch` also fdatasyncs before
 * acknowledging (survives power loss; costs one fsync per batch, the batch's callers wait for
 * it); `interval` may lose the last ~100 ms to a power loss or OS crash; `never` leaves it to
 * the OS.
 *
 * Start-up replays every segment (CRC-checked; a torn tail is truncated with a warning, replay goes
 * on after a damaged record in the middle, whose segment is then never deleted) and is
 * synchronous: 1 M pending messages in about 2.6 s. Segments whose records are all dead are
 * deleted as soon as that is safe. One store per directory (a LOCK file).
 *
 * URI: `file:///abs/dir?fsync=interval&fsyncIntervalMs=100&segmentBytes=67108864&maxMessages=0&syncReadBytes=1073741824&readThread=true`;
 * a relative directory is written the KiteQ way, host + path: `file://./data` is `./data`.
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { silentLogger, type Logger } from '../protocol/logger.ts'
import { lockFile } from './lock-file.ts'
import { FarBuckets, farBucketDefaults } from './file/far-buckets.ts'
import {
  RecordType, decodeBindings, decodeDelete, decodeDeletes, decodeSave, decodeSaveSummary, decodeSnapshot, decodeState, encodeBindings,
  encodePruneSnapshots, encodeSave, encodeSnapshot, encodeState, RecordReader, type MessageState, type SaveLocation,
} from './file/record-codec.ts'
import { PendingDeletes } from './file/pending-deletes.ts'
import { recoverSegments } from './file/recovery.ts'
import { SaveKeyReader } from './file/save-key-reader.ts'
import { SegmentLog, listSegments, type ReadRecord } from './file/segment-log.ts'
import type { FsyncPolicy } from './message-store.ts'
import { StoreState } from './file/store-state.ts'
import {
  StoreError, headerOf, type DeadLetter, type DeadLetterQuery, type DeliveryUpdate, type DueEntry, type MessageStore, type StatSnapshot,
  type StoreStats, type StoredBindings, type StoredMessage,
} from './message-store.ts'


export interface FileStoreOptions {
  dir: string
  fsync?: FsyncPolicy
  fsyncIntervalMs?: number
  /** A new segment is started once the active one would grow past this. */
  segmentBytes?: number
  /** Live plus dead messages held at most (0 = no limit). */
  maxMessages?: number
  /**
   * Records in the newest this-many bytes of the log are read synchronously, from the page cache
   * (see segment-log.ts); older ones through the thread pool. 0: every read goes to the thread
   * pool, for a host whose page cache cannot hold that much of what was written lately.
   */
  syncReadBytes?: number
  /**
   * Those recent records are read on a thread of the store's own, in batches (read-worker.ts);
   * false: on the event loop, one pread each.
   */
  readThread?: boolean
  /** Span of one far-index bucket: how far ahead of the scheduler's window messages stay in memory. */
  farBucketMs?: number
  /** The wall clock (Date.now): a message due in its current far bucket is always kept in memory. */
  now?: () => number
  logger?: Logger
}

/**
 * `interval` by default: acknowledging after write(2) and syncing in the background every 100 ms
 * measured 68 000 saves/s here (c=100, 512 B), `batch` 30 000 (the disk's fdatasync latency is
 * on every acknowledgement); the price is up to ~100 ms of acknowledged writes on power loss.
 */
export const fileStoreDefaults = {
  fsync: 'interval' as FsyncPolicy,
  fsyncIntervalMs: 100,
  segmentBytes: 64 * 1024 * 1024,
  maxMessages: 0,
  syncReadBytes: 1024 * 1024 * 1024,
  /** 500 000 messages due in one second: last delivered after 6.8–9.0 s with it, 9.1–10.4 s without. */
  readThread: true,
  farBucketMs: farBucketDefaults.bucketMs,
}

/** The far index's directory inside the store's. */
const FAR_DIR = 'far'
/** A few ms of work (0.4 µs an entry at 10 M messages): a promotion never holds the event loop longer. */
const PROMOTE_ENTRIES_PER_TURN = 8192

/** Offsets are kept as 32-bit numbers. */
const MAX_SEGMENT_BYTES = 2 ** 31

/** What start-up found, for logs and the benchmark. */
export interface FileStoreOpenReport {
  segments: number
  records: number
  bytes: number
  truncatedBytes: number
  /** Segments with damaged records (see file/recovery.ts), kept for inspection. */
  corruptSegments: number
  messages: number
  /** Of `messages`, those whose ids are only in the far index (see the file comment). */
  coldMessages: number
  elapsedMs: number
}

/** What a lookup found: the slot, and for a cold one its SAVE record (read to check the id). */
interface Found {
  slot: number
  saved: StoredMessage | undefined
}

/** Verdicts on cold candidates of one lookup, by SAVE location, kept across its passes. */
interface ColdVerdicts {
  matching: Map<string, StoredMessage>
  other: Set<string>
}

const locationKey = (segment: number, offset: number) => `${segment}:${offset}`
const done = () => true

/** A hot message's SAVE record (decoded) with the index's changes on top: the message as it stands. */
function withState(m: StoredMessage, topic: string, id: string, s: MessageState): StoredMessage {
  if (m.topic !== topic || m.messageId !== id) throw new StoreError(`file store: index points ${topic}/${id} at ${m.topic}/${m.messageId}`)
  m.commit = s.commit
  m.nextDeliverAtMs = s.nextDeliverAtMs
  m.deliverCount = s.deliverCount
  m.txCheckCount = s.txCheckCount
  m.succGroups = [...s.succGroups]
  m.failGroups = [...s.failGroups]
  if (s.deliverAtMs !== undefined) m.deliverAtMs = s.deliverAtMs
  if (s.expiredTime !== undefined) {
    m.expiredTime = s.expiredTime
    m.header = { ...headerOf(m), expiredTime: s.expiredTime }
    m.headerBytes = undefined
  }
  return m
}

/** A SAVE record read back, decoded; `topic` and `messageId` name it in errors. */
function decodeSaveRecord({ buf, frame }: ReadRecord, topic: string, messageId: string): StoredMessage {
  try {
    if (frame.type !== RecordType.SAVE) throw new Error(`record type ${frame.type}`)
    return decodeSave(new RecordReader(buf, frame.payloadStart, frame.end), messageId)
  } catch (err) {
    throw new StoreError(`file store: the record of ${topic}/${messageId} is unreadable: ${(err as Error).message}`, { cause: err })
  }
}

function isSavedAt(index: StoreState['index'], slot: number, at: SaveLocation): boolean {
  return index.saveSegment(slot) === at.segment && index.saveOffset(slot) === at.offset
}

export class FileStore implements MessageStore {
  readonly kind = 'file'
  readonly dir: string
  readonly #options: Required<Omit<FileStoreOptions, 'logger'>>
  readonly #logger: Logger
  #state: StoreState | undefined
  #log: SegmentLog | undefined
  #unlock: (() => void) | undefined
  #openReport: FileStoreOpenReport | undefined
  /** Deletes not in the log yet: they go in as one DELETES record before anything else is appended. */
  #deletes: PendingDeletes | undefined

  constructor(options: FileStoreOptions) {
    this.dir = options.dir
    this.#logger = options.logger ?? silentLogger
    this.#options = {
      dir: options.dir,
      fsync: options.fsync ?? fileStoreDefaults.fsync,
      fsyncIntervalMs: options.fsyncIntervalMs ?? fileStoreDefaults.fsyncIntervalMs,
      segmentBytes: options.segmentBytes ?? fileStoreDefaults.segmentBytes,
      maxMessages: options.maxMessages ?? fileStoreDefaults.maxMessages,
      syncReadBytes: options.syncReadBytes ?? fileStoreDefaults.syncReadBytes,
      readThread: options.readThread ?? fileStoreDefaults.readThread,
      farBucketMs: options.farBucketMs ?? fileStoreDefaults.farBucketMs,
      now: options.now ?? Date.now,
    }
    if (!(this.#options.segmentBytes > 0 && this.#options.segmentBytes <= MAX_SEGMENT_BYTES)) {
      throw new StoreError(`file store: segmentBytes must be between 1 and ${MAX_SEGMENT_BYTES}`)
    }
  }

  /** Figures from the last start(). */
  get openReport(): FileStoreOpenReport | undefined {
    return this.#openReport
  }

  /** Bytes of the index's typed arrays and far-index buffers (JS-heap parts such as dead letters are not counted). */
  get indexBytes(): number {
    const state = this.#state
    return state === undefined ? 0 : state.index.bytes + state.time.bytes + state.far.bufferedBytes
  }

  /** Messages held, and how many of them are hot (id and time in memory). */
  get indexCounts(): { messages: number; hot: number } {
    const index = this.#state?.index
    return { messages: index?.size ?? 0, hot: index?.hotCount ?? 0 }
  }

  /** write(2) and fdatasync(2) calls since start(). */
  get io(): { writes: number; fsyncs: number } {
    return this.#log?.io ?? { writes: 0, fsyncs: 0 }
  }

  async start(): Promise<void> {
    if (this.#state !== undefined) return
    const startedAt = performance.now()
    try {
      mkdirSync(this.dir, { recursive: true })
    } catch (err) {
      throw new StoreError(`cannot create file store directory ${this.dir}: ${(err as Error).message}`, { cause: err })
    }
    const unlock = lockFile(join(this.dir, 'LOCK'), `file store ${this.dir}`)
    try {
      const far = new FarBuckets(join(this.dir, FAR_DIR), this.#options.farBucketMs)
      far.reset()
      const state = new StoreState({ onReclaimable: (segment) => this.#log?.remove(segment), far, now: this.#options.now, logger: this.#logger })
      const ids = listSegments(this.dir)
      for (const id of ids) state.refs.add(id)
      state.beginLoading()
      const saves = new SaveKeyReader(this.dir)
      let recovered: ReturnType<typeof recoverSegments>
      try {
        recovered = recoverSegments(this.dir, ids, this.#logger, (type, reader, segment, offset) => this.#replay(state, saves, type, reader, segment, offset))
      } finally {
        saves.close()
      }
      for (const id of recovered.corrupt) state.refs.keep(id)
      const log = new SegmentLog({
        dir: this.dir, segmentBytes: this.#options.segmentBytes, fsync: this.#options.fsync, fsyncIntervalMs: this.#options.fsyncIntervalMs,
        syncReadBytes: this.#options.syncReadBytes,
        readThread: this.#options.readThread,
        logger: this.#logger, onNewSegment: (segment) => state.refs.setActive(segment),
        beforeFlush: () => this.#deletes?.place(),
      })
      log.openSync(recovered.segments)
      this.#log = log
      this.#deletes = new PendingDeletes(log, state)
      this.#state = state
      state.endLoading()
      this.#openReport = {
        segments: recovered.segments.length, records: recovered.records, bytes: recovered.bytes, truncatedBytes: recovered.truncatedBytes,
        corruptSegments: recovered.corrupt.length,
        messages: state.index.size, coldMessages: state.index.size - state.index.hotCount, elapsedMs: performance.now() - startedAt,
      }
      this.#unlock = unlock
      this.#logger.info({ dir: this.dir, ...this.#openReport }, 'file store opened')
    } catch (err) {
      unlock()
      this.#state = undefined
      this.#log = undefined
      this.#deletes = undefined
      throw err instanceof StoreError ? err : new StoreError(`cannot open file store ${this.dir}: ${(err as Error).message}`, { cause: err })
    }
  }

  async stop(): Promise<void> {
    const log = this.#log
    if (log === undefined) return
    this.#deletes?.place()
    this.#deletes = undefined
    this.#log = undefined
    this.#state?.close()
    this.#state = undefined
    await log.close()
    this.#unlock?.()
    this.#unlock = undefined
  }

  // ---------------------------------------------------------------------------------- writes

  save(message: StoredMessage): Promise<void> {
    return this.#withFound(message.topic, message.messageId, (found, state) => {
      // a dead letter keeps its (topic, id) too: one key, one slot (the memory store allows both)
      if (found !== undefined) throw new StoreError(`message ${message.messageId} is already stored`)
      if (this.#options.maxMessages > 0 && state.index.size >= this.#options.maxMessages) {
        throw new StoreError(`file store full: ${this.#options.maxMessages} messages`, { full: true })
      }
      // before the record is logged: one the index then refused would replay as live at start-up
      state.index.assertRoomFor(message.topic)
      let record: Buffer
      try {
        record = encodeSave(message)
      } catch (err) {
        throw new StoreError(`message ${message.messageId} cannot be encoded: ${(err as Error).message}`, { cause: err, retriable: false })
      }
      const { segment, offset, written } = this.#append(record)
      const slot = state.addMessage(message, segment, offset)
      return written.catch((err: unknown) => {
        // not in the log: the message must not be delivered or block a retry of the same id
        if (this.#state === state && state.index.isUsed(slot) && state.index.saveSegment(slot) === segment &&
          state.index.saveOffset(slot) === offset) state.removeMessage(slot, segment)
        throw err
      })
    })
  }

  commit(topic: string, messageId: string): Promise<boolean> {
    return this.#withFound(topic, messageId, (found, state) => {
      // judged on the index, like rollback: an already committed message is neither warmed nor written
      if (found !== undefined && state.index.isCommitted(found.slot)) return false
      return this.#changeFound(found, state, topic, messageId, (s) => {
        s.commit = true
      })
    })
  }

  rollback(topic: string, messageId: string): Promise<boolean> {
    return this.#withFound(topic, messageId, (found, state) => {
      if (found === undefined || state.index.isDead(found.slot) || state.index.isCommitted(found.slot)) return false
      return this.#remove(found.slot, topic, messageId)
    })
  }

  async updateDelivery(topic: string, messageId: string, update: DeliveryUpdate): Promise<void> {
    await this.#changeState(topic, messageId, (s) => {
      s.deliverCount = update.deliverCount
      s.nextDeliverAtMs = update.nextDeliverAtMs
      s.succGroups = [...update.succGroups]
      s.failGroups = [...update.failGroups]
      s.txCheckCount = update.txCheckCount
    })
  }

  async reschedule(topic: string, messageId: string, deliverAtMs: number): Promise<boolean> {
    return this.#changeState(topic, messageId, (s) => {
      s.deliverAtMs = deliverAtMs
      s.nextDeliverAtMs = deliverAtMs
    })
  }

  delete(topic: string, messageId: string): Promise<boolean> {
    return this.#withFound(topic, messageId, (found, state) => {
      if (found === undefined || state.index.isDead(found.slot)) return false
      return this.#remove(found.slot, topic, messageId)
    })
  }

  async moveToDeadLetter(topic: string, messageId: string, reason: string, atMs: number): Promise<boolean> {
    return this.#changeState(topic, messageId, (s) => {
      s.dead = { reason, deadAtMs: atMs }
    })
  }

  async redriveDeadLetter(topic: string, messageId: string, atMs: number): Promise<boolean> {
    const { state } = this.#open()
    // dead letters are always hot: the in-memory lookup is exact
    const deadSlot = () => {
      const slot = state.index.lookup(topic, messageId)
      return slot >= 0 && state.index.isDead(slot) ? slot : -1
    }
    const slot = deadSlot()
    if (slot < 0) return false
    // the expiry to extend may be only in the SAVE record
    const saveOffset = state.index.saveOffset(slot)
    const saved = await this.#read(slot)
    const again = this.#open()
    if (again.state !== state || deadSlot() !== slot || state.index.saveOffset(slot) !== saveOffset) return false
    const s = state.stateOf(slot)
    const expiredTime = s.expiredTime ?? saved.expiredTime
    s.dead = undefined
    s.deliverCount = 0
    s.txCheckCount = 0
    s.failGroups = []
    s.nextDeliverAtMs = atMs
    s.expiredTime = Math.max(expiredTime, Math.floor(atMs / 1000) + 7 * 86400)
    await this.#writeState(slot, topic, messageId, s)
    return true
  }

  async saveSnapshot(snapshot: StatSnapshot): Promise<void> {
    const { state } = this.#open()
    const json = JSON.stringify(snapshot.data)
    const { segment, written } = this.#append(encodeSnapshot(snapshot.atMs, json))
    state.addSnapshot(snapshot.atMs, json, segment)
    await written
  }

  async pruneSnapshots(beforeMs: number): Promise<void> {
    const { state } = this.#open()
    if (!state.hasSnapshotsBefore(beforeMs)) return
    const { segment, written } = this.#append(encodePruneSnapshots(beforeMs))
    state.pruneSnapshots(beforeMs, segment)
    await written
  }

  async saveBindings(bindings: StoredBindings): Promise<void> {
    const { state } = this.#open()
    const { segment, written } = this.#append(encodeBindings(bindings.topic, bindings.groupId, bindings.json))
    state.setBindings(bindings.topic, bindings.groupId, bindings.json, segment)
    await written
  }

  // ----------------------------------------------------------------------------------- reads

  get(topic: string, messageId: string, ref?: number): Promise<StoredMessage | undefined> {
    const fired = ref === undefined ? undefined : this.#readAt(ref, topic, messageId)
    return fired ?? this.#getByLookup(topic, messageId)
  }

  #getByLookup(topic: string, messageId: string): Promise<StoredMessage | undefined> {
    return this.#withFound(topic, messageId, (found, state) => {
      if (found === undefined || state.index.isDead(found.slot)) return undefined
      // a cold message's SAVE record is all there is to it
      return found.saved ?? this.#read(found.slot, messageId)
    })
  }

  async dueBetween(fromMs: number, toMs: number, limit: number, after?: DueEntry, topic?: string): Promise<DueEntry[]> {
    for (;;) {
      const { state } = this.#open()
      const due = state.due(fromMs, toMs, limit, after, topic)
      if (typeof due === 'number') {
        await this.#promote(state, due)
        continue
      }
      const index = state.index
      return due.map((slot) => ({ topic: index.topicOf(slot), messageId: index.messageIdOf(slot), nextDeliverAtMs: index.nextDeliverAtMs(slot), ref: slot }))
    }
  }

  async listDeadLetters(query: DeadLetterQuery = {}): Promise<DeadLetter[]> {
    const { state } = this.#open()
    const limit = query.limit ?? 100
    const chosen: number[] = []
    let skipping = query.afterMessageId !== undefined
    for (const slot of state.deadSlots()) {
      if (skipping) {
        if (state.index.messageIdOf(slot) === query.afterMessageId) skipping = false
        continue
      }
      if (query.topic !== undefined && state.index.topicOf(slot) !== query.topic) continue
      chosen.push(slot)
      if (chosen.length >= limit) break
    }
    const dead = chosen.map((slot) => state.deadLetterOf(slot)!)
    const messages = await Promise.all(chosen.map((slot) => this.#read(slot)))
    return messages.map((message, i) => ({ message, reason: dead[i].reason, deadAtMs: dead[i].deadAtMs }))
  }

  findById(messageId: string): Promise<{ message: StoredMessage; deadLetter?: { reason: string; deadAtMs: number } } | undefined> {
    return this.#withFound(undefined, messageId, async (found, state) => {
      if (found === undefined) return undefined
      if (found.saved !== undefined) return { message: found.saved }
      const dead = state.deadLetterOf(found.slot)
      const message = await this.#read(found.slot, messageId)
      return dead === undefined ? { message } : { message, deadLetter: { reason: dead.reason, deadAtMs: dead.deadAtMs } }
    })
  }

  async stats(): Promise<StoreStats> {
    return this.#open().state.stats()
  }

  async listSnapshots(sinceMs: number): Promise<StatSnapshot[]> {
    return this.#open().state.snapshotsSince(sinceMs).map((s) => ({ atMs: s.atMs, data: JSON.parse(s.json) as Record<string, unknown> }))
  }

  async loadBindings(): Promise<StoredBindings[]> {
    return this.#open().state.allBindings()
  }

  // ------------------------------------------------------------------------------- internals

  #open(): { state: StoreState; log: SegmentLog; deletes: PendingDeletes } {
    if (this.#state === undefined || this.#log === undefined || this.#deletes === undefined) throw new StoreError('file store is not started')
    return { state: this.#state, log: this.#log, deletes: this.#deletes }
  }

  /**
   * Looks (topic, messageId) up (topic undefined: any topic) and runs `act` with the answer in the
   * same synchronous stretch, so nothing changes in between. When the index meets a cold message
   * with the id's hash, its SAVE record is read to check the id, and the lookup runs again.
   */
  #withFound<T>(topic: string | undefined, messageId: string, act: (found: Found | undefined, state: StoreState) => T | Promise<T>): Promise<T> {
    // the usual case, no cold candidate: no await, no extra promise
    try {
      const { state } = this.#open()
      const found = this.#findNow(state, topic, messageId, undefined)
      if (typeof found !== 'number') return Promise.resolve(act(found, state))
    } catch (err) {
      return Promise.reject(err)
    }
    return this.#withFoundChecked(topic, messageId, act)
  }

  async #withFoundChecked<T>(topic: string | undefined, messageId: string, act: (found: Found | undefined, state: StoreState) => T | Promise<T>): Promise<T> {
    let verdicts: ColdVerdicts | undefined
    for (;;) {
      const { state } = this.#open()
      const found = this.#findNow(state, topic, messageId, verdicts)
      if (typeof found !== 'number') return act(found, state)
      verdicts ??= { matching: new Map(), other: new Set() }
      await this.#checkCold(state, found, topic, messageId, verdicts)
    }
  }

  /** The lookup itself: what was found, or a cold slot whose id must be checked first. */
  #findNow(state: StoreState, topic: string | undefined, messageId: string, verdicts: ColdVerdicts | undefined): Found | undefined | number {
    const index = state.index
    const hot = index.probe(topic, messageId)
    if (hot >= 0) return { slot: hot, saved: undefined }
    for (const slot of index.coldMatches) {
      const at = locationKey(index.saveSegment(slot), index.saveOffset(slot))
      const saved = verdicts?.matching.get(at)
      if (saved !== undefined) return { slot, saved }
      if (verdicts === undefined || !verdicts.other.has(at)) return slot
    }
    return undefined
  }

  async #checkCold(state: StoreState, slot: number, topic: string | undefined, messageId: string, verdicts: ColdVerdicts): Promise<void> {
    const index = state.index
    const segment = index.saveSegment(slot)
    const offset = index.saveOffset(slot)
    let saved: StoredMessage
    try {
      saved = await this.#readSave(segment, offset, topic ?? '*', messageId)
    } catch (err) {
      const unchanged = this.#state === state && index.isUsed(slot) && index.isCold(slot) && index.saveSegment(slot) === segment &&
        index.saveOffset(slot) === offset
      if (unchanged) throw err
      return // the message went away while it was read: the next lookup will not meet it
    }
    const at = locationKey(segment, offset)
    if (saved.messageId === messageId && (topic === undefined || saved.topic === topic)) verdicts.matching.set(at, saved)
    else verdicts.other.add(at)
  }

  /**
   * Makes far-index bucket `key` hot (after the promotion under way, if another is), a bounded
   * piece per event-loop turn: a whole bucket at once held the broker for 150 ms at 10 M messages
   * a day. Whoever else waits for it drives it too, which only makes it finish sooner.
   */
  async #promote(state: StoreState, key: number): Promise<void> {
    if (state.promoting === undefined) state.beginPromotion(key)
    while (!state.promoteSome(PROMOTE_ENTRIES_PER_TURN)) {
      await new Promise((resolve) => setImmediate(resolve))
      if (this.#state !== state) throw new StoreError('file store is stopped')
    }
  }

  /** Applies `change` to a live message's state and logs the result; false when not live. */
  #changeState(topic: string, messageId: string, change: (s: MessageState) => void): Promise<boolean> {
    return this.#withFound(topic, messageId, (found, state) => this.#changeFound(found, state, topic, messageId, change))
  }

  #changeFound(found: Found | undefined, state: StoreState, topic: string, messageId: string, change: (s: MessageState) => void): boolean | Promise<boolean> {
    if (found === undefined || state.index.isDead(found.slot)) return false
    const slot = found.slot
    // its state is about to live in memory (and in a STATE record): the id and time must too
    if (found.saved !== undefined) state.warm(slot, messageId, found.saved.nextDeliverAtMs)
    const s = state.stateOf(slot)
    change(s)
    return this.#writeState(slot, topic, messageId, s).then(done)
  }

  #saveLocationOf(state: StoreState, slot: number): SaveLocation {
    return { segment: state.index.saveSegment(slot), offset: state.index.saveOffset(slot) }
  }

  #writeState(slot: number, topic: string, messageId: string, s: MessageState): Promise<void> {
    const { state } = this.#open()
    const { segment, written } = this.#append(encodeState(topic, messageId, s, this.#saveLocationOf(state, slot)))
    state.applyState(slot, s, segment)
    return written
  }

  /**
   * Every record goes in through here: deletes held back for a DELETES record go first, so the log
   * keeps the order of the changes (a delete, then a new SAVE of the same key, must replay as such).
   */
  #append(record: Buffer): ReturnType<SegmentLog['append']> {
    const { log, deletes } = this.#open()
    deletes.place()
    return log.append(record)
  }

  /** Resolves true once the tombstone is written: with the other deletes of its batch, in one record. */
  #remove(slot: number, topic: string, messageId: string): Promise<boolean> {
    return this.#open().deletes.add(slot, topic, messageId)
  }

  /** The SAVE record at (segment, offset), as stored; `topic` and `messageId` name it in errors. */
  #readSave(segment: number, offset: number, topic: string, messageId: string): Promise<StoredMessage> {
    try {
      return this.#open().log.read(segment, offset, (record) => decodeSaveRecord(record, topic, messageId))
    } catch (err) {
      return Promise.reject(err)
    }
  }

  /**
   * The hot message in `slot` as it stands now: its SAVE record with the index's changes on top.
   * One promise, the log's read, decoding in its continuation; no async function: every fired
   * delayed message and retry comes here. `messageId`: the slot's id when the caller has it (found
   * by it), else taken from the index.
   */
  #read(slot: number, messageId?: string): Promise<StoredMessage> {
    try {
      const { state, log } = this.#open()
      const index = state.index
      const topic = index.topicOf(slot)
      const id = messageId ?? index.messageIdOf(slot)
      // taken before the read: the slot may be reused by another message while it is under way
      const s = state.stateOf(slot)
      return log.read(index.saveSegment(slot), index.saveOffset(slot), (record) => withState(decodeSaveRecord(record, topic, id), topic, id, s))
    } catch (err) {
      return Promise.reject(err)
    }
  }

  /**
   * get() of a fired entry's message, from the slot its entry named, without the id's hash probe:
   * on this VM each of the probe's cache misses costs ~0.3 µs, and a burst fires 100 000 messages a
   * second. The slot may have been freed and taken by another message since; the SAVE record read
   * anyway says whose it is, and if it is not this message's, the lookup runs after all. Undefined:
   * the slot is no live hot slot of `topic` now.
   */
  #readAt(slot: number, topic: string, messageId: string): Promise<StoredMessage | undefined> | undefined {
    const state = this.#state
    const log = this.#log
    if (state === undefined || log === undefined || !state.index.mayHold(slot, topic)) return undefined
    const index = state.index
    const s = state.stateOf(slot)
    return log.read(index.saveSegment(slot), index.saveOffset(slot), (record) => {
      const m = decodeSaveRecord(record, topic, messageId)
      return m.messageId === messageId && m.topic === topic ? withState(m, topic, messageId, s) : this.#getByLookup(topic, messageId)
    })
  }

  /**
   * Start-up's lookup: exact by the SAVE location a record names, or (records of older versions)
   * by reading the SAVE record of a cold candidate.
   */
  #replayFind(state: StoreState, saves: SaveKeyReader, topic: string, messageId: string, saveAt: SaveLocation | undefined): number {
    const index = state.index
    const hot = index.probe(topic, messageId)
    if (hot >= 0) return saveAt === undefined || isSavedAt(index, hot, saveAt) ? hot : -1
    for (const slot of index.coldMatches) {
      if (saveAt !== undefined) {
        if (isSavedAt(index, slot, saveAt)) return slot
        continue
      }
      const key = saves.keyAt(index.saveSegment(slot), index.saveOffset(slot))
      if (key.topic === topic && key.messageId === messageId) return slot
    }
    return -1
  }

  /** Applies one record found at start-up. */
  #replay(state: StoreState, saves: SaveKeyReader, type: number, r: RecordReader, segment: number, offset: number): void {
    switch (type) {
      case RecordType.SAVE: {
        const m = decodeSaveSummary(r)
        if (this.#replayFind(state, saves, m.topic, m.messageId, undefined) >= 0) {
          this.#logger.warn({ topic: m.topic, messageId: m.messageId, segment, offset }, 'file store: a second SAVE of a stored message; ignored')
        } else state.addMessage(m, segment, offset)
        return
      }
      case RecordType.STATE: {
        const { topic, messageId, state: s, saveAt } = decodeState(r)
        const slot = this.#replayFind(state, saves, topic, messageId, saveAt)
        // no slot: the message's SAVE went with a reclaimed segment, so it was deleted long ago
        if (slot < 0) return
        if (state.index.isCold(slot)) state.warm(slot, messageId, s.nextDeliverAtMs)
        state.applyState(slot, s, segment)
        return
      }
      case RecordType.DELETE:
      case RecordType.DELETE_AT: {
        const { topic, messageId, saveAt } = decodeDelete(r, type)
        const slot = this.#replayFind(state, saves, topic, messageId, saveAt)
        if (slot >= 0) state.removeMessage(slot, segment)
        return
      }
      case RecordType.DELETES:
        for (const { topic, messageId, saveAt } of decodeDeletes(r)) {
          const slot = this.#replayFind(state, saves, topic, messageId, saveAt)
          if (slot >= 0) state.removeMessage(slot, segment)
        }
        return
      case RecordType.SNAPSHOT: {
        const { atMs, json } = decodeSnapshot(r)
        state.addSnapshot(atMs, json, segment)
        return
      }
      case RecordType.PRUNE_SNAPSHOTS:
        state.pruneSnapshots(r.f64(), segment)
        return
      case RecordType.BINDINGS: {
        const { topic, groupId, json } = decodeBindings(r)
        state.setBindings(topic, groupId, json, segment)
        return
      }
      default:
        this.#logger.warn({ type, segment, offset }, 'file store: unknown record type (written by a newer version?); skipped')
    }
  }
}
