/**
 * Sorting many entries into due order, (time, message id), for the stores that keep that order in
 * memory. Calling a comparator n log n times took 0.4 s (file index) to 1.7 s (memory store, on
 * message objects) for the shuffled 500 000 entries of a burst. Here each entry becomes one double
 * (its time, the leading bits of its id and the entry itself) that the engine sorts natively, and
 * only entries tying on time and those bits are ordered by the comparator.
 */

export interface DueSortKeys {
  /** The entry's due time: an integer (epoch ms). */
  timeOf(entry: number): number
  /**
   * An integer in [0, 2^prefixBits) whose order agrees with the ids' where two differ (a hex id's
   * first word, a text id's first character), or -1 when there is none (then only the comparator sorts).
   */
  idPrefix(entry: number): number
  /** Bits of idPrefix's values. */
  prefixBits: number
  /** The full order: time, then id. */
  compare(a: number, b: number): number
}

/** Sorts `entries` (non-negative integers naming the entries: slots, handles, positions) in place. */
export function sortDue(entries: Int32Array, keys: DueSortKeys): void {
  const n = entries.length
  let minTime = Infinity
  let maxTime = -Infinity
  let maxEntry = 0
  for (let i = 0; i < n; i++) {
    const entry = entries[i]
    const t = keys.timeOf(entry)
    if (t < minTime) minTime = t
    if (t > maxTime) maxTime = t
    if (entry > maxEntry) maxEntry = entry
  }
  const entryBits = bitsFor(maxEntry)
  // a double holds integers up to 2^53 exactly; what is left after time and entry goes to the id
  const prefixBits = Math.min(keys.prefixBits, 53 - entryBits - bitsFor(maxTime - minTime))
  if (n < 64 || prefixBits < 0 || !Number.isSafeInteger(minTime) || !Number.isSafeInteger(maxTime)) {
    entries.sort(keys.compare)
    return
  }
  const entryScale = 2 ** entryBits
  const prefixScale = 2 ** prefixBits
  const prefixDrop = 2 ** (keys.prefixBits - prefixBits)
  const packed = new Float64Array(n)
  for (let i = 0; i < n; i++) {
    const entry = entries[i]
    const prefix = keys.idPrefix(entry)
    if (prefix < 0) {
      entries.sort(keys.compare)
      return
    }
    packed[i] = ((keys.timeOf(entry) - minTime) * prefixScale + Math.floor(prefix / prefixDrop)) * entryScale + entry
  }
  packed.sort()
  for (let i = 0; i < n; i++) entries[i] = packed[i] % entryScale
  // runs tying on (time, prefix) came out in entry order: put each in id order
  for (let start = 0; start < n;) {
    const tie = Math.floor(packed[start] / entryScale)
    let end = start + 1
    while (end < n && Math.floor(packed[end] / entryScale) === tie) end++
    if (end - start > 1) entries.subarray(start, end).sort(keys.compare)
    start = end
  }
}

/** Bits needed to write the non-negative integer `n`. */
function bitsFor(n: number): number {
  let bits = 0
  while (2 ** bits <= n) bits++
  return bits
}
