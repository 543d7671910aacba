/**
 * The most recent `capacity` (topic, messageId) pairs every group received, so a late cancel or
 * reschedule can be answered "already delivered" rather than "not found".
 *
 * Kept in typed arrays, not a Map of strings: one is added per delivery, and a Map of 100 000+
 * churning string keys cost several per cent of the broker's CPU (rehashing its table, promoting
 * every id string to the old generation). Here an entry is 20 bytes and adding one allocates
 * nothing: ids are 32 hex characters (check-message refuses any other), stored as four 32-bit
 * words in a ring; an open-addressing table with linear probing finds them. Ids of another shape
 * are not remembered (a lookup of one answers false).
 *
 * Each table slot holds a ring position and that entry's hash side by side: removing the oldest
 * entry (once per delivery when full) shifts its neighbours back, which needs each one's home slot,
 * and reading it from the slot stays in one cache line where reading the ids missed once per entry.
 */
import { hexIdWords } from '../protocol/message-id.ts'

const EMPTY = -1
const ID_WORDS = 4

export class RecentDeliveries {
  readonly #capacity: number
  /** Ring of entries: id words and topic number per position. */
  readonly #ids: Uint32Array
  readonly #topicOf: Uint32Array
  /** Hash table, at most half full: per slot a ring position (EMPTY when free) and its hash. */
  readonly #table: Int32Array
  readonly #mask: number
  readonly #topicNumbers = new Map<string, number>()
  /** Next ring position to write (the oldest entry once the ring is full). */
  #next = 0
  #size = 0
  readonly #key = new Uint32Array(ID_WORDS)

  constructor(capacity: number) {
    this.#capacity = Math.max(1, capacity)
    this.#ids = new Uint32Array(this.#capacity * ID_WORDS)
    this.#topicOf = new Uint32Array(this.#capacity)
    let tableSize = 2
    while (tableSize < this.#capacity * 2) tableSize *= 2
    this.#table = new Int32Array(tableSize * 2).fill(EMPTY)
    this.#mask = tableSize - 1
  }

  get size(): number {
    return this.#size
  }

  add(topic: string, messageId: string): void {
    if (!parseId(messageId, this.#key)) return
    const topicNumber = this.#topicNumber(topic)
    // no look for an existing entry first: a message fully delivered twice is rare, and its second
    // entry is harmless, while the look would read the ids of every entry on the probe path
    const position = this.#next
    if (this.#size === this.#capacity) this.#unlink(position)
    else this.#size++
    this.#ids.set(this.#key, position * ID_WORDS)
    this.#topicOf[position] = topicNumber
    const h = hashKey(this.#key)
    let slot = h & this.#mask
    while (this.#table[slot * 2] !== EMPTY) slot = (slot + 1) & this.#mask
    this.#table[slot * 2] = position
    this.#table[slot * 2 + 1] = h
    this.#next = (position + 1) % this.#capacity
  }

  has(topic: string, messageId: string): boolean {
    const topicNumber = this.#topicNumbers.get(topic)
    if (topicNumber === undefined || !parseId(messageId, this.#key)) return false
    return this.#find(this.#key, topicNumber) !== EMPTY
  }

  #topicNumber(topic: string): number {
    let n = this.#topicNumbers.get(topic)
    if (n === undefined) this.#topicNumbers.set(topic, (n = this.#topicNumbers.size))
    return n
  }

  /** The table slot holding (key, topic), or EMPTY. */
  #find(key: Uint32Array, topicNumber: number): number {
    const ids = this.#ids
    const table = this.#table
    const h = hashKey(key)
    for (let slot = h & this.#mask; ; slot = (slot + 1) & this.#mask) {
      const p = table[slot * 2]
      if (p === EMPTY) return EMPTY
      if (table[slot * 2 + 1] !== h) continue
      const at = p * ID_WORDS
      if (ids[at] === key[0] && ids[at + 1] === key[1] && ids[at + 2] === key[2] && ids[at + 3] === key[3] && this.#topicOf[p] === topicNumber) return slot
    }
  }

  /** Removes the table slot of the entry at ring `position`, closing the gap (backward shift). */
  #unlink(position: number): void {
    const table = this.#table
    const mask = this.#mask
    const at = position * ID_WORDS
    const ids = this.#ids
    let hole = hash(ids[at], ids[at + 1], ids[at + 2], ids[at + 3]) & mask
    while (table[hole * 2] !== position) hole = (hole + 1) & mask
    for (let j = (hole + 1) & mask; table[j * 2] !== EMPTY; j = (j + 1) & mask) {
      const home = table[j * 2 + 1] & mask
      // the entry at j may fill the hole only if its home is not cyclically within (hole, j]
      const stays = hole <= j ? hole < home && home <= j : hole < home || home <= j
      if (stays) continue
      table[hole * 2] = table[j * 2]
      table[hole * 2 + 1] = table[j * 2 + 1]
      hole = j
    }
    table[hole * 2] = EMPTY
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
