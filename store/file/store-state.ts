/**
 * Everything the file store knows without reading a segment: the message index, the time index,
 * the mutable fields of messages that have any, dead letters, snapshots, client bindings, the
 * counters behind stats(), and which segment holds what (for reclaiming).
 *
 * The same transitions serve the live store (after it appended a record) and start-up (for each
 * record replayed), so the state after a restart is by construction the state before it.
 *
 * Near and far: a committed message with nothing but its SAVE record, due in a far-index bucket
 * the scheduler has not reached yet, is saved cold (its id and time go to the far index on disk,
 * not to memory). A bucket is made hot (promoted) before due() answers for times in it, so the
 * time index holds about one bucket of the future plus whatever has state of its own.
 */
import type { Logger } from '../../protocol/logger.ts'
import { SlotMap } from '../../protocol/slot-map.ts'
import { StoreError, type StoreStats } from '../message-store.ts'
import { FarBuckets, type FarEntries } from './far-buckets.ts'
import { MessageIndex } from './message-index.ts'
import type { MessageState } from './record-codec.ts'
import { SegmentRefs } from './segment-refs.ts'
import { TimeIndex } from './time-index.ts'

/**
 * The mutable fields of a message beyond the index's columns (commit, nextDeliverAtMs). Only
 * messages that were ever delivered, committed after saving, rescheduled or dead-lettered have
 * one; for the rest, the SAVE record holds the truth and these fields are zero or empty.
 */
interface Extra {
  deliverCount: number
  txCheckCount: number
  succGroups: readonly string[]
  failGroups: readonly string[]
  deliverAtMs: number | undefined
  expiredTime: number | undefined
  /** Segment of the newest STATE record (0: none). */
  stateSegment: number
}

export interface NewMessage extends Omit<MessageState, 'deliverAtMs' | 'expiredTime' | 'dead'> {
  topic: string
  messageId: string
}

interface Snapshot {
  atMs: number
  json: string
  segment: number
}

interface Bindings {
  topic: string
  groupId: string
  json: string
  segment: number
  /** Every segment that may still hold an older record of these bindings. */
  segments: Set<number>
}

const NO_GROUPS: readonly string[] = Object.freeze([])

/** One-minute buckets would do for the scheduler; ten seconds keep a "due now" bucket small. */
const TIME_BUCKET_MS = 10_000

export interface StoreStateOptions {
  onReclaimable: (segment: number) => void
  far: FarBuckets
  /**
   * The wall clock: messages due in its current bucket (or earlier) are always hot, also once it
   * has moved into a bucket no due() has reached yet (a message due now never waits on disk).
   */
  now: () => number
  logger: Logger
}

export class StoreState {
  readonly index = new MessageIndex()
  readonly refs: SegmentRefs
  /** Orders hot messages by (nextDeliverAtMs, id); its entries are index handles, not slots. */
  readonly time: TimeIndex
  readonly far: FarBuckets
  /** By slot; a SlotMap (protocol/slot-map.ts): delayed and retried messages come and go at message rate. */
  readonly #extras = new SlotMap<number, Extra>()
  /** Insertion order is the order they died in. */
  readonly #dead = new Map<number, { reason: string; deadAtMs: number }>()
  #pendingByTopicId: number[] = []
  #uncommitted = 0
  #snapshots: Snapshot[] = []
  readonly #bindings = new Map<string, Bindings>()
  /** While start-up replays the log the time index is left alone and built once at the end. */
  #loading = false
  /** Far-index buckets below this key have been reached: messages due in them are saved hot. */
  #coldFromKey: number
  /** The bucket being made hot, and the entries not yet looked at. */
  #promoting: { key: number; entries: FarEntries } | undefined
  readonly #logger: Logger
  readonly #now: () => number

  constructor(options: StoreStateOptions) {
    this.refs = new SegmentRefs(options.onReclaimable)
    this.#logger = options.logger
    this.far = options.far
    this.#now = options.now
    this.#coldFromKey = this.far.keyOf(options.now()) + 1
    const index = this.index
    this.time = new TimeIndex({
      timeOf: (handle) => index.timeOfHandle(handle),
      compareIds: (a, b) => index.compareIds(a, b),
      idPrefix: (handle) => index.idPrefix(handle),
      compareIdWith: (handle, id) => index.compareIdWith(handle, id),
    }, TIME_BUCKET_MS)
  }

