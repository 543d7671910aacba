/**
 * Re-reads keyed state after ZooKeeper watch events. Watches fire once per change and bursts are
 * common (a group rewriting its bindings, brokers coming and going), so reads of one key never
 * overlap, and any number of requests during a read cause exactly one more read.
 */
export class CoalescingReader {
  readonly #read: (key: string) => Promise<void>
  readonly #onError: (key: string, err: unknown) => void
  readonly #active = new Map<string, { again: boolean; done: Promise<void> }>()

  constructor(read: (key: string) => Promise<void>, onError: (key: string, err: unknown) => void) {
    this.#read = read
    this.#onError = onError
  }

  /** Resolves once a read of `key` that began after this call has finished (failed reads are reported, not thrown). */
  request(key: string): Promise<void> {
    const active = this.#active.get(key)
    if (active !== undefined) {
      active.again = true
      return active.done
    }
    const entry = { again: true, done: Promise.resolve() }
    this.#active.set(key, entry)
    entry.done = this.#loop(key, entry)
    return entry.done
  }

  async #loop(key: string, entry: { again: boolean }): Promise<void> {
    // first await before anything else, so the caller has stored `done` before a read can re-enter
    await Promise.resolve()
    try {
      while (entry.again) {
        entry.again = false
        try {
          await this.#read(key)
        } catch (err) {
          this.#onError(key, err)
        }
      }
    } finally {
      this.#active.delete(key)
    }
  }
}
