/**
 * Takes a snapshot of the broker's counters every ten minutes into the store (the console's trend
 * charts, which survive restarts that way) and prunes snapshots older than seven days. A failing
 * store is logged and retried at the next tick; it never stops the broker.
 */
import { silentLogger, type Logger } from '../protocol/logger.ts'
import type { StatSnapshot } from '../store/message-store.ts'
import type { ObservedBroker } from './observed-broker.ts'
import type { StoreStatsCache } from './store-stats-cache.ts'

export const snapshotDefaults = {
  intervalMs: 10 * 60_000,
  retentionMs: 7 * 24 * 3600_000,
} as const

/** What one snapshot holds; `v` changes when the shape does. */
export interface SnapshotData {
  v: 1
  totals: Record<string, number>
  receivedByTopic: Record<string, number>
  receivedByGroup: Record<string, number>
  deliveredByTopic: Record<string, number>
  pendingByTopic: Record<string, number>
  uncommitted: number
  deadLetters: number
  scheduledInMemory: number
  connections: number
}

async function snapshotData(broker: ObservedBroker, storeStats: StoreStatsCache): Promise<SnapshotData> {
  const store = await storeStats.get()
  const s = broker.stats
  return {
    v: 1,
    totals: { ...s.totals },
    receivedByTopic: Object.fromEntries(s.receivedByTopic),
    receivedByGroup: Object.fromEntries(s.receivedByGroup),
    deliveredByTopic: Object.fromEntries(s.deliveredByTopic),
    pendingByTopic: { ...store.pendingByTopic },
    uncommitted: store.uncommitted,
    deadLetters: store.deadLetters,
    scheduledInMemory: broker.scheduledInMemory,
    connections: broker.connectionCount,
  }
}

export interface SnapshotterOptions {
  broker: ObservedBroker
  storeStats: StoreStatsCache
  intervalMs?: number
  retentionMs?: number
  logger?: Logger
}

export class Snapshotter {
  readonly #broker: ObservedBroker
  readonly #storeStats: StoreStatsCache
  readonly #intervalMs: number
  readonly #retentionMs: number
  readonly #logger: Logger
  #timer: NodeJS.Timeout | undefined
  #running: Promise<unknown> = Promise.resolve()

  constructor(options: SnapshotterOptions) {
    this.#broker = options.broker
    this.#storeStats = options.storeStats
    this.#intervalMs = options.intervalMs ?? snapshotDefaults.intervalMs
    this.#retentionMs = options.retentionMs ?? snapshotDefaults.retentionMs
    this.#logger = options.logger ?? silentLogger
  }

  get intervalMs(): number {
    return this.#intervalMs
  }

  /** Takes one snapshot at once (a baseline, so the first trend point needs one interval, not two), then one per interval. */
  start(): void {
    if (this.#timer !== undefined) return
    this.#tick()
    this.#timer = setInterval(() => this.#tick(), this.#intervalMs)
    this.#timer.unref()
  }

  /** Stops the timer and waits for a snapshot being written. */
  async stop(): Promise<void> {
    clearInterval(this.#timer)
    this.#timer = undefined
    await this.#running
  }

  async takeNow(): Promise<StatSnapshot> {
    const atMs = this.#broker.clock.now()
    const snapshot: StatSnapshot = { atMs, data: { ...(await snapshotData(this.#broker, this.#storeStats)) } }
    await this.#broker.store.saveSnapshot(snapshot)
    await this.#broker.store.pruneSnapshots(atMs - this.#retentionMs)
    return snapshot
  }

  #tick(): void {
    // one at a time: a slow store must not pile snapshots up
    this.#running = this.#running.then(() =>
      this.takeNow().catch((err: Error) =>
        this.#logger.warn({ err: err.message, code: (err as { code?: string }).code }, 'stat snapshot not saved')))
  }
}
