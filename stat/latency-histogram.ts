/**
 * A latency distribution: cumulative buckets (for Prometheus-style export) plus a ring of the most
 * recent observations from which percentiles are read (for /stat and the console).
 */
export const latencyBucketsMs = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 30_000, 60_000] as const

export interface LatencySummary {
  count: number
  sumMs: number
  maxMs: number
  p50Ms: number
  p99Ms: number
  /** Observations ≤ each bound of latencyBucketsMs (cumulative), then the total. */
  buckets: number[]
}

export class LatencyHistogram {
  readonly #recent: Float64Array
  #next = 0
  #filled = 0
  #count = 0
  #sum = 0
  #max = 0
  readonly #buckets = new Array<number>(latencyBucketsMs.length).fill(0)

  constructor(recentCapacity = 4096) {
    this.#recent = new Float64Array(recentCapacity)
  }

  observe(ms: number): void {
    const v = Math.max(0, ms)
    this.#recent[this.#next] = v
    this.#next = (this.#next + 1) % this.#recent.length
    if (this.#filled < this.#recent.length) this.#filled++
    this.#count++
    this.#sum += v
    if (v > this.#max) this.#max = v
    for (let i = 0; i < latencyBucketsMs.length; i++) if (v <= latencyBucketsMs[i]) this.#buckets[i]++
  }

  summary(): LatencySummary {
    const sorted = Array.from(this.#recent.subarray(0, this.#filled)).sort((a, b) => a - b)
    const at = (p: number) => (sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))])
    return { count: this.#count, sumMs: this.#sum, maxMs: this.#max, p50Ms: at(50), p99Ms: at(99), buckets: [...this.#buckets, this.#count] }
  }
}
