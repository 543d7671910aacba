/**
 * The file store's time index: entries (the handles of hot messages, see message-index.ts; a
 * cold message is not in it) grouped in buckets of `bucketMs` by nextDeliverAtMs,
 * each bucket an int32 array sorted on demand by (time, message id). A window query touches only
 * the buckets it spans and binary-searches the cursor in the first, so paging through a million
 * entries due at once costs one sort plus a page per call, not a scan per page.
 *
 * Appends that arrive in order (the common case: saves due "now") keep a bucket sorted; others
 * and removals (which leave a hole) mark it for compaction and sorting at its next query.
 */
import { Int32Column } from './columns.ts'
import { lowerBound } from './lower-bound.ts'

export interface TimeOrder {
  timeOf(slot: number): number
  compareIds(a: number, b: number): number
  compareIdWith(slot: number, messageId: string): number
}

export interface DueCursor {
  nextDeliverAtMs: number
  messageId: string
}

interface Bucket {
  slots: Int32Array
  /** Entries in use at the front of `slots`, holes (-1) included. */
  length: number
  holes: number
  sorted: boolean
  /** Time of the last entry appended, so an in-order append needs no look at another slot. */
  lastTimeMs: number
}

const HOLE = -1

export class TimeIndex {
  readonly #order: TimeOrder
  readonly #bucketMs: number
  readonly #buckets = new Map<number, Bucket>()
  /** Keys of the occupied buckets, ascending. */
  readonly #keys: number[] = []
  /** Each slot's position inside its bucket. */
  readonly #position = new Int32Column()
  readonly #compare: (a: number, b: number) => number

  constructor(order: TimeOrder, bucketMs: number) {
    this.#order = order
    this.#bucketMs = bucketMs
    this.#compare = (a, b) => order.timeOf(a) - order.timeOf(b) || order.compareIds(a, b)
  }

  /** Indexes `slot` at its current time. */
  add(slot: number): void {
    const timeMs = this.#order.timeOf(slot)
    const key = this.#keyOf(timeMs)
    let b = this.#buckets.get(key)
    if (b === undefined) {
      b = { slots: new Int32Array(16), length: 0, holes: 0, sorted: true, lastTimeMs: -Infinity }
      this.#buckets.set(key, b)
      this.#keys.splice(lowerBound(this.#keys, key), 0, key)
    }
    if (b.length === b.slots.length) {
      const grown = new Int32Array(b.slots.length * 2)
      grown.set(b.slots)
      b.slots = grown
    }
    if (b.sorted && b.length > 0 && timeMs <= b.lastTimeMs) {
      const last = b.slots[b.length - 1]
      if (timeMs < b.lastTimeMs || last === HOLE || this.#order.compareIds(last, slot) > 0) b.sorted = false
    }
    b.lastTimeMs = timeMs
    this.#position.ensure(slot)
    this.#position.set(slot, b.length)
    b.slots[b.length++] = slot
  }

  /** Unindexes `slot`; call before its time changes (the bucket is found from it). */
  remove(slot: number): void {
    const key = this.#keyOf(this.#order.timeOf(slot))
    const b = this.#buckets.get(key)
    const at = this.#position.get(slot)
    if (b === undefined || b.slots[at] !== slot) throw new Error(`time index corrupt: slot ${slot} not at its position`)
    if (at === b.length - 1) b.length--
    else {
      b.slots[at] = HOLE
      b.holes++
    }
    if (b.length === b.holes) {
      this.#buckets.delete(key)
      this.#keys.splice(lowerBound(this.#keys, key), 1)
    }
  }

  /**
   * Slots with time in [fromMs, toMs), in (time, id) order, strictly after `after`, at most `limit`;
   * only those `accept` takes, when given.
   */
  due(fromMs: number, toMs: number, limit: number, after?: DueCursor, accept?: (slot: number) => boolean): number[] {
    const out: number[] = []
    if (!(limit > 0) || !(fromMs < toMs)) return out
    const order = this.#order
    const before = (slot: number) => {
      const t = order.timeOf(slot)
      if (t < fromMs) return true
      if (after === undefined) return false
      return (t - after.nextDeliverAtMs || order.compareIdWith(slot, after.messageId)) <= 0
    }
    const lastKey = this.#keyOf(toMs)
    for (let k = lowerBound(this.#keys, this.#keyOf(fromMs)); k < this.#keys.length && this.#keys[k] <= lastKey; k++) {
      const b = this.#buckets.get(this.#keys[k])!
      this.#prepare(b)
      let lo = 0
      let hi = b.length
      while (lo < hi) {
        const mid = (lo + hi) >>> 1
        if (before(b.slots[mid])) lo = mid + 1
        else hi = mid
      }
      for (let i = lo; i < b.length; i++) {
        const slot = b.slots[i]
        if (order.timeOf(slot) >= toMs) return out
        if (accept !== undefined && !accept(slot)) continue
        out.push(slot)
        if (out.length >= limit) return out
      }
    }
    return out
  }

  get bytes(): number {
    let n = this.#position.bytes
    for (const b of this.#buckets.values()) n += b.slots.byteLength
    return n
  }

  #keyOf(ms: number): number {
    return Math.floor(ms / this.#bucketMs)
  }

  /** Compacts holes away and sorts, so the bucket can be binary-searched. */
  #prepare(b: Bucket): void {
    if (b.holes === 0 && b.sorted) return
    const slots = b.slots
    if (b.holes > 0) {
      let w = 0
      for (let r = 0; r < b.length; r++) if (slots[r] !== HOLE) slots[w++] = slots[r]
      b.length = w
      b.holes = 0
    }
    if (!b.sorted) slots.subarray(0, b.length).sort(this.#compare)
    b.sorted = true
    // a sorted bucket's lastTimeMs must be its latest time for add() to keep it sorted rightly
    b.lastTimeMs = this.#order.timeOf(slots[b.length - 1])
    for (let i = 0; i < b.length; i++) this.#position.set(slots[i], i)
    if (slots.length > 64 && b.length < slots.length / 4) b.slots = slots.slice(0, b.length * 2)
  }
}
