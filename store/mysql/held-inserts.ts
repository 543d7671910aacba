/**
 * INSERTs of new messages the broker is delivering while they are saved (MessageStore.deliverWhileSaving),
 * held back for a few milliseconds before they join a batch.
 *
 * Why: a consumer usually acknowledges within a millisecond or two, and a message whose groups all
 * acknowledged it before its INSERT went out is deleted before it was written: the write batcher
 * drops the INSERT and the delete is not written either. Holding the INSERT gives the consumers that
 * time even when the writer is idle; under load it spares the database nearly all its rows (bench/pubsub
 * c=100). The cost is latency for the messages not acknowledged in time: their producers' acks wait
 * the hold on top of the group commit.
 *
 * So holding must pay: per topic, once more than half a window of held INSERTs were not withdrawn
 * (its consumers are slower than the hold, or offline), that topic's INSERTs go straight to their
 * batches. They are still watched (`watch`): whether each would have been withdrawn had it been held,
 * i.e. deleted within the hold. Once half a window of them would have been first, holding resumes.
 *
 * Each INSERT is released once it has been held `holdMs` (or at once when `maxHeld` are held), oldest
 * first. Nothing else of its key may be queued behind a held INSERT: the write batcher releases it
 * first (`take`).
 */
import type { QueuedInsert } from './batch.ts'

export interface HeldInsert {
  topic: string
  table: string
  insert: QueuedInsert
  /** SQL text it adds to a batch. */
  bytes: number
  heldAtMs: number
}

/** INSERTs of a topic, held or watched, per verdict on whether holding them pays. */
const DEFAULT_WINDOW = 32

interface TopicOutcomes {
  withdrawn: number
  released: number
  paused: boolean
}

/** An INSERT not held, whose delete is waited for as if it had been. */
interface Watched {
  topic: string
  atMs: number
}

export class HeldInserts {
  readonly #holdMs: number
  readonly #maxHeld: number
  readonly #release: (inserts: HeldInsert[]) => void
  /** By key, oldest first (a Map iterates in insertion order). */
  readonly #held = new Map<string, HeldInsert>()
  readonly #outcomes = new Map<string, TopicOutcomes>()
  /** By key, oldest first. */
  readonly #watched = new Map<string, Watched>()
  readonly #window: number
  #timer: ReturnType<typeof setTimeout> | undefined

  /** `release` gets the inserts whose time is up, oldest first, and must queue them. */
  constructor(holdMs: number, maxHeld: number, release: (inserts: HeldInsert[]) => void, window = DEFAULT_WINDOW) {
    this.#holdMs = holdMs
    this.#maxHeld = maxHeld
    this.#release = release
    this.#window = window
  }

  get size(): number {
    return this.#held.size
  }

  holds(key: string): boolean {
    return this.#held.has(key)
  }

  /** Whether an INSERT of `topic` should be held now; else it should be watched. */
  paysFor(topic: string): boolean {
    return this.#outcomes.get(topic)?.paused !== true
  }

  /** An INSERT of `topic` not held (holding did not pay): its delete is timed against the hold. */
  watch(topic: string, key: string): void {
    const now = performance.now()
    this.#watched.set(key, { topic, atMs: now })
    // the oldest ones not deleted within the hold would not have been withdrawn
    for (const [oldKey, w] of this.#watched) {
      if (w.atMs > now - this.#holdMs && this.#watched.size <= this.#maxHeld) break
      this.#watched.delete(oldKey)
      this.#count(w.topic, false)
    }
  }

  /** `key`'s message is being deleted, its INSERT not held: had a watched one been held, would it have been withdrawn? */
  deleted(key: string): void {
    const w = this.#watched.get(key)
    if (w === undefined) return
    this.#watched.delete(key)
    this.#count(w.topic, performance.now() - w.atMs <= this.#holdMs)
  }

  hold(topic: string, table: string, insert: QueuedInsert, bytes: number): void {
    this.#held.set(insert.key, { topic, table, insert, bytes, heldAtMs: performance.now() })
    if (this.#held.size > this.#maxHeld) {
      const [oldest] = this.#held.values()
      this.#release([this.take(oldest.insert.key)!])
    }
    this.#timer ??= setTimeout(this.#releaseDue, this.#holdMs)
  }

  /** Takes `key`'s held INSERT out because its message is gone: holding paid. */
  withdraw(key: string): HeldInsert | undefined {
    const held = this.take(key)
    if (held !== undefined) this.#count(held.topic, true)
    return held
  }

  /** Takes `key`'s held INSERT out; undefined when none is held. */
  take(key: string): HeldInsert | undefined {
    const held = this.#held.get(key)
    if (held === undefined) return undefined
    this.#held.delete(key)
    if (this.#held.size === 0) this.#stopTimer()
    return held
  }

  /** Every held INSERT, oldest first; nothing is held afterwards. */
  takeAll(): HeldInsert[] {
    const all = [...this.#held.values()]
    this.#held.clear()
    this.#stopTimer()
    return all
  }

  #stopTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
  }

  readonly #releaseDue = (): void => {
    this.#timer = undefined
    const dueBefore = performance.now() - this.#holdMs
    const due: HeldInsert[] = []
    for (const [key, held] of this.#held) {
      // timers fire up to a millisecond early or late: one due within the next millisecond goes now
      if (held.heldAtMs > dueBefore + 1) {
        this.#timer = setTimeout(this.#releaseDue, held.heldAtMs - dueBefore)
        break
      }
      this.#held.delete(key)
      due.push(held)
      this.#count(held.topic, false)
    }
    if (due.length > 0) this.#release(due)
  }

  #count(topic: string, withdrawn: boolean): void {
    let outcomes = this.#outcomes.get(topic)
    if (outcomes === undefined) this.#outcomes.set(topic, (outcomes = { withdrawn: 0, released: 0, paused: false }))
    if (withdrawn) outcomes.withdrawn++
    else outcomes.released++
    // the verdict is in once either side has more than half of a window, however the rest turns out
    if (outcomes.withdrawn * 2 >= this.#window) outcomes.paused = false
    else if (outcomes.released * 2 > this.#window) outcomes.paused = true
    else return
    outcomes.withdrawn = 0
    outcomes.released = 0
  }
}
