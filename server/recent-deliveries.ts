/**
 * The most recent (topic, messageId) pairs every group received, so a late cancel or reschedule can
 * be answered "already delivered" rather than "not found": at least the last `capacity` of them.
 *
 * Kept in typed arrays, not a Map of strings: one is added per delivery, and a Map of 100 000+
 * churning string keys cost several per cent of the broker's CPU (rehashing its table, promoting
 * every id string to the old generation). Here an entry is about 22 bytes and adding one allocates
 * nothing: ids are 32 hex characters (check-message refuses any other), stored as four 32-bit
 * words; open-addressing tables with linear probing find them. Ids of another shape are not
 * remembered (a lookup of one answers false).
 *
 * Entries live in generations of about capacity / 8, each with a hash table of its own. An add goes
 * to the newest generation; once that is full, the oldest one is emptied in one go and becomes the
 * newest. So adds only ever touch the newest generation's table (about a megabyte at the default
 * capacity), which stays in the cache: with one table for everything, every add missed the cache
 * twice, placing the new entry and removing the oldest (3 % of the broker's main thread draining a
 * burst). Lookups are rare (a cancel of a message no longer stored) and look in every generation.
 * The price: up to one generation more than `capacity` is remembered (`maxRemembered`).
 */
import { hexIdWords } from '../protocol/message-id.ts'

const EMPTY = -1
const ID_WORDS = 4
/** `capacity` is spread over all but the newest: that one fills while the others hold the rest. */
const MAX_GENERATIONS = 9

export class RecentDeliveries {
  readonly #perGeneration: number
  /** Per generation a table, at most half full: per slot an entry position (EMPTY when free) and its hash. */
  readonly #tables: Int32Array[]
  readonly #mask: number
  /** Entries in each generation; generation g holds positions [g * perGeneration, + count). */
  readonly #counts: Int32Array
  /** Id words and topic number per entry position. */
  readonly #ids: Uint32Array
  readonly #topicOf: Uint32Array
  readonly #topicNumbers = new Map<string, number>()
  #newest = 0
  #size = 0
  readonly #key = new Uint32Array(ID_WORDS)

  constructor(capacity: number) {
    const wanted = Math.max(1, Math.floor(capacity))
    const generations = Math.min(MAX_GENERATIONS, wanted + 1)
    this.#perGeneration = Math.ceil(wanted / (generations - 1))
    let tableSize = 2
    while (tableSize < this.#perGeneration * 2) tableSize *= 2
    this.#mask = tableSize - 1
    this.#tables = Array.from({ length: generations }, () => new Int32Array(tableSize * 2).fill(EMPTY))
    this.#counts = new Int32Array(generations)
    this.#ids = new Uint32Array(generations * this.#perGeneration * ID_WORDS)
    this.#topicOf = new Uint32Array(generations * this.#perGeneration)
  }

  /** Entries remembered now. */
  get size(): number {
    return this.#size
  }

  /** The most entries ever remembered at once: the latest this many adds at most are known. */
  get maxRemembered(): number {
    return this.#tables.length * this.#perGeneration
  }

  add(topic: string, messageId: string): void {
    if (!parseId(messageId, this.#key)) return
    const topicNumber = this.#topicNumber(topic)
    if (this.#counts[this.#newest] === this.#perGeneration) this.#turnOver()
    const generation = this.#newest
    // no look for an existing entry first: a message fully delivered twice is rare, and its second
    // entry is harmless
    const position = generation * this.#perGeneration + this.#counts[generation]++
    this.#size++
    this.#ids.set(this.#key, position * ID_WORDS)
    this.#topicOf[position] = topicNumber
    const table = this.#tables[generation]
    const h = hashKey(this.#key)
    let slot = h & this.#mask
    while (table[slot * 2] !== EMPTY) slot = (slot + 1) & this.#mask
    table[slot * 2] = position
    table[slot * 2 + 1] = h
  }

  has(topic: string, messageId: string): boolean {
    const topicNumber = this.#topicNumbers.get(topic)
    if (topicNumber === undefined || !parseId(messageId, this.#key)) return false
    for (const table of this.#tables) if (this.#contains(table, this.#key, topicNumber)) return true
    return false
  }

  /** The oldest generation is forgotten, all at once, and takes the new entries from now on. */
  #turnOver(): void {
    const oldest = (this.#newest + 1) % this.#tables.length
    this.#tables[oldest].fill(EMPTY)
    this.#size -= this.#counts[oldest]
    this.#counts[oldest] = 0
    this.#newest = oldest
  }

  #topicNumber(topic: string): number {
    let n = this.#topicNumbers.get(topic)
    if (n === undefined) this.#topicNumbers.set(topic, (n = this.#topicNumbers.size))
    return n
  }

  #contains(table: Int32Array, key: Uint32Array, topicNumber: number): boolean {
    const ids = this.#ids
    const h = hashKey(key)
    for (let slot = h & this.#mask; ; slot = (slot + 1) & this.#mask) {
      const p = table[slot * 2]
      if (p === EMPTY) return false
      if (table[slot * 2 + 1] !== h) continue
      const at = p * ID_WORDS
      if (ids[at] === key[0] && ids[at + 1] === key[1] && ids[at + 2] === key[2] && ids[at + 3] === key[3] && this.#topicOf[p] === topicNumber) return true
    }
  }
}

/** Four 32-bit words from 32 hex characters of either case; false for any other string. */
const parseId = (id: string, into: Uint32Array) => hexIdWords(id, into, true)

const hashKey = (key: Uint32Array) => hash(key[0], key[1], key[2], key[3])

/**
 * Mixes all four words (producers may choose ids that share their leading characters). A signed
 * 32-bit result, as the table stores it.
 */
function hash(a: number, b: number, c: number, d: number): number {
  let h = a ^ Math.imul(b, 0x9e3779b1) ^ Math.imul(c, 0x85ebca77) ^ Math.imul(d, 0xc2b2ae3d)
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d)
  return h ^ (h >>> 15)
}
