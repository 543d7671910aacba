/**
 * The file store's in-memory index: one numbered slot per stored message (live or dead letter),
 * its fields in typed-array columns, found by (topic, messageId) through an open-addressing hash
 * table. No JS object or string exists per message: KiteQ ids (32 lowercase hex digits) are kept
 * as four adjacent 32-bit words (one cache line), topics as a 16-bit number. About 50 bytes per
 * message in all (measured by bench/store.ts), where a Map of objects costs several hundred.
 *
 * A table entry packs the slot number with 6 bits of the id's hash, so a probe passing other
 * entries almost never touches their slots: start-up inserts a million ids in well under a
 * second instead of paying a cache miss per entry passed.
 *
 * Any other id spelling still works: it is kept as a string beside the slot (rare and slower).
 */
import { hexIdWords } from '../../protocol/message-id.ts'
import { StoreError } from '../message-store.ts'
import { Float64Column, Int32Stack, Uint16Column, Uint32Column, Uint8Column } from './columns.ts'

const USED = 1
const COMMITTED = 2
const DEAD = 4
const TEXT_ID = 8

const MAX_TOPICS = 0xffff
/** The table starts growing at this load... */
const MAX_LOAD = 0.7
/**
 * ...into one twice its size, filled a few slots per insert from the slot columns while the old
 * table keeps answering: rehashing 6 million ids in one go stalled the broker for 0.7 s. At 8 slots
 * an insert the new table is complete before the old one passes a load of 0.8.
 */
const GROW_SLOTS_PER_INSERT = 8
/** Table entries: (slot + 1) in the low 26 bits, a hash fingerprint in the 6 above; 0 = empty. */
const SLOT_BITS = 26
const SLOT_MASK = (1 << SLOT_BITS) - 1
const MAX_SLOTS = SLOT_MASK - 1
const fingerprint = (hash: number) => (hash >>> SLOT_BITS) << SLOT_BITS

const scratch = new Uint32Array(4)

/** A lowercase hex id's words into `out`; false for any other spelling (kept as text instead). */
const parseHexId = (id: string, out: Uint32Array) => hexIdWords(id, out, false)

function hashWords(w0: number, w1: number, w2: number, w3: number): number {
  let h = Math.imul(w0 ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(w1, 0xc2b2ae35) ^ Math.imul(w2, 0x27d4eb2f) ^ Math.imul(w3, 0x165667b1)
  h ^= h >>> 15
  h = Math.imul(h, 0x2c1b3c6d)
  return (h ^ (h >>> 13)) >>> 0
}

function hashText(s: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193)
  return (h ^ (h >>> 15)) >>> 0
}

const compareNumbers = (a: number, b: number) => (a < b ? -1 : a > b ? 1 : 0)
const compareStrings = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)

export class MessageIndex {
  readonly #flags = new Uint8Column()
  readonly #topic = new Uint16Column()
  /** Four words per slot, at slot * 4. */
  readonly #ids = new Uint32Column()
  readonly #saveSegment = new Uint32Column()
  readonly #saveOffset = new Uint32Column()
  readonly #nextDeliverAtMs = new Float64Column()
  readonly #columns = [this.#flags, this.#topic, this.#saveSegment, this.#saveOffset, this.#nextDeliverAtMs]
  readonly #textIds = new Map<number, string>()
  readonly #free = new Int32Stack()
  #slotCount = 0
  #size = 0
  /** Packed entries (see SLOT_BITS); linear probing, deletion by backward shift (no tombstones). */
  #table: Int32Array = new Int32Array(1024)
  /** While growing: the larger table, holding every used slot below `nextSlot` (see MAX_LOAD). */
  #growing: { table: Int32Array; nextSlot: number } | undefined
  readonly #topicNames: string[] = []
  readonly #topicIds = new Map<string, number>()
  /** Whether the last probed id was 32 lowercase hex digits (its words are then in `scratch`). */
  #probedHex = false
  #probedHash = 0

  /** Messages held (live and dead letters). */
  get size(): number {
    return this.#size
  }

  /** One past the highest slot ever used (for iteration). */
  get slotLimit(): number {
    return this.#slotCount
  }

  topicName(topicId: number): string {
    return this.#topicNames[topicId]
  }

