/**
 * The memory store's due order for one topic in one time bucket: its messages sorted by
 * (nextDeliverAtMs, messageId) as of the last query, so that paging through a bucket costs a
 * binary search and a page, not a scan and a sort of the whole bucket per page (a topic re-reading
 * 500 000 spilled entries in pages of 5 000 took 43 s that way).
 *
 * The keys are copied when sorting, because a message's time changes in place. A message added
 * to the bucket makes the order stale (the store drops it then); one removed, or moved to another
 * time, stays in it and is skipped: `entryAt` checks it is still there, at the time it was sorted by.
 */
import type { SlotMap } from '../protocol/slot-map.ts'
import { sortDue } from './due-sort.ts'
import { compareIdText, type DueEntry, type StoredMessage } from './message-store.ts'

/** The first two UTF-16 units of an id as one number: its order agrees with the strings' where two differ. */
const textPrefix = (id: string) => (id.length > 0 ? id.charCodeAt(0) * 0x10000 : 0) + (id.length > 1 ? id.charCodeAt(1) : 0)

export class DueOrder {
  readonly #entries: SlotMap<string, StoredMessage>
  readonly #times: Float64Array
  readonly #ids: string[]
  readonly #messages: StoredMessage[]

  constructor(entries: SlotMap<string, StoredMessage>) {
    this.#entries = entries
    // plain loops: spreading the generator and Array.from with a mapping function cost more than the sort
    const n = entries.size
    const unsorted: StoredMessage[] = new Array(n)
    const times = new Float64Array(n)
    const ids: string[] = new Array(n)
    const order = new Int32Array(n)
    let i = 0
    for (const m of entries.values()) {
      unsorted[i] = m
      times[i] = m.nextDeliverAtMs
      ids[i] = m.messageId
      order[i] = i
      i++
    }
    sortDue(order, {
      timeOf: (k) => times[k],
      idPrefix: (k) => textPrefix(ids[k]),
      prefixBits: 32,
      compare: (a, b) => times[a] - times[b] || compareIdText(ids[a], ids[b]),
    })
    this.#messages = new Array(n)
    this.#times = new Float64Array(n)
    this.#ids = new Array(n)
    for (let k = 0; k < n; k++) {
      const from = order[k]
      this.#messages[k] = unsorted[from]
      this.#times[k] = times[from]
      this.#ids[k] = ids[from]
    }
  }

  get length(): number {
    return this.#messages.length
  }

  /** The first position at or after `fromMs` and strictly after `after`. */
  start(fromMs: number, after: DueEntry | undefined): number {
    let lo = 0
    let hi = this.#messages.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.#before(mid, fromMs, after)) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  timeAt(i: number): number {
    return this.#times[i]
  }

  /** The entry at position `i`, or undefined when its message has gone or moved since the sort. */
  entryAt(i: number): DueEntry | undefined {
    const m = this.#messages[i]
    if (this.#entries.get(this.#ids[i]) !== m || m.nextDeliverAtMs !== this.#times[i]) return undefined
    return { topic: m.topic, messageId: m.messageId, nextDeliverAtMs: m.nextDeliverAtMs }
  }

  #before(i: number, fromMs: number, after: DueEntry | undefined): boolean {
    const t = this.#times[i]
    if (t < fromMs) return true
    if (after === undefined || t > after.nextDeliverAtMs) return false
    return t < after.nextDeliverAtMs || compareIdText(this.#ids[i], after.messageId) <= 0
  }
}
