/**
 * A first-in first-out queue on a plain array read from a moving head: Array.shift() copies the
 * whole array once it is large, and a burst puts hundreds of thousands of fired entries in line.
 */
export class Fifo<T> {
  #items: T[] = []
  #head = 0

  get length(): number {
    return this.#items.length - this.#head
  }

  push(item: T): void {
    this.#items.push(item)
  }

  /** The oldest item, removed; undefined when empty. */
  shift(): T | undefined {
    if (this.#head === this.#items.length) return undefined
    const item = this.#items[this.#head]
    this.#items[this.#head++] = undefined as T // the queue must not keep what it handed out alive
    if (this.#head === this.#items.length) this.clear()
    else if (this.#head >= 65_536 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head)
      this.#head = 0
    }
    return item
  }

  clear(): void {
    this.#items = []
    this.#head = 0
  }
}
