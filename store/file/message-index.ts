/**
 * The file store's in-memory index: one numbered slot per stored message (live or dead letter),
 * its fields in typed-array columns, found by (topic, messageId) through an open-addressing hash
 * table. No JS object or string exists per message.
 *
 * Two kinds of slot, so that memory follows the near future rather than the backlog:
 * - hot: the id (as four 32-bit words: KiteQ ids are 32 lowercase hex digits) and nextDeliverAtMs
 *   are in memory, in columns of a "handle" the slot holds. Everything the scheduler may ask about
 *   soon is hot, and everything with state beyond its SAVE record (dead letters, delivered,
 *   rescheduled, uncommitted, ids of another spelling).
 * - cold: a committed far-future message. Only a 32-bit hash of its id stays; its id and time are
 *   in its SAVE record and in the on-disk far index (far-buckets.ts), which makes it hot again when
 *   its time comes near. A lookup that meets a cold slot with the right hash and topic reports it
 *   as a candidate (`coldMatches`); the caller checks the id against the SAVE record on disk, so
 *   answers stay exact.
 * Per message that is 16 bytes of slot record plus about 7 of table; a hot one adds 28 for its handle
 * (and the time index's entry).
 *
 * A table entry packs the slot number with 6 bits of the id's hash, so a probe passing other
 * entries almost never touches their slots: start-up inserts a million ids in well under a
 * second instead of paying a cache miss per entry passed.
 *
 * Any other id spelling still works: it is kept as a string beside the slot (rare and slower).
 */
import { hexIdWords } from '../../protocol/message-id.ts'
import { StoreError, compareIdText } from '../message-store.ts'
import { Float64Column, Int32Column, Int32Stack, Uint32Column } from './columns.ts'

const USED = 1
const COMMITTED = 2
const DEAD = 4
const TEXT_ID = 8
const COLD = 16

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
const tooManyTopics = () => new StoreError(`file store: more than ${MAX_TOPICS + 1} topics`)
const tooManyMessages = () => new StoreError(`file store: more than ${MAX_SLOTS} messages`, { full: true })
const fingerprint = (hash: number) => (hash >>> SLOT_BITS) << SLOT_BITS

const scratch = new Uint32Array(4)

/** A slot's record: SLOT_WORDS 32-bit words at slot * SLOT_WORDS, these ones at these offsets. */
const SLOT_WORDS = 4
/** Flags in the low 8 bits, the topic's number above them. */
const FLAGS_TOPIC = 0
/** A cold slot's id hash, a hot slot's handle. */
const KEY = 1
const SAVE_SEGMENT = 2
const SAVE_OFFSET = 3

/** A lowercase hex id's words into `out`; false for any other spelling (kept as text instead). */
export const parseHexId = (id: string, out: Uint32Array) => hexIdWords(id, out, false)

