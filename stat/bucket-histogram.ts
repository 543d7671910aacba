/**
 * A Prometheus histogram for hot paths: one series per label set, kept in a plain array and
 * reached through a handle the caller keeps, so an observation is a few comparisons and
 * additions (prom-client's own Histogram hashes the label object on every observe, which costs
 * about as much as a memory-store call it would be timing).
 *
 * It joins a prom-client Registry through the registry's metric contract (name, help, type,
 * get(), reset()); the text format is written by prom-client as for its own metrics.
 */
import type { Histogram, Registry } from 'prom-client'

export interface HistogramSeries {
  observe(value: number): void
}

interface Series<L extends string> extends HistogramSeries {
  readonly labels: Record<L, string>
  readonly counts: number[]
  sum: number
  count: number
}

export class BucketHistogram<L extends string> {
  readonly name: string
  readonly help: string
  readonly type = 'histogram'
  readonly aggregator = 'sum'
  readonly #bounds: readonly number[]
  readonly #series = new Map<string, Series<L>>()

  constructor(options: { name: string; help: string; buckets: readonly number[]; registry: Registry }) {
    this.name = options.name
    this.help = options.help
    this.#bounds = [...options.buckets].sort((a, b) => a - b)
    options.registry.registerMetric(this as unknown as Histogram)
  }

  /** The series for `key` (created with `labels()` the first time); keep it for later observations. */
  series(key: string, labels: () => Record<L, string>): HistogramSeries {
    let s = this.#series.get(key)
    if (s === undefined) {
      const bounds = this.#bounds
      const created: Series<L> = {
        labels: labels(),
        counts: new Array<number>(bounds.length).fill(0),
        sum: 0,
        count: 0,
        observe(value: number) {
          created.sum += value
          created.count++
          for (let i = 0; i < bounds.length; i++) {
            if (value <= bounds[i]) {
              created.counts[i]++
              return
            }
          }
        },
      }
      s = created
      this.#series.set(key, s)
    }
    return s
  }

  /** prom-client's metric contract: the samples, buckets cumulative. */
  async get() {
    const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = []
    for (const s of this.#series.values()) {
      let cumulative = 0
      for (let i = 0; i < this.#bounds.length; i++) {
        cumulative += s.counts[i]
        values.push({ labels: { ...s.labels, le: this.#bounds[i] }, value: cumulative, metricName: `${this.name}_bucket` })
      }
      values.push({ labels: { ...s.labels, le: '+Inf' }, value: s.count, metricName: `${this.name}_bucket` })
      values.push({ labels: s.labels, value: s.sum, metricName: `${this.name}_sum` })
      values.push({ labels: s.labels, value: s.count, metricName: `${this.name}_count` })
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values }
  }

  /** prom-client's Registry.resetMetrics() calls this. */
  reset(): void {
    this.#series.clear()
  }
}
