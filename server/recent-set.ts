/**
 * A set that remembers only its most recent `capacity` members: a ring of keys plus a Set, O(1)
 * per insert. (Evicting through Map.keys().next() is O(deleted entries) in V8, which made this the
 * hottest line of a delivery.)
 */
export class RecentSet {
  readonly #ring: (string | undefined)[]
  readonly #members = new Set<string>()
  #next = 0

  constructor(capacity: number) {
    this.#ring = new Array(Math.max(1, capacity)).fill(undefined)
  }

  add(key: string): void {
    if (this.#members.has(key)) return
    const evicted = this.#ring[this.#next]
    if (evicted !== undefined) this.#members.delete(evicted)
    this.#ring[this.#next] = key
    this.#next = (this.#next + 1) % this.#ring.length
    this.#members.add(key)
  }

  has(key: string): boolean {
    return this.#members.has(key)
  }

  get size(): number {
    return this.#members.size
  }
}
