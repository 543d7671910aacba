import test from 'ava'
import { TimeIndex } from '../../../store/file/time-index.ts'
import { SeededRandom } from '../../helpers/random.ts'

/** Slots with a time and an id, as the message index keeps them for the time index. */
class Entries {
  readonly times: number[] = []
  readonly ids: string[] = []
  readonly live = new Set<number>()

  readonly order = {
    timeOf: (slot: number) => this.times[slot],
    compareIds: (a: number, b: number) => compareText(this.ids[a], this.ids[b]),
    compareIdWith: (slot: number, id: string) => compareText(this.ids[slot], id),
    idPrefix: (slot: number) => (/^[0-9a-f]{32}$/.test(this.ids[slot]) ? Number.parseInt(this.ids[slot].slice(0, 8), 16) : -1),
  }

  /** Live slots with time in [fromMs, toMs), strictly after the cursor, in (time, id) order. */
  due(fromMs: number, toMs: number, limit: number, after?: { nextDeliverAtMs: number; messageId: string }, accept?: (slot: number) => boolean): number[] {
    return [...this.live]
      .filter((s) => this.times[s] >= fromMs && this.times[s] < toMs && (accept?.(s) ?? true))
      .filter((s) => after === undefined || this.times[s] > after.nextDeliverAtMs || (this.times[s] === after.nextDeliverAtMs && this.ids[s] > after.messageId))
      .sort((a, b) => this.times[a] - this.times[b] || compareText(this.ids[a], this.ids[b]))
      .slice(0, limit)
  }
}

const compareText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)

/**
 * A 32-hex-digit id whose first eight digits come from a few values, so that ties on (time, first
 * word) are common; one in `textEvery` is a text id instead (the index then sorts by comparator).
 */
function idFor(rng: SeededRandom, textEvery = Infinity): string {
  if (rng.next() * textEvery < 1) return `x-${rng.int(0, 1e9)}`
  const first = ['00000000', '7fffffff', '80000000', 'ffffffff', rng.int(0, 0xffffffff).toString(16).padStart(8, '0')]
  return rng.pick(first) + Array.from({ length: 24 }, () => rng.int(0, 15).toString(16)).join('')
}

test('time index: pages agree with a brute-force order while entries are added, removed from either end or the middle, and moved', (t) => {
  const rng = new SeededRandom(11)
  const entries = new Entries()
  const index = new TimeIndex(entries.order, 10)
  let clock = 0
  const add = (slot: number, timeMs: number) => {
    entries.times[slot] = timeMs
    entries.ids[slot] = idFor(rng, 300)
    entries.live.add(slot)
    index.add(slot)
  }
  const remove = (slot: number) => {
    index.remove(slot)
    entries.live.delete(slot)
  }
  /** The live slot first (or last) in due order: what deliveries take, more or less. */
  const end = (last: boolean) => {
    const all = entries.due(-Infinity, Infinity, Infinity)
    return last ? all[all.length - 1] : all[0]
  }
  let nextSlot = 0
  let pages = 0
  for (let step = 0; step < 4000; step++) {
    const op = rng.next()
    if (op < 0.35 || entries.live.size === 0) {
      // mostly in order (saves due now), sometimes anywhere in the next few buckets
      clock += rng.int(0, 2)
      add(nextSlot++, rng.next() < 0.7 ? clock : clock + rng.int(-20, 60))
    } else if (op < 0.6) {
      remove(end(false))
    } else if (op < 0.65) {
      remove(end(true))
    } else if (op < 0.8) {
      remove(rng.pick([...entries.live]))
    } else if (op < 0.87) {
      // a retry: a new time for the same slot
      const slot = rng.pick([...entries.live])
      index.remove(slot)
      entries.times[slot] += rng.int(1, 40)
      index.add(slot)
    } else {
      // page through a window, as the scheduler and a topic re-read do
      const fromMs = clock + rng.int(-80, 10)
      const toMs = fromMs + rng.int(1, 120)
      const limit = rng.int(1, 25)
      const accept = rng.next() < 0.3 ? (slot: number) => slot % 3 !== 0 : undefined
      let after: { nextDeliverAtMs: number; messageId: string } | undefined
      for (;;) {
        const got = index.due(fromMs, toMs, limit, after, accept)
        const want = entries.due(fromMs, toMs, limit, after, accept)
        if (got.join() !== want.join()) {
          t.fail(`step ${step}: due(${fromMs}, ${toMs}, ${limit}) after ${JSON.stringify(after)}: got [${got}], want [${want}]`)
          return
        }
        pages++
        if (got.length < limit) break
        const last = got[got.length - 1]
        after = { nextDeliverAtMs: entries.times[last], messageId: entries.ids[last] }
      }
    }
  }
  t.true(pages > 500, `pages compared: ${pages}`)
  t.deepEqual(index.due(-Infinity, Infinity, Infinity), entries.due(-Infinity, Infinity, Infinity))
})

test('time index: a shuffled bucket of large slot numbers, drained in due order a page at a time and a little out of order, pages on without gaps', (t) => {
  const entries = new Entries()
  const index = new TimeIndex(entries.order, 1_000_000)
  const n = 20_000
  const rng = new SeededRandom(5)
  // large slot numbers leave fewer bits of the key for the id: more ties for the comparator
  const slots = Array.from({ length: n }, (_, i) => 3_000_000 + i * 37)
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(0, i)
    ;[slots[i], slots[j]] = [slots[j], slots[i]]
  }
  for (const [i, slot] of slots.entries()) {
    entries.times[slot] = i >> 4
    entries.ids[slot] = idFor(rng)
    entries.live.add(slot)
    index.add(slot)
  }
  let after: { nextDeliverAtMs: number; messageId: string } | undefined
  let delivered = 0
  while (delivered < n) {
    const page = index.due(0, Infinity, 500, after)
    t.deepEqual(page, entries.due(0, Infinity, 500, after))
    const last = page[page.length - 1]
    after = { nextDeliverAtMs: entries.times[last], messageId: entries.ids[last] }
    for (let i = 0; i + 1 < page.length; i += 2) [page[i], page[i + 1]] = [page[i + 1], page[i]]
    for (const slot of page) {
      index.remove(slot)
      entries.live.delete(slot)
    }
    delivered += page.length
  }
  t.deepEqual(index.due(0, Infinity, 10), [])
})
