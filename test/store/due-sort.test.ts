import test from 'ava'
import { sortDue } from '../../store/due-sort.ts'
import { SeededRandom } from '../helpers/random.ts'

interface Case {
  times: number[]
  ids: string[]
}

const compareText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)

/** Entries named by their position plus `base` (large bases leave fewer key bits for the ids). */
function check(t: import('ava').ExecutionContext, c: Case, base: number, prefixOf: (id: string) => number, prefixBits: number): void {
  const n = c.times.length
  const time = (e: number) => c.times[e - base]
  const id = (e: number) => c.ids[e - base]
  const compare = (a: number, b: number) => time(a) - time(b) || compareText(id(a), id(b))
  const entries = Int32Array.from({ length: n }, (_, i) => base + i)
  const want = [...entries].sort(compare)
  sortDue(entries, { timeOf: time, idPrefix: (e) => prefixOf(id(e)), prefixBits, compare })
  t.deepEqual([...entries].map((e) => `${time(e)}/${id(e)}`), want.map((e) => `${time(e)}/${id(e)}`))
}

const hexPrefix = (id: string) => (/^[0-9a-f]{32}$/.test(id) ? Number.parseInt(id.slice(0, 8), 16) : -1)
const twoUnits = (id: string) => (id.length > 0 ? id.charCodeAt(0) * 0x10000 : 0) + (id.length > 1 ? id.charCodeAt(1) : 0)

function hexCase(rng: SeededRandom, n: number, spanMs: number): Case {
  // a few shared first words, so that (time, first word) ties are common
  const firsts = ['00000000', '7fffffff', '80000000', 'ffffffff']
  const ids = Array.from({ length: n }, () => (rng.next() < 0.5 ? rng.pick(firsts) : rng.int(0, 0xffffffff).toString(16).padStart(8, '0')) +
    Array.from({ length: 24 }, () => rng.int(0, 15).toString(16)).join(''))
  return { times: Array.from({ length: n }, () => 1_795_000_000_000 + rng.int(0, spanMs)), ids }
}

test('due sort: hex ids agree with a comparator sort, with many ties and whatever bits are left for the id', (t) => {
  const rng = new SeededRandom(3)
  for (const [n, span, base] of [[5_000, 50, 0], [5_000, 0, 0], [20_000, 1_000, 0], [5_000, 2_000, 40_000_000], [3_000, 2 ** 30, 2 ** 25]]) {
    check(t, hexCase(rng, n, span), base, hexPrefix, 32)
  }
})

test('due sort: text ids by their first two characters, empty and one-character ids included', (t) => {
  const rng = new SeededRandom(4)
  const alphabet = ['', 'a', 'ab', 'a\u0000', 'b', 'ba', '\u0000', '\uffff', 'Ω', 'x-1', 'x-10', 'x-2']
  const n = 4_000
  const ids = Array.from({ length: n }, () => rng.pick(alphabet) + (rng.next() < 0.5 ? String(rng.int(0, 50)) : ''))
  check(t, { times: Array.from({ length: n }, () => rng.int(0, 20)), ids }, 0, twoUnits, 32)
})

test('due sort: an entry without an id prefix falls back to the comparator alone', (t) => {
  const rng = new SeededRandom(5)
  const c = hexCase(rng, 2_000, 30)
  c.ids[700] = 'not-hex'
  check(t, c, 0, hexPrefix, 32)
})
