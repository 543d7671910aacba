/**
 * store.stats() counts rows (a scan on the memory store, COUNT queries on SQL stores), so every
 * reader — /stat, /metrics scrapes, console polls, snapshots — shares one answer for a short while
 * and concurrent callers share one call in flight.
 */
import type { MessageStore, StoreStats } from '../store/message-store.ts'

export class StoreStatsCache {
  readonly #store: Pick<MessageStore, 'stats'>
  readonly #maxAgeMs: number
  #value: StoreStats | undefined
  #atMs = 0
  #inFlight: Promise<StoreStats> | undefined

  constructor(store: Pick<MessageStore, 'stats'>, maxAgeMs = 1000) {
    this.#store = store
    this.#maxAgeMs = maxAgeMs
  }

  get(): Promise<StoreStats> {
    if (this.#value !== undefined && performance.now() - this.#atMs < this.#maxAgeMs) return Promise.resolve(this.#value)
    this.#inFlight ??= this.#store.stats().then(
      (value) => {
        this.#value = value
        this.#atMs = performance.now()
        this.#inFlight = undefined
        return value
      },
      (err: unknown) => {
        this.#inFlight = undefined
        throw err
      },
    )
    return this.#inFlight
  }
}
