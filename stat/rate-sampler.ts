/**
 * Per-second rates for /stat and the console: the cumulative counters are read once per interval
 * (KiteQ: every second) and the rates of the last full interval are served, so a request never
 * sees a half-filled second.
 */
import type { BrokerStats } from './broker-stats.ts'
import type { NetworkCounters } from './network-counters.ts'

export interface CounterSample {
  atMs: number
  received: number
  delivered: number
  throttled: number
  readBytes: number
  writtenBytes: number
  framesRead: number
  framesWritten: number
  receivedByTopic: ReadonlyMap<string, number>
  deliveredByTopic: ReadonlyMap<string, number>
}

export interface Rates {
  /** The interval the rates were measured over (0 before the second sample). */
  intervalMs: number
  receivedPerSecond: number
  deliveredPerSecond: number
  throttledPerSecond: number
  readBytesPerSecond: number
  writtenBytesPerSecond: number
  readFramesPerSecond: number
  writtenFramesPerSecond: number
  receivedPerSecondByTopic: Record<string, number>
  deliveredPerSecondByTopic: Record<string, number>
}

export function sampleCounters(
  stats: BrokerStats, network: NetworkCounters | undefined, atMs: number, traffic = { framesRead: 0, framesWritten: 0 },
): CounterSample {
  const net = network?.totals()
  return {
    atMs,
    received: stats.totals.received,
    delivered: stats.totals.delivered,
    throttled: stats.totals.throttled,
    readBytes: net?.readBytes ?? 0,
    writtenBytes: net?.writtenBytes ?? 0,
    framesRead: traffic.framesRead,
    framesWritten: traffic.framesWritten,
    receivedByTopic: new Map(stats.receivedByTopic),
    deliveredByTopic: new Map(stats.deliveredByTopic),
  }
}

const noRates: Rates = {
  intervalMs: 0, receivedPerSecond: 0, deliveredPerSecond: 0, throttledPerSecond: 0, readBytesPerSecond: 0,
  writtenBytesPerSecond: 0, readFramesPerSecond: 0, writtenFramesPerSecond: 0, receivedPerSecondByTopic: {}, deliveredPerSecondByTopic: {},
}

/** Rates between two samples; a counter that went down (a restart) counts from zero. */
export function ratesBetween(prev: CounterSample, cur: CounterSample): Rates {
  const intervalMs = cur.atMs - prev.atMs
  if (intervalMs <= 0) return noRates
  const perSecond = (a: number, b: number) => ((b >= a ? b - a : b) * 1000) / intervalMs
  const byKey = (a: ReadonlyMap<string, number>, b: ReadonlyMap<string, number>) => {
    const out: Record<string, number> = {}
    for (const [k, v] of b) out[k] = perSecond(a.get(k) ?? 0, v)
    return out
  }
  return {
    intervalMs,
    receivedPerSecond: perSecond(prev.received, cur.received),
    deliveredPerSecond: perSecond(prev.delivered, cur.delivered),
    throttledPerSecond: perSecond(prev.throttled, cur.throttled),
    readBytesPerSecond: perSecond(prev.readBytes, cur.readBytes),
    writtenBytesPerSecond: perSecond(prev.writtenBytes, cur.writtenBytes),
    readFramesPerSecond: perSecond(prev.framesRead, cur.framesRead),
    writtenFramesPerSecond: perSecond(prev.framesWritten, cur.framesWritten),
    receivedPerSecondByTopic: byKey(prev.receivedByTopic, cur.receivedByTopic),
    deliveredPerSecondByTopic: byKey(prev.deliveredByTopic, cur.deliveredByTopic),
  }
}

export interface RateSamplerOptions {
  read: () => CounterSample
  /** Default 1000 ms, as KiteQ. */
  intervalMs?: number
}

export class RateSampler {
  readonly #read: () => CounterSample
  readonly #intervalMs: number
  #last: CounterSample | undefined
  #rates: Rates = noRates
  #timer: NodeJS.Timeout | undefined

  constructor(options: RateSamplerOptions) {
    this.#read = options.read
    this.#intervalMs = options.intervalMs ?? 1000
  }

  start(): void {
    if (this.#timer !== undefined) return
    this.#last = this.#read()
    this.#timer = setInterval(() => this.#tick(), this.#intervalMs)
    this.#timer.unref()
  }

  stop(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
  }

  /** The rates of the last full interval. */
  latest(): Rates {
    return this.#rates
  }

  #tick(): void {
    const cur = this.#read()
    if (this.#last !== undefined) this.#rates = ratesBetween(this.#last, cur)
    this.#last = cur
  }
}