  /** Start-up replay: defers what is cheaper to do once at the end (time index, reclaiming). */
  beginLoading(): void {
    this.#loading = true
    this.refs.beginLoading()
  }

  endLoading(): void {
    this.#loading = false
    const index = this.index
    // handles are given out in log order at start-up, so buckets fill in time order for time-ordered saves
    for (let h = 0; h < index.handleLimit; h++) {
      const slot = index.slotOf(h)
      if (slot >= 0 && !index.isDead(slot)) this.time.add(h)
    }
    this.refs.endLoading()
  }

  // ---------------------------------------------------------------------------------- messages

  /**
   * Adds a message whose SAVE record is at (segment, offset); the caller has made sure that
   * (topic, messageId) is not stored.
   */
  addMessage(m: NewMessage, segment: number, offset: number): number {
    const index = this.index
    const plain = m.deliverCount === 0 && m.txCheckCount === 0 && m.succGroups.length === 0 && m.failGroups.length === 0
    const slot = index.insert(m.topic, m.messageId, m.nextDeliverAtMs, plain && m.commit && this.#isFar(m.nextDeliverAtMs))
    const cold = index.isCold(slot)
    index.setSaveLocation(slot, segment, offset)
    index.setCommitted(slot, m.commit)
    if (!plain) {
      this.#extras.set(slot, {
        deliverCount: m.deliverCount, txCheckCount: m.txCheckCount, succGroups: [...m.succGroups], failGroups: [...m.failGroups],
        deliverAtMs: undefined, expiredTime: undefined, stateSegment: 0,
      })
    }
    if (cold) this.#goCold(slot, m, segment, offset)
    else if (!this.#loading) this.time.add(index.handleOf(slot))
    this.#countLive(slot, 1)
    this.refs.hold(segment)
    return slot
  }

