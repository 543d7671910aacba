/**
 * The file store's time index: entries (the handles of hot messages, see message-index.ts; a
 * cold message is not in it) grouped in buckets of `bucketMs` by nextDeliverAtMs,
 * each bucket an int32 array sorted on demand by (time, message id). A window query touches only
 * the buckets it spans and binary-searches the cursor in the first, so paging through a million
 * entries due at once costs one sort plus a page per call, not a scan per page.
 *
 * Appends that arrive in order (the common case: saves due "now") keep a bucket sorted; others
 * mark it for sorting at its next query. A removal leaves a hole, unless it takes the first or last
 * entry (deliveries mostly do: they go in due order), which moves that end of the bucket instead.
 * Queries step over holes, and a bucket is compacted only once holes outnumber its entries: doing
 * it at every query rewrote the position of every entry in the bucket per page, which was 6 % of
 * the broker's time draining a 500 000-message burst in pages of 5 000.
 */
import { sortDue, type DueSortKeys } from '../due-sort.ts'
import { Int32Column } from './columns.ts'
import { lowerBound } from './lower-bound.ts'

export interface TimeOrder {
  timeOf(slot: number): number
  compareIds(a: number, b: number): number
  /** 32 bits whose order agrees with compareIds where two differ (a hex id's first word), or -1 (see due-sort.ts). */
  idPrefix(slot: number): number
  compareIdWith(slot: number, messageId: string): number
}

export interface DueCursor {
  nextDeliverAtMs: number
  messageId: string
}

interface Bucket {
  slots: Int32Array
  /** Entries are in [first, length) of `slots`, holes (-1) included. */
  first: number
  length: number
  /** Holes in [first, length). */
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
  readonly #sortKeys: DueSortKeys

  constructor(order: TimeOrder, bucketMs: number) {
    this.#order = order
    this.#bucketMs = bucketMs
    this.#sortKeys = {
      timeOf: (slot) => order.timeOf(slot),
      idPrefix: (slot) => order.idPrefix(slot),
      prefixBits: 32,
      compare: (a, b) => order.timeOf(a) - order.timeOf(b) || order.compareIds(a, b),
    }
  }

  /** Indexes `slot` at its current time. */
  add(slot: number): void {
    const timeMs = this.#order.timeOf(slot)
    const key = this.#keyOf(timeMs)
    let b = this.#buckets.get(key)
    if (b === undefined) {
      b = { slots: new Int32Array(16), first: 0, length: 0, holes: 0, sorted: true, lastTimeMs: -Infinity }
      this.#buckets.set(key, b)
      this.#keys.splice(lowerBound(this.#keys, key), 0, key)
    }
    if (b.length === b.slots.length) {
      if (b.first + b.holes > b.length / 2) this.#compact(b)
      else {
        const grown = new Int32Array(b.slots.length * 2)
        grown.set(b.slots)
        b.slots = grown
      }
    }
    if (b.sorted && b.length > b.first && timeMs <= b.lastTimeMs) {
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
    if (b === undefined || at < b.first || at >= b.length || b.slots[at] !== slot) {
      throw new Error(`time index corrupt: slot ${slot} not at its position`)
    }
    const slots = b.slots
    if (at === b.length - 1) {
      b.length--
      while (b.length > b.first && slots[b.length - 1] === HOLE) {
        b.length--
        b.holes--
      }
    } else if (at === b.first) {
      b.first++
      while (b.first < b.length && slots[b.first] === HOLE) {
        b.first++
        b.holes--
      }
    } else {
      slots[at] = HOLE
      b.holes++
    }
    if (b.first === b.length) {
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
      const slots = b.slots
      // a binary search that looks at the first entry at or after each midpoint
      let lo = b.first
      let hi = b.length
      while (lo < hi) {
        const mid = (lo + hi) >>> 1
        let at = mid
        while (at < hi && slots[at] === HOLE) at++
        if (at < hi && before(slots[at])) lo = at + 1
        else hi = mid
      }
      for (let i = lo; i < b.length; i++) {
        const slot = slots[i]
        if (slot === HOLE) continue
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

  /** Makes the bucket searchable: sorted, and with fewer holes than entries (so steps over them stay short). */
  #prepare(b: Bucket): void {
    const live = b.length - b.first - b.holes
    if (b.sorted && b.holes <= live && b.first <= live) return
    this.#compact(b)
    const slots = b.slots
    if (!b.sorted) {
      sortDue(slots.subarray(0, b.length), this.#sortKeys)
      for (let i = 0; i < b.length; i++) this.#position.set(slots[i], i)
      b.sorted = true
    }
    // a sorted bucket's lastTimeMs must be its latest time for add() to keep it sorted rightly
    b.lastTimeMs = this.#order.timeOf(slots[b.length - 1])
    if (slots.length > 64 && b.length < slots.length / 4) b.slots = slots.slice(0, b.length * 2)
  }

  /** Moves the bucket's entries to the front of its array, in order, without holes. */
  #compact(b: Bucket): void {
    if (b.first === 0 && b.holes === 0) return
    const slots = b.slots
    let w = 0
    for (let r = b.first; r < b.length; r++) {
      const slot = slots[r]
      if (slot === HOLE) continue
      slots[w] = slot
      this.#position.set(slot, w++)
    }
    b.first = 0
    b.length = w
    b.holes = 0
  }
}
