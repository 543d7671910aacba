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
 * So holding must pay: per topic, once more of a window's held INSERTs outlived the hold than were
 * withdrawn (its consumers are slower than the hold, or offline), that topic's INSERTs go straight to their
 * batches, and the broker delivers them once committed (MysqlStore.deliverWhileSaving). They are
 * still watched: whether each would have been withdrawn had it been held, i.e. deleted within the
 * hold of its delivery's start (its commit, `committed`; timed from the save, a commit slower than the
 * hold under load would keep the topic from ever holding again). Once more of a window of them
 * would have been withdrawn than not, holding resumes.
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

export interface VerdictRules {
  /** Outcomes (INSERTs of a topic held or watched) a verdict needs on one side, half a window, at least. */
  window: number
  /**
   * And time: one stall of the event loop longer than the hold (a major GC, the VM) lets every INSERT
   * held at that moment outlive it at once, under load hundreds, which alone must not decide.
   */
  minMs: number
}

const defaultRules: VerdictRules = { window: 32, minMs: 100 }

interface TopicOutcomes {
  withdrawn: number
  released: number
  /** When the window's first outcome came. */
  sinceMs: number
  paused: boolean
}

/** Per topic, whether holding its INSERTs pays, from the outcomes of those held or watched. */
class HoldingVerdicts {
  readonly #rules: VerdictRules
  readonly #byTopic = new Map<string, TopicOutcomes>()

  constructor(rules: VerdictRules) {
    this.#rules = rules
  }

  pays(topic: string): boolean {
    return this.#byTopic.get(topic)?.paused !== true
  }

  /** One more INSERT of `topic` was (or would have been) withdrawn, or outlived the hold. */
  count(topic: string, withdrawn: boolean): void {
    const now = performance.now()
    let outcomes = this.#byTopic.get(topic)
    if (outcomes === undefined) this.#byTopic.set(topic, (outcomes = { withdrawn: 0, released: 0, sinceMs: now, paused: false }))
    if (outcomes.withdrawn + outcomes.released === 0) outcomes.sinceMs = now
    if (withdrawn) outcomes.withdrawn++
    else outcomes.released++
    const { window, minMs } = this.#rules
    if (now - outcomes.sinceMs < minMs) return
    if (outcomes.withdrawn * 2 < window && outcomes.released * 2 <= window) return
    outcomes.paused = outcomes.released > outcomes.withdrawn
    outcomes.withdrawn = 0
    outcomes.released = 0
  }
}

/** An INSERT not held, whose delete is waited for as if it had been. */
interface Watched {
  topic: string
  /** When it committed (its delivery started); undefined before. */
  atMs: number | undefined
}

export class HeldInserts {
  readonly #holdMs: number
  readonly #maxHeld: number
  readonly #release: (inserts: HeldInsert[]) => void
  /** By key, oldest first (a Map iterates in insertion order). */
  readonly #held = new Map<string, HeldInsert>()
  /** By key, oldest first. */
  readonly #watched = new Map<string, Watched>()
  readonly #verdicts: HoldingVerdicts
  #timer: ReturnType<typeof setTimeout> | undefined

  /** `release` gets the inserts whose time is up, oldest first, and must queue them. */
  constructor(holdMs: number, maxHeld: number, release: (inserts: HeldInsert[]) => void, rules = defaultRules) {
    this.#holdMs = holdMs
    this.#maxHeld = maxHeld
    this.#release = release
    this.#verdicts = new HoldingVerdicts(rules)
  }

  get size(): number {
    return this.#held.size
  }

  holds(key: string): boolean {
    return this.#held.has(key)
  }

  /** Whether an INSERT of `topic` should be held now; else it should be watched. */
  paysFor(topic: string): boolean {
    return this.#verdicts.pays(topic)
  }

  /** An INSERT of `topic` not held (holding did not pay): its delete is to be timed against the hold. */
  watch(topic: string, key: string): void {
    this.#watched.set(key, { topic, atMs: undefined })
    const now = performance.now()
    // the oldest ones not deleted within the hold would not have been withdrawn
    for (const [oldKey, w] of this.#watched) {
      const young = w.atMs === undefined || w.atMs > now - this.#holdMs
      if (young && this.#watched.size <= this.#maxHeld) break
      this.#watched.delete(oldKey)
      this.#verdicts.count(w.topic, false)
    }
  }

  /** A watched INSERT committed: its message's delivery starts now. */
  committed(key: string): void {
    const w = this.#watched.get(key)
    if (w !== undefined) w.atMs = performance.now()
  }

  /** `key`'s message is being deleted, its INSERT not held: had a watched one been held, would it have been withdrawn? */
  deleted(key: string): void {
    const w = this.#watched.get(key)
    if (w === undefined) return
    this.#watched.delete(key)
    this.#verdicts.count(w.topic, w.atMs === undefined || performance.now() - w.atMs <= this.#holdMs)
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
    if (held !== undefined) this.#verdicts.count(held.topic, true)
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
      this.#verdicts.count(held.topic, false)
    }
    if (due.length > 0) this.#release(due)
  }
}
