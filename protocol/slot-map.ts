/**
 * A Map for entries that come and go at message rate: requests awaiting their answer, deliveries
 * in flight, messages held by the memory store. It answers like a Map (insertion order included).
 *
 * Why not a plain Map: V8 keeps a Map's entries in a hash table that it replaces as entries are
 * added and deleted, and a replaced table keeps pointing at the entries it held and at its
 * successor (so that live iterators can follow). Once a table of a long-lived Map has reached the
 * old generation, the next scavenges take that dead table's pointers as roots: the young values it
 * names survive and are promoted, the successor table with them, and the chain goes on. On the
 * broker this promoted about a fifth of everything allocated per message and made scavenges take
 * ~18 % of its CPU (bench/pubsub c=100; see BENCHMARKS.md).
 *
 * Here the Map holds only slot numbers, which pin nothing; the values sit in a plain array whose
 * slot is cleared on delete. Keys are still held by the Map: keep them small (numbers, ids).
 */
/** Arrays up to this many slots are kept when the map empties (small ones come and go at low load). */
const KEEP_SLOTS = 1024

export class SlotMap<K, V> {
  readonly #slots = new Map<K, number>()
  readonly #values: (V | undefined)[] = []
  /** Cleared slots of #values, reused before the array grows. */
  readonly #free: number[] = []

  get size(): number {
    return this.#slots.size
  }

  has(key: K): boolean {
    return this.#slots.has(key)
  }

  get(key: K): V | undefined {
    const slot = this.#slots.get(key)
    return slot === undefined ? undefined : this.#values[slot]
  }

  set(key: K, value: V): this {
    let slot = this.#slots.get(key)
    if (slot === undefined) {
      slot = this.#free.length > 0 ? this.#free.pop()! : this.#values.length
      this.#slots.set(key, slot)
    }
    this.#values[slot] = value
    return this
  }

  delete(key: K): boolean {
    const slot = this.#slots.get(key)
    if (slot === undefined) return false
    this.#slots.delete(key)
    if (this.#slots.size === 0 && this.#values.length > KEEP_SLOTS) {
      // empty after a burst: give the arrays back instead of holding their peak size for good
      this.clear()
      return true
    }
    this.#values[slot] = undefined
    this.#free.push(slot)
    return true
  }

  clear(): void {
    this.#slots.clear()
    this.#values.length = 0
    this.#free.length = 0
  }

  /** Entries in insertion order; deleting the current entry while iterating is allowed, as with a Map. */
  *entries(): IterableIterator<[K, V]> {
    for (const [key, slot] of this.#slots) yield [key, this.#values[slot] as V]
  }

  *values(): IterableIterator<V> {
    for (const slot of this.#slots.values()) yield this.#values[slot] as V
  }

  keys(): IterableIterator<K> {
    return this.#slots.keys()
  }

  [Symbol.iterator](): IterableIterator<[K, V]> {
    return this.entries()
  }
}
