/**
 * A first-in first-out queue on a ring of slots that doubles when full and halves when three
 * quarters empty. Array.shift() copies the whole array once it is large (a burst puts hundreds of
 * thousands of fired entries in line), and a queue that empties and refills at message rate (the
 * due pump's turns) must not get a new array each time: a first push into an empty one reserves
 * 17 slots, ~150 bytes per delivered message.
 */
const MIN_CAPACITY = 16

export class Fifo<T> {
  #slots: (T | undefined)[] = new Array<T | undefined>(MIN_CAPACITY).fill(undefined)
  /** capacity − 1 (the capacity is a power of two). */
  #mask = MIN_CAPACITY - 1
  #head = 0
  #length = 0

  get length(): number {
    return this.#length
  }

  /** Slots held now (for tests of growing and shrinking). */
  get capacity(): number {
    return this.#mask + 1
  }

  push(item: T): void {
    if (this.#length > this.#mask) this.#resize((this.#mask + 1) * 2)
    this.#slots[(this.#head + this.#length) & this.#mask] = item
    this.#length++
  }

  /** The oldest item, removed; undefined when empty. */
  shift(): T | undefined {
    if (this.#length === 0) return undefined
    const item = this.#slots[this.#head]
    this.#slots[this.#head] = undefined // the queue must not keep what it handed out alive
    this.#head = (this.#head + 1) & this.#mask
    this.#length--
    const capacity = this.#mask + 1
    if (capacity > MIN_CAPACITY && this.#length < capacity / 4) this.#resize(capacity / 2)
    return item
  }

  clear(): void {
    this.#slots = new Array<T | undefined>(MIN_CAPACITY).fill(undefined)
    this.#mask = MIN_CAPACITY - 1
    this.#head = 0
    this.#length = 0
  }

  /** Moves the items, oldest first, into a ring of `capacity` slots. */
  #resize(capacity: number): void {
    const slots = new Array<T | undefined>(capacity).fill(undefined)
    for (let i = 0; i < this.#length; i++) slots[i] = this.#slots[(this.#head + i) & this.#mask]
    this.#slots = slots
    this.#mask = capacity - 1
    this.#head = 0
  }
}