export function hashWords(w0: number, w1: number, w2: number, w3: number): number {
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

export class MessageIndex {
  // ---- per slot: its record's words side by side (SLOT_WORDS), so that a lookup's look at a slot
  // is one cache miss (five separate columns cost one each)
  readonly #slots = new Uint32Column()
  readonly #textIds = new Map<number, string>()
  readonly #freeSlots = new Int32Stack()
  #slotCount = 0
  #size = 0
  // ---- per handle (hot slots)
  /** slot + 1; 0 = a free handle. */
  readonly #handleSlot = new Int32Column()
  /** Four words per handle, at handle * 4 (a text id's are unused). */
  readonly #ids = new Uint32Column()
  readonly #nextDeliverAtMs = new Float64Column()
  readonly #freeHandles = new Int32Stack()
  #handleCount = 0
  #hot = 0
  // ---- lookup
  /** Packed entries (see SLOT_BITS); linear probing, deletion by backward shift (no tombstones). */
  #table: Int32Array = new Int32Array(1024)
  /** While growing: the larger table, holding every used slot below `nextSlot` (see MAX_LOAD). */
  #growing: { table: Int32Array; nextSlot: number } | undefined
  readonly #topicNames: string[] = []
  readonly #topicIds = new Map<string, number>()
  /** Cold slots whose id hash and topic matched the last probe(): to be checked on disk. */
  readonly coldMatches: number[] = []
  /** The words of the id last inserted, when it was hex (a cold message's go to the far index). */
  readonly insertedWords = new Uint32Array(4)
  /**
   * The last probe that found nothing hot: its id, parsed words and hash, and the empty table index
   * where it ended, valid while `#tableChanges` is unchanged. Every insert follows such a probe
   * (the caller checks first), which then need not parse the id or walk the probe run again.
   */
  #probedId: string | undefined
  #probedHex = false
  readonly #probedWords = new Uint32Array(4)
  #probedHash = 0
  #probedEnd = -1
  #probedAt = -1
  /**
   * Where in the table the last probe found a hot slot, valid while `#tableChanges` is unchanged:
   * a delete removes the slot it has just looked up, which then need not be looked for again.
   */
  #foundSlot = -1
  #foundAt = -1
  #foundChanges = -1
  #tableChanges = 0

  /** Messages held (live and dead letters). */
  get size(): number {
    return this.#size
  }

  /** One past the highest slot ever used. */
  get slotLimit(): number {
    return this.#slotCount
  }

  /** Messages whose id and time are in memory. */
  get hotCount(): number {
    return this.#hot
  }

  /** One past the highest handle ever used (for iteration). */
  get handleLimit(): number {
    return this.#handleCount
  }

  topicName(topicId: number): string {
    return this.#topicNames[topicId]
  }

  /**
   * The hot slot holding messageId under `topic` (undefined: any topic), or -1. Cold slots with
   * the same id hash (and topic) are left in `coldMatches`, usually none.
   */
  probe(topic: string | undefined, messageId: string): number {
    this.coldMatches.length = 0
    const topicId = topic === undefined ? -1 : this.#topicIds.get(topic)
    return topicId === undefined ? -1 : this.#probe(messageId, topicId)
  }

  /** The hot slot of (topic, messageId), or -1 (cold slots are not looked at: see probe). */
  lookup(topic: string, messageId: string): number {
    return this.probe(topic, messageId)
  }

  /**
   * Throws what insert() would for want of room (a topic past the limit of topics ever seen, no
   * slot left), changing nothing: a caller that logs the message first asks before it does.
   */
  assertRoomFor(topic: string): void {
    if (!this.#topicIds.has(topic) && this.#topicNames.length > MAX_TOPICS) throw tooManyTopics()
    if (this.#freeSlots.length === 0 && this.#slotCount >= MAX_SLOTS) throw tooManyMessages()
  }

  /**
   * Adds (topic, messageId), which the caller has made sure is not stored, and returns its slot.
   * Cold (`cold` and a hex id) keeps only the id's hash; otherwise it is hot with `nextDeliverAtMs`.
   */
  insert(topic: string, messageId: string, nextDeliverAtMs: number, cold: boolean): number {
    if (this.#growing !== undefined) this.#growStep()
    else if ((this.#size + 1) / this.#table.length > MAX_LOAD) this.#growing = { table: new Int32Array(this.#table.length * 2), nextSlot: 0 }
    const topicId = this.#internTopic(topic)
    const slot = this.#freeSlots.length > 0 ? this.#freeSlots.pop() : this.#newSlot()
    this.#slots.set(slot * SLOT_WORDS + FLAGS_TOPIC, topicId << 8)
    const probed = this.#probedAt === this.#tableChanges && this.#probedId === messageId
    const words = this.insertedWords
    let hash: number
    if (probed ? this.#probedHex : parseHexId(messageId, words)) {
      if (probed) words.set(this.#probedWords)
      hash = probed ? this.#probedHash : hashWords(words[0], words[1], words[2], words[3])
      if (cold) {
        this.#setFlags(slot, USED | COLD)
        this.#setKey(slot, hash)
      } else {
        this.#setFlags(slot, USED)
        this.#newHandle(slot, words[0], words[1], words[2], words[3], nextDeliverAtMs)
      }
    } else {
      hash = probed ? this.#probedHash : hashText(messageId)
      this.#textIds.set(slot, messageId)
      this.#setFlags(slot, USED | TEXT_ID)
      this.#newHandle(slot, 0, 0, 0, 0, nextDeliverAtMs)
    }
    if (probed) this.#table[this.#probedEnd] = fingerprint(hash) | (slot + 1)
    else this.#place(this.#table, slot, hash)
    if (this.#growing !== undefined && slot < this.#growing.nextSlot) this.#place(this.#growing.table, slot, hash)
    this.#tableChanges++
    this.#size++
    return slot
  }

  /** Makes a cold slot hot: its id's words and time are known again (from disk). */
  warm(slot: number, w0: number, w1: number, w2: number, w3: number, nextDeliverAtMs: number): void {
    const f = this.#flagsOf(slot)
    if ((f & (USED | COLD)) !== (USED | COLD)) throw new StoreError(`index: slot ${slot} is not cold`)
    if (hashWords(w0, w1, w2, w3) !== this.#keyOf(slot)) throw new StoreError(`index corrupt: slot ${slot} warmed with another id`)
    this.#setFlags(slot, f & ~COLD)
    this.#newHandle(slot, w0, w1, w2, w3, nextDeliverAtMs)
  }

  /** warm() with the id as text. */
  warmId(slot: number, messageId: string, nextDeliverAtMs: number): void {
    if (!parseHexId(messageId, scratch)) throw new StoreError(`index: cold slot ${slot} warmed with a non-hex id`)
    this.warm(slot, scratch[0], scratch[1], scratch[2], scratch[3], nextDeliverAtMs)
  }

  remove(slot: number): void {
    const found = this.#foundSlot === slot && this.#foundChanges === this.#tableChanges ? this.#foundAt : -1
    this.#tableChanges++
    this.#unplace(this.#table, slot, found)
    if (this.#growing !== undefined && slot < this.#growing.nextSlot) this.#unplace(this.#growing.table, slot)
    const f = this.#flagsOf(slot)
    if (f & TEXT_ID) this.#textIds.delete(slot)
    if (!(f & COLD)) this.#freeHandle(this.#keyOf(slot))
    this.#setFlags(slot, 0)
    this.#freeSlots.push(slot)
    this.#size--
  }

  /**
   * Whether `slot` is a live hot slot of `topic` with a hex id: it may still hold a message it was
   * remembered for (it may have been freed and reused since). Looks at the slot's own record only,
   * which reading the message needs anyway; the id is left to be checked against what is read.
   */
  mayHold(slot: number, topic: string): boolean {
    if (!(slot >= 0 && slot < this.#slotCount)) return false
    return (this.#flagsOf(slot) & (USED | COLD | TEXT_ID | DEAD)) === USED && this.#topicAt(slot) === this.#topicIds.get(topic)
  }

  isUsed(slot: number): boolean {
    return (this.#flagsOf(slot) & USED) !== 0
  }

  isCold(slot: number): boolean {
    return (this.#flagsOf(slot) & COLD) !== 0
  }

  topicOf(slot: number): string {
    return this.#topicNames[this.#topicAt(slot)]
  }

  /** The number `topic` is known by, or undefined when no message of it was ever held. */
  topicIdNamed(topic: string): number | undefined {
    return this.#topicIds.get(topic)
  }

  topicIdOf(slot: number): number {
    return this.#topicAt(slot)
  }

  /** A hot slot's id (a cold slot's is only on disk). */
  messageIdOf(slot: number): string {
    const f = this.#flagsOf(slot)
    if (f & TEXT_ID) return this.#textIds.get(slot)!
    if (f & COLD) throw new StoreError(`index: the id of cold slot ${slot} is not in memory`)
    const at = this.#keyOf(slot) * 4
    return hexId(this.#ids.get(at), this.#ids.get(at + 1), this.#ids.get(at + 2), this.#ids.get(at + 3))
  }

  isCommitted(slot: number): boolean {
    return (this.#flagsOf(slot) & COMMITTED) !== 0
  }

  setCommitted(slot: number, committed: boolean): void {
    const f = this.#flagsOf(slot)
    this.#setFlags(slot, committed ? f | COMMITTED : f & ~COMMITTED)
  }

  isDead(slot: number): boolean {
    return (this.#flagsOf(slot) & DEAD) !== 0
  }

  setDead(slot: number, dead: boolean): void {
    const f = this.#flagsOf(slot)
    this.#setFlags(slot, dead ? f | DEAD : f & ~DEAD)
  }

  saveSegment(slot: number): number {
    return this.#slots.get(slot * SLOT_WORDS + SAVE_SEGMENT)
  }

  saveOffset(slot: number): number {
    return this.#slots.get(slot * SLOT_WORDS + SAVE_OFFSET)
  }

  setSaveLocation(slot: number, segment: number, offset: number): void {
    this.#slots.set(slot * SLOT_WORDS + SAVE_SEGMENT, segment)
    this.#slots.set(slot * SLOT_WORDS + SAVE_OFFSET, offset)
  }

  // ---- hot slots: handles, times, id order (what the time index works with)

  handleOf(slot: number): number {
    if (this.#flagsOf(slot) & COLD) throw new StoreError(`index: cold slot ${slot} has no handle`)
    return this.#keyOf(slot)
  }

  /** The slot of a handle, or -1 when the handle is free. */
  slotOf(handle: number): number {
    return this.#handleSlot.get(handle) - 1
  }

  nextDeliverAtMs(slot: number): number {
    return this.#nextDeliverAtMs.get(this.handleOf(slot))
  }

  setNextDeliverAtMs(slot: number, ms: number): void {
    this.#nextDeliverAtMs.set(this.handleOf(slot), ms)
  }

  timeOfHandle(handle: number): number {
    return this.#nextDeliverAtMs.get(handle)
  }

  /** Orders two handles by message id as strings compare (lowercase hex words compare the same). */
  compareIds(a: number, b: number): number {
    const slotA = this.#handleSlot.get(a) - 1
    const slotB = this.#handleSlot.get(b) - 1
    if ((this.#flagsOf(slotA) | this.#flagsOf(slotB)) & TEXT_ID) return compareIdText(this.messageIdOf(slotA), this.messageIdOf(slotB))
    const ids = this.#ids
    a *= 4
    b *= 4
    return compareNumbers(ids.get(a), ids.get(b)) || compareNumbers(ids.get(a + 1), ids.get(b + 1)) ||
      compareNumbers(ids.get(a + 2), ids.get(b + 2)) || compareNumbers(ids.get(a + 3), ids.get(b + 3))
  }

  /** The first 32 bits of a hex id (its order agrees with compareIds), or -1 for a text id. */
  idPrefix(handle: number): number {
    return this.#flagsOf(this.#handleSlot.get(handle) - 1) & TEXT_ID ? -1 : this.#ids.get(handle * 4)
  }

  compareIdWith(handle: number, messageId: string): number {
    const slot = this.#handleSlot.get(handle) - 1
    if (this.#flagsOf(slot) & TEXT_ID || !parseHexId(messageId, scratch)) return compareIdText(this.messageIdOf(slot), messageId)
    const ids = this.#ids
    const at = handle * 4
    return compareNumbers(ids.get(at), scratch[0]) || compareNumbers(ids.get(at + 1), scratch[1]) ||
      compareNumbers(ids.get(at + 2), scratch[2]) || compareNumbers(ids.get(at + 3), scratch[3])
  }

  /** Bytes held by the typed arrays (the JS heap part, text ids and topics, is not counted). */
  get bytes(): number {
    let n = this.#table.byteLength + (this.#growing?.table.byteLength ?? 0)
    return n + this.#slots.bytes + this.#handleSlot.bytes + this.#ids.bytes + this.#nextDeliverAtMs.bytes
  }

  // ------------------------------------------------------------------------------------ internals

  #flagsOf(slot: number): number {
    return this.#slots.get(slot * SLOT_WORDS + FLAGS_TOPIC) & 0xff
  }

  #setFlags(slot: number, flags: number): void {
    const at = slot * SLOT_WORDS + FLAGS_TOPIC
    this.#slots.set(at, (this.#slots.get(at) & ~0xff) | flags)
  }

  #topicAt(slot: number): number {
    return this.#slots.get(slot * SLOT_WORDS + FLAGS_TOPIC) >>> 8
  }

  #keyOf(slot: number): number {
    return this.#slots.get(slot * SLOT_WORDS + KEY)
  }

  #setKey(slot: number, key: number): void {
    this.#slots.set(slot * SLOT_WORDS + KEY, key)
  }

  #internTopic(topic: string): number {
    let id = this.#topicIds.get(topic)
    if (id === undefined) {
      if (this.#topicNames.length > MAX_TOPICS) throw tooManyTopics()
      id = this.#topicNames.length
      this.#topicNames.push(topic)
      this.#topicIds.set(topic, id)
    }
    return id
  }

  #newSlot(): number {
    if (this.#slotCount >= MAX_SLOTS) throw tooManyMessages()
    const slot = this.#slotCount++
    this.#slots.ensure(slot * SLOT_WORDS + SLOT_WORDS - 1)
    return slot
  }

  #newHandle(slot: number, w0: number, w1: number, w2: number, w3: number, nextDeliverAtMs: number): void {
    let handle: number
    if (this.#freeHandles.length > 0) handle = this.#freeHandles.pop()
    else {
      handle = this.#handleCount++
      this.#handleSlot.ensure(handle)
      this.#nextDeliverAtMs.ensure(handle)
      this.#ids.ensure(handle * 4 + 3)
    }
    this.#handleSlot.set(handle, slot + 1)
    const at = handle * 4
    this.#ids.set(at, w0)
    this.#ids.set(at + 1, w1)
    this.#ids.set(at + 2, w2)
    this.#ids.set(at + 3, w3)
    this.#nextDeliverAtMs.set(handle, nextDeliverAtMs)
    this.#setKey(slot, handle)
    this.#hot++
  }

  #freeHandle(handle: number): void {
    this.#handleSlot.set(handle, 0)
    this.#freeHandles.push(handle)
    this.#hot--
  }

  #homeOf(slot: number): number {
    const f = this.#flagsOf(slot)
    if (f & COLD) return this.#keyOf(slot)
    if (f & TEXT_ID) return hashText(this.#textIds.get(slot)!)
    const at = this.#keyOf(slot) * 4
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
      if (this.#flagsOf(slot) & USED) this.#place(growing.table, slot, this.#homeOf(slot))
    }
    growing.nextSlot = end
    if (end === this.#slotCount) {
      this.#table = growing.table
      this.#growing = undefined
      this.#tableChanges++
    }
  }

  #place(table: Int32Array, slot: number, hash: number): void {
    const mask = table.length - 1
    let i = hash & mask
    while (table[i] !== 0) i = (i + 1) & mask
    table[i] = fingerprint(hash) | (slot + 1)
  }

  /**
   * Takes `slot` out of `table` (its id or hash must still be readable), keeping probe runs whole.
   * `at`: where it is in the table, when known (else -1).
   */
  #unplace(table: Int32Array, slot: number, at = -1): void {
    const mask = table.length - 1
    let i = at >= 0 ? at : this.#homeOf(slot) & mask
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

  /** Finds messageId with topicId (-1: any topic) among hot slots; cold candidates go to coldMatches. */
  #probe(messageId: string, topicId: number): number {
    const table = this.#table
    const mask = table.length - 1
    if (parseHexId(messageId, scratch)) {
      const w0 = scratch[0], w1 = scratch[1], w2 = scratch[2], w3 = scratch[3]
      const hash = hashWords(w0, w1, w2, w3)
      const fp = fingerprint(hash)
      const ids = this.#ids
      let i: number
      for (i = hash & mask; table[i] !== 0; i = (i + 1) & mask) {
        const entry = table[i]
        if (((entry & ~SLOT_MASK) | 0) !== (fp | 0)) continue
        const slot = (entry & SLOT_MASK) - 1
        if (topicId >= 0 && this.#topicAt(slot) !== topicId) continue
        const f = this.#flagsOf(slot)
        const key = this.#keyOf(slot)
        if (f & COLD) {
          if (key === hash) this.coldMatches.push(slot)
          continue
        }
        const at = key * 4
        if (!(f & TEXT_ID) && ids.get(at) === w0 && ids.get(at + 1) === w1 && ids.get(at + 2) === w2 && ids.get(at + 3) === w3) {
          return this.#found(slot, i)
        }
      }
      this.#probedWords.set(scratch)
      return this.#probedNothing(messageId, true, i, hash)
    }
    const hash = hashText(messageId)
    const fp = fingerprint(hash)
    let i: number
    for (i = hash & mask; table[i] !== 0; i = (i + 1) & mask) {
      const entry = table[i]
      if (((entry & ~SLOT_MASK) | 0) !== (fp | 0)) continue
      const slot = (entry & SLOT_MASK) - 1
      if (this.#textIds.get(slot) === messageId && (topicId < 0 || this.#topicAt(slot) === topicId)) return this.#found(slot, i)
    }
    return this.#probedNothing(messageId, false, i, hash)
  }

  #found(slot: number, at: number): number {
    this.#foundSlot = slot
    this.#foundAt = at
    this.#foundChanges = this.#tableChanges
    return slot
  }

  #probedNothing(messageId: string, hex: boolean, end: number, hash: number): number {
    this.#probedId = messageId
    this.#probedHex = hex
    this.#probedEnd = end
    this.#probedHash = hash
    this.#probedAt = this.#tableChanges
    return -1
  }
}

const hexScratch = Buffer.allocUnsafe(16)

/** The 32-char id of four words: ~180 ns, where four toString(16).padStart() took ~700. */
function hexId(w0: number, w1: number, w2: number, w3: number): string {
  hexScratch.writeUInt32BE(w0, 0)
  hexScratch.writeUInt32BE(w1, 4)
  hexScratch.writeUInt32BE(w2, 8)
  hexScratch.writeUInt32BE(w3, 12)
  return hexScratch.toString('hex')
}