  #goCold(slot: number, m: NewMessage, segment: number, offset: number): void {
    try {
      this.far.add(m.nextDeliverAtMs, slot, segment, offset, this.index.insertedWords)
    } catch (err) {
      // the far index is only an economy: a message it cannot take stays in memory
      this.#logger.warn({ err: (err as Error).message, code: (err as StoreError).code }, 'file store: far index write failed; message kept in memory')
      this.warm(slot, m.messageId, m.nextDeliverAtMs)
    }
  }

  /** Brings a cold message's id and time (read from its SAVE record) back into memory. */
  warm(slot: number, messageId: string, nextDeliverAtMs: number): void {
    this.index.warmId(slot, messageId, nextDeliverAtMs)
    if (!this.#loading) this.time.add(this.index.handleOf(slot))
  }

  /**
   * Live messages due in [fromMs, toMs), in (time, id) order, after `after`, at most `limit`, only
   * `topic`'s when given: their slots. Or, when the answer needs a far-index bucket made hot first,
   * that bucket's key: the caller promotes it (see beginPromotion) and asks again.
   */
  due(fromMs: number, toMs: number, limit: number, after?: { nextDeliverAtMs: number; messageId: string }, topic?: string): number[] | number {
    if (!(limit > 0) || !(fromMs < toMs)) return []
    const key = this.#firstColdKey(this.far.keyOf(fromMs))
    const coldFromMs = key === undefined ? Infinity : key * this.far.bucketMs
    const index = this.index
    const topicId = topic === undefined ? -1 : index.topicIdNamed(topic)
    if (topicId === undefined) return [] // no message of that topic was ever stored
    const accept = topicId < 0 ? undefined : (handle: number) => index.topicIdOf(index.slotOf(handle)) === topicId
    const hot = this.time.due(fromMs, Math.min(toMs, coldFromMs), limit, after, accept)
    // every cold message is at or after coldFromMs: the hot answer is complete before it
    if (toMs <= coldFromMs || hot.length >= limit) return hot.map((h) => this.index.slotOf(h))
    return key!
  }

  /** The bucket being made hot, if any. */
  get promoting(): number | undefined {
    return this.#promoting?.key
  }

  /**
   * Starts making every message of far-index bucket `key` hot (none may be under way); from now
   * on, saves due in it are hot. promoteSome() does the work, a bounded piece at a time.
   */
  beginPromotion(key: number): void {
    if (this.#promoting !== undefined) throw new StoreError(`file store: bucket ${this.#promoting.key} is still being promoted`)
    this.#coldFromKey = Math.max(this.#coldFromKey, key + 1)
    this.#promoting = { key, entries: this.far.take(key) }
  }

  /** Makes up to `maxEntries` more entries of the promotion under way hot; true once none is under way. */
  promoteSome(maxEntries: number): boolean {
    const promoting = this.#promoting
    if (promoting === undefined) return true
    const index = this.index
    const entries = promoting.entries
    for (let n = 0; n < maxEntries; n++) {
      if (!entries.next()) {
        this.#promoting = undefined
        return true
      }
      const slot = entries.slot
      // stale: deleted, warmed already, or the slot now holds another message
      if (slot >= index.slotLimit || !index.isUsed(slot) || !index.isCold(slot) || index.saveSegment(slot) !== entries.segment ||
        index.saveOffset(slot) !== entries.offset) continue
      index.warm(slot, entries.word(0), entries.word(1), entries.word(2), entries.word(3), entries.nextDeliverAtMs)
      this.time.add(index.handleOf(slot))
    }
    return false
  }

  /** Lets go of the far index's open file, if a promotion is half-way (the store is stopping). */
  close(): void {
    this.#promoting?.entries.close()
    this.#promoting = undefined
  }

  /** The first bucket at or after `fromKey` that may hold cold messages (the one being promoted included). */
  #firstColdKey(fromKey: number): number | undefined {
    const stored = this.far.firstKeyFrom(fromKey)
    const promoting = this.#promoting?.key
    if (promoting === undefined || promoting < fromKey) return stored
    return stored === undefined ? promoting : Math.min(stored, promoting)
  }

  /** The full mutable state of a hot message, as a STATE record carries it. */
  stateOf(slot: number): MessageState {
    const e = this.#extras.get(slot)
    const state: MessageState = {
      commit: this.index.isCommitted(slot), nextDeliverAtMs: this.index.nextDeliverAtMs(slot),
      deliverCount: e?.deliverCount ?? 0, txCheckCount: e?.txCheckCount ?? 0,
      succGroups: e?.succGroups ?? NO_GROUPS, failGroups: e?.failGroups ?? NO_GROUPS,
    }
    if (e?.deliverAtMs !== undefined) state.deliverAtMs = e.deliverAtMs
    if (e?.expiredTime !== undefined) state.expiredTime = e.expiredTime
    const dead = this.#dead.get(slot)
    if (dead !== undefined) state.dead = dead
    return state
  }

  /** Replaces a hot message's mutable state with `state`, whose STATE record is in `segment`. */
  applyState(slot: number, state: MessageState, segment: number): void {
    const index = this.index
    if (index.isCold(slot)) throw new StoreError(`file store: state applied to cold slot ${slot}`)
    const handle = index.handleOf(slot)
    const wasDead = index.isDead(slot)
    const isDead = state.dead !== undefined
    const moves = !this.#loading && (wasDead || isDead || index.nextDeliverAtMs(slot) !== state.nextDeliverAtMs)
    if (!wasDead) {
      if (moves) this.time.remove(handle)
      this.#countLive(slot, -1)
    }
    index.setCommitted(slot, state.commit)
    index.setNextDeliverAtMs(slot, state.nextDeliverAtMs)
    const previous = this.#extras.get(slot)
    this.refs.hold(segment)
    if (previous !== undefined && previous.stateSegment !== 0) this.refs.release(previous.stateSegment)
    this.#extras.set(slot, {
      deliverCount: state.deliverCount, txCheckCount: state.txCheckCount, succGroups: state.succGroups, failGroups: state.failGroups,
      deliverAtMs: state.deliverAtMs, expiredTime: state.expiredTime, stateSegment: segment,
    })
    this.#dead.delete(slot)
    index.setDead(slot, isDead)
    if (isDead) this.#dead.set(slot, state.dead!)
    else {
      if (moves) this.time.add(handle)
      this.#countLive(slot, 1)
    }
  }

  /** Forgets a message; its tombstone (DELETE) is in `tombstoneSegment`. */
  removeMessage(slot: number, tombstoneSegment: number): void {
    const { saveSegment, stateSegment } = this.forgetMessage(slot)
    this.tombstonePlaced(tombstoneSegment, saveSegment, stateSegment)
  }

  /**
   * Forgets a message whose tombstone is not placed in the log yet: it is gone for every lookup,
   * but the segments its records are in stay held until tombstonePlaced() (with what this returns).
   */
  forgetMessage(slot: number): { saveSegment: number; stateSegment: number } {
    const index = this.index
    if (index.isDead(slot)) this.#dead.delete(slot)
    else {
      if (!this.#loading && !index.isCold(slot)) this.time.remove(index.handleOf(slot))
      this.#countLive(slot, -1)
    }
    const saveSegment = index.saveSegment(slot)
    const extra = this.#extras.get(slot)
    this.#extras.delete(slot)
    index.remove(slot)
    return { saveSegment, stateSegment: extra?.stateSegment ?? 0 }
  }

  /** A forgotten message's tombstone is in `tombstoneSegment`: its records' segments may go. */
  tombstonePlaced(tombstoneSegment: number, saveSegment: number, stateSegment: number): void {
    this.refs.dependOn(tombstoneSegment, saveSegment)
    this.refs.release(saveSegment)
    if (stateSegment !== 0) this.refs.release(stateSegment)
  }

  /** Overrides the SAVE record's deliverAtMs / expiredTime, when a STATE record changed them. */
  overridesOf(slot: number): { deliverAtMs: number | undefined; expiredTime: number | undefined } | undefined {
    return this.#extras.get(slot)
  }

  deadLetterOf(slot: number): { reason: string; deadAtMs: number } | undefined {
    return this.#dead.get(slot)
  }

  /** Dead-letter slots in the order they died. */
  deadSlots(): IterableIterator<number> {
    return this.#dead.keys()
  }

  stats(): StoreStats {
    const pendingByTopic: Record<string, number> = {}
    this.#pendingByTopicId.forEach((n, topicId) => {
      if (n > 0) pendingByTopic[this.index.topicName(topicId)] = n
    })
    return { pendingByTopic, uncommitted: this.#uncommitted, deadLetters: this.#dead.size }
  }

  #isFar(ms: number): boolean {
    if (!Number.isFinite(ms) || ms >= 2 ** 52) return false
    const key = this.far.keyOf(ms)
    return key >= this.#coldFromKey && key > this.far.keyOf(this.#now())
  }

  #countLive(slot: number, delta: number): void {
    const topicId = this.index.topicIdOf(slot)
    this.#pendingByTopicId[topicId] = (this.#pendingByTopicId[topicId] ?? 0) + delta
    if (!this.index.isCommitted(slot)) this.#uncommitted += delta
  }

  // --------------------------------------------------------------------------------- snapshots

  addSnapshot(atMs: number, json: string, segment: number): void {
    this.#snapshots.push({ atMs, json, segment })
    this.refs.hold(segment)
  }

  snapshotsSince(sinceMs: number): { atMs: number; json: string }[] {
    return this.#snapshots.filter((s) => s.atMs >= sinceMs)
  }

  hasSnapshotsBefore(beforeMs: number): boolean {
    return this.#snapshots.some((s) => s.atMs < beforeMs)
  }

  /** Drops snapshots older than `beforeMs`; the prune record is in `tombstoneSegment`. */
  pruneSnapshots(beforeMs: number, tombstoneSegment: number): void {
    const kept: Snapshot[] = []
    for (const s of this.#snapshots) {
      if (s.atMs >= beforeMs) {
        kept.push(s)
        continue
      }
      this.refs.dependOn(tombstoneSegment, s.segment)
      this.refs.release(s.segment)
    }
    this.#snapshots = kept
  }

  // ---------------------------------------------------------------------------------- bindings

  /** Sets the bindings of (topic, groupId) from a record in `segment`; "[]" removes them. */
  setBindings(topic: string, groupId: string, json: string, segment: number): void {
    const key = `${topic}\u0000${groupId}`
    const current = this.#bindings.get(key)
    if (json.trim() === '[]') {
      if (current === undefined) return
      this.#bindings.delete(key)
      for (const s of current.segments) this.refs.dependOn(segment, s)
      this.refs.release(current.segment)
      return
    }
    this.refs.hold(segment)
    if (current === undefined) {
      this.#bindings.set(key, { topic, groupId, json, segment, segments: new Set([segment]) })
      return
    }
    this.refs.release(current.segment)
    for (const s of current.segments) if (!this.refs.has(s)) current.segments.delete(s)
    current.segments.add(segment)
    current.json = json
    current.segment = segment
  }

  allBindings(): { topic: string; groupId: string; json: string }[] {
    return [...this.#bindings.values()].map(({ topic, groupId, json }) => ({ topic, groupId, json }))
  }
}
