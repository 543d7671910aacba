/**
 * The most recent `capacity` messages every group received, so a late cancel or reschedule can be
 * answered "already delivered" rather than "not found". A ring of message ids plus a map to their
 * topic, O(1) per insert.
 *
 * Keyed by the message id alone, not a topic+id string: the id is already hashed (V8 caches a
 * string's hash), a fresh concatenation would be hashed again on every delivery. An id delivered
 * in two topics (ids are UUIDs, so only by a producer's choice) keeps a list of its topics.
 */
export class RecentDeliveries {
  readonly #ring: (string | undefined)[]
  readonly #topics = new Map<string, string | string[]>()
  #next = 0

  constructor(capacity: number) {
    this.#ring = new Array(Math.max(1, capacity)).fill(undefined)
  }

  add(topic: string, messageId: string): void {
    const known = this.#topics.get(messageId)
    if (known !== undefined) {
      // the same id again (another topic): keep every topic, under the one ring slot it has
      if (known === topic || (typeof known !== 'string' && known.includes(topic))) return
      this.#topics.set(messageId, typeof known === 'string' ? [known, topic] : [...known, topic])
      return
    }
    const evicted = this.#ring[this.#next]
    if (evicted !== undefined) this.#topics.delete(evicted)
    this.#ring[this.#next] = messageId
    this.#next = (this.#next + 1) % this.#ring.length
    this.#topics.set(messageId, topic)
  }

  has(topic: string, messageId: string): boolean {
    const known = this.#topics.get(messageId)
    return known === topic || (known !== undefined && typeof known !== 'string' && known.includes(topic))
  }

  /** Distinct message ids remembered. */
  get size(): number {
    return this.#topics.size
  }
}
