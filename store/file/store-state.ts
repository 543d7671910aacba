/**
 * Everything the file store knows without reading a segment: the message index, the time index,
 * the mutable fields of messages that have any, dead letters, snapshots, client bindings, the
 * counters behind stats(), and which segment holds what (for reclaiming).
 *
 * The same transitions serve the live store (after it appended a record) and start-up (for each
 * record replayed), so the state after a restart is by construction the state before it.
 */
import type { StoreStats } from '../message-store.ts'
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

export class StoreState {
  readonly index = new MessageIndex()
  readonly refs: SegmentRefs
  readonly time: TimeIndex
  readonly #extras = new Map<number, Extra>()
  /** Insertion order is the order they died in. */
  readonly #dead = new Map<number, { reason: string; deadAtMs: number }>()
  #pendingByTopicId: number[] = []
  #uncommitted = 0
  #snapshots: Snapshot[] = []
  readonly #bindings = new Map<string, Bindings>()
  /** While start-up replays the log the time index is left alone and built once at the end. */
  #loading = false

  constructor(onReclaimable: (segment: number) => void) {
    this.refs = new SegmentRefs(onReclaimable)
    const index = this.index
    this.time = new TimeIndex({
      timeOf: (slot) => index.nextDeliverAtMs(slot),
      compareIds: (a, b) => index.compareIds(a, b),
      compareIdWith: (slot, id) => index.compareIdWith(slot, id),
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
    // slot order is (mostly) log order, so buckets fill in time order for time-ordered saves
    for (let slot = 0; slot < index.slotLimit; slot++) if (index.isUsed(slot) && !index.isDead(slot)) this.time.add(slot)
    this.refs.endLoading()
  }

  // ---------------------------------------------------------------------------------- messages

  /** A live slot for (topic, messageId), or -1. */
  liveSlot(topic: string, messageId: string): number {
    const slot = this.index.lookup(topic, messageId)
    return slot >= 0 && !this.index.isDead(slot) ? slot : -1
  }

  deadSlot(topic: string, messageId: string): number {
    const slot = this.index.lookup(topic, messageId)
    return slot >= 0 && this.index.isDead(slot) ? slot : -1
  }

  /** Adds a message whose SAVE record is at (segment, offset); -1 when it is already stored. */
  addMessage(m: NewMessage, segment: number, offset: number): number {
    const index = this.index
    const slot = index.insert(m.topic, m.messageId)
    if (slot < 0) return -1
    index.setSaveLocation(slot, segment, offset)
    index.setCommitted(slot, m.commit)
    index.setNextDeliverAtMs(slot, m.nextDeliverAtMs)
    if (m.deliverCount !== 0 || m.txCheckCount !== 0 || m.succGroups.length > 0 || m.failGroups.length > 0) {
      this.#extras.set(slot, {
        deliverCount: m.deliverCount, txCheckCount: m.txCheckCount, succGroups: [...m.succGroups], failGroups: [...m.failGroups],
        deliverAtMs: undefined, expiredTime: undefined, stateSegment: 0,
      })
    }
    if (!this.#loading) this.time.add(slot)
    this.#countLive(slot, 1)
    this.refs.hold(segment)
    return slot
  }

  /** The full mutable state of a message, as a STATE record carries it. */
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

  /** Replaces a message's mutable state with `state`, whose STATE record is in `segment`. */
  applyState(slot: number, state: MessageState, segment: number): void {
    const index = this.index
    const wasDead = index.isDead(slot)
    const isDead = state.dead !== undefined
    const moves = !this.#loading && (wasDead || isDead || index.nextDeliverAtMs(slot) !== state.nextDeliverAtMs)
    if (!wasDead) {
      if (moves) this.time.remove(slot)
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
      if (moves) this.time.add(slot)
      this.#countLive(slot, 1)
    }
  }

  /** Forgets a message; its tombstone (DELETE) is in `tombstoneSegment`. */
  removeMessage(slot: number, tombstoneSegment: number): void {
    const index = this.index
    if (index.isDead(slot)) this.#dead.delete(slot)
    else {
      if (!this.#loading) this.time.remove(slot)
      this.#countLive(slot, -1)
    }
    const saveSegment = index.saveSegment(slot)
    const extra = this.#extras.get(slot)
    this.#extras.delete(slot)
    index.remove(slot)
    this.refs.dependOn(tombstoneSegment, saveSegment)
    this.refs.release(saveSegment)
    if (extra !== undefined && extra.stateSegment !== 0) this.refs.release(extra.stateSegment)
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