  /** The slot of (topic, messageId), or -1. */
  lookup(topic: string, messageId: string): number {
    const topicId = this.#topicIds.get(topic)
    return topicId === undefined ? -1 : Math.max(-1, this.#probe(messageId, topicId))
  }

  /** A slot holding messageId under any topic, or -1. */
  lookupById(messageId: string): number {
    return Math.max(-1, this.#probe(messageId, -1))
  }

  /** Adds (topic, messageId) and returns its new slot, or -1 when it is already present. */
  insert(topic: string, messageId: string): number {
    if (this.#growing !== undefined) this.#growStep()
    else if ((this.#size + 1) / this.#table.length > MAX_LOAD) this.#growing = { table: new Int32Array(this.#table.length * 2), nextSlot: 0 }
    const topicId = this.#internTopic(topic)
    const probed = this.#probe(messageId, topicId)
    if (probed >= 0) return -1
    const slot = this.#free.length > 0 ? this.#free.pop() : this.#newSlot()
    this.#topic.set(slot, topicId)
    if (this.#probedHex) {
      const at = slot * 4
      this.#ids.set(at, scratch[0])
      this.#ids.set(at + 1, scratch[1])
      this.#ids.set(at + 2, scratch[2])
      this.#ids.set(at + 3, scratch[3])
      this.#flags.set(slot, USED)
    } else {
      this.#textIds.set(slot, messageId)
      this.#flags.set(slot, USED | TEXT_ID)
    }
    this.#table[~probed] = fingerprint(this.#probedHash) | (slot + 1)
    if (this.#growing !== undefined && slot < this.#growing.nextSlot) this.#place(this.#growing.table, slot)
    this.#size++
    return slot
  }

  remove(slot: number): void {
    this.#unplace(this.#table, slot)
    if (this.#growing !== undefined && slot < this.#growing.nextSlot) this.#unplace(this.#growing.table, slot)
    if (this.#flags.get(slot) & TEXT_ID) this.#textIds.delete(slot)
    this.#flags.set(slot, 0)
    this.#free.push(slot)
    this.#size--
  }

  isUsed(slot: number): boolean {
    return (this.#flags.get(slot) & USED) !== 0
  }

  topicOf(slot: number): string {
    return this.#topicNames[this.#topic.get(slot)]
  }

  topicIdOf(slot: number): number {
    return this.#topic.get(slot)
  }

  messageIdOf(slot: number): string {
    if (this.#flags.get(slot) & TEXT_ID) return this.#textIds.get(slot)!
    const at = slot * 4
    return hex8(this.#ids.get(at)) + hex8(this.#ids.get(at + 1)) + hex8(this.#ids.get(at + 2)) + hex8(this.#ids.get(at + 3))
  }

  /** Orders two slots by message id as strings compare (lowercase hex words compare the same). */
  compareIds(a: number, b: number): number {
    if ((this.#flags.get(a) | this.#flags.get(b)) & TEXT_ID) return compareStrings(this.messageIdOf(a), this.messageIdOf(b))
    const ids = this.#ids
    a *= 4
    b *= 4
    return compareNumbers(ids.get(a), ids.get(b)) || compareNumbers(ids.get(a + 1), ids.get(b + 1)) ||
      compareNumbers(ids.get(a + 2), ids.get(b + 2)) || compareNumbers(ids.get(a + 3), ids.get(b + 3))
  }

  compareIdWith(slot: number, messageId: string): number {
    if (this.#flags.get(slot) & TEXT_ID || !parseHexId(messageId, scratch)) return compareStrings(this.messageIdOf(slot), messageId)
    const ids = this.#ids
    const at = slot * 4
    return compareNumbers(ids.get(at), scratch[0]) || compareNumbers(ids.get(at + 1), scratch[1]) ||
      compareNumbers(ids.get(at + 2), scratch[2]) || compareNumbers(ids.get(at + 3), scratch[3])
  }

  isCommitted(slot: number): boolean {
    return (this.#flags.get(slot) & COMMITTED) !== 0
  }

  setCommitted(slot: number, committed: boolean): void {
    const f = this.#flags.get(slot)
    this.#flags.set(slot, committed ? f | COMMITTED : f & ~COMMITTED)
  }

  isDead(slot: number): boolean {
    return (this.#flags.get(slot) & DEAD) !== 0
  }

  setDead(slot: number, dead: boolean): void {
    const f = this.#flags.get(slot)
    this.#flags.set(slot, dead ? f | DEAD : f & ~DEAD)
  }

  saveSegment(slot: number): number {
    return this.#saveSegment.get(slot)
  }

  saveOffset(slot: number): number {
    return this.#saveOffset.get(slot)
  }

  setSaveLocation(slot: number, segment: number, offset: number): void {
    this.#saveSegment.set(slot, segment)
    this.#saveOffset.set(slot, offset)
  }

  nextDeliverAtMs(slot: number): number {
    return this.#nextDeliverAtMs.get(slot)
  }

  setNextDeliverAtMs(slot: number, ms: number): void {
    this.#nextDeliverAtMs.set(slot, ms)
  }

  /** Bytes held by the typed arrays (the JS heap part, text ids and topics, is not counted). */
  get bytes(): number {
    return this.#table.byteLength + (this.#growing?.table.byteLength ?? 0) + this.#flags.bytes + this.#topic.bytes + this.#ids.bytes + this.#saveSegment.bytes +
      this.#saveOffset.bytes + this.#nextDeliverAtMs.bytes
  }

  // ------------------------------------------------------------------------------------ internals

  #internTopic(topic: string): number {
    let id = this.#topicIds.get(topic)
    if (id === undefined) {
      if (this.#topicNames.length > MAX_TOPICS) throw new StoreError(`file store: more than ${MAX_TOPICS + 1} topics`)
      id = this.#topicNames.length
      this.#topicNames.push(topic)
      this.#topicIds.set(topic, id)
    }
    return id
  }

  #newSlot(): number {
    if (this.#slotCount >= MAX_SLOTS) throw new StoreError(`file store: more than ${MAX_SLOTS} messages`, { full: true })
    const slot = this.#slotCount++
    for (const c of this.#columns) c.ensure(slot)
    this.#ids.ensure(slot * 4 + 3)
    return slot
  }

  #homeOf(slot: number): number {
    if (this.#flags.get(slot) & TEXT_ID) return hashText(this.#textIds.get(slot)!)
    const at = slot * 4
    return hashWords(this.#ids.get(at), this.#ids.get(at + 1), this.#ids.get(at + 2), this.#ids.get(at + 3))
  }

  /**
   * Moves the growing table on by a few slots, in slot order (reading ids sequentially is far
   * cheaper than following the old table); once every slot is in, it replaces the old table.
   */
  #growStep(): void {
    const growing = this.#growing!
    const end = Math.min(this.#slotCount, growing.nextSlot + GROW_SLOTS_PER_INSERT)
    for (let slot = growing.nextSlot; slot < end; slot++) {
      if (this.#flags.get(slot) & USED) this.#place(growing.table, slot)
    }
    growing.nextSlot = end
    if (end === this.#slotCount) {
      this.#table = growing.table
      this.#growing = undefined
    }
  }

  #place(table: Int32Array, slot: number): void {
    const mask = table.length - 1
    const hash = this.#homeOf(slot)
    let i = hash & mask
    while (table[i] !== 0) i = (i + 1) & mask
    table[i] = fingerprint(hash) | (slot + 1)
  }

  /** Takes `slot` out of `table` (its id must still be readable), keeping probe runs whole. */
  #unplace(table: Int32Array, slot: number): void {
    const mask = table.length - 1
    let i = this.#homeOf(slot) & mask
    while ((table[i] & SLOT_MASK) !== slot + 1) {
      if (table[i] === 0) throw new StoreError(`index corrupt: slot ${slot} is not in the table`)
      i = (i + 1) & mask
    }
    // backward shift: pull later entries of the probe run into the gap so lookups never stop early
    let gap = i
    for (let j = (gap + 1) & mask; table[j] !== 0; j = (j + 1) & mask) {
      const home = this.#homeOf((table[j] & SLOT_MASK) - 1) & mask
      const movable = gap <= j ? home <= gap || home > j : home <= gap && home > j
      if (movable) {
        table[gap] = table[j]
        gap = j
      }
    }
    table[gap] = 0
  }

  /**
   * Finds messageId with topicId (-1: any topic): its slot, or ~(the empty table index where the
   * probe ended), which is where an insert goes. Leaves a hex id's words in `scratch`.
   */
  #probe(messageId: string, topicId: number): number {
    const table = this.#table
    const mask = table.length - 1
    let i: number
    this.#probedHex = parseHexId(messageId, scratch)
    if (this.#probedHex) {
      const w0 = scratch[0], w1 = scratch[1], w2 = scratch[2], w3 = scratch[3]
      const hash = (this.#probedHash = hashWords(w0, w1, w2, w3))
      const fp = fingerprint(hash)
      const ids = this.#ids
      for (i = hash & mask; table[i] !== 0; i = (i + 1) & mask) {
        const entry = table[i]
        if (((entry & ~SLOT_MASK) | 0) !== (fp | 0)) continue
        const slot = (entry & SLOT_MASK) - 1
        const at = slot * 4
        if (ids.get(at) === w0 && ids.get(at + 1) === w1 && ids.get(at + 2) === w2 && ids.get(at + 3) === w3 &&
          !(this.#flags.get(slot) & TEXT_ID) && (topicId < 0 || this.#topic.get(slot) === topicId)) return slot
      }
      return ~i
    }
    const hash = (this.#probedHash = hashText(messageId))
    const fp = fingerprint(hash)
    for (i = hash & mask; table[i] !== 0; i = (i + 1) & mask) {
      const entry = table[i]
      if (((entry & ~SLOT_MASK) | 0) !== (fp | 0)) continue
      const slot = (entry & SLOT_MASK) - 1
      if (this.#textIds.get(slot) === messageId && (topicId < 0 || this.#topic.get(slot) === topicId)) return slot
    }
    return ~i
  }
}

function hex8(word: number): string {
  return word.toString(16).padStart(8, '0')
}
