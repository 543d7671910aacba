/**
 * The operator's view of one broker on the -pport HTTP port, put together: the 1 s rate sampler,
 * the network byte counters, the 10-minute snapshotter, the Prometheus metrics and the HTTP
 * server with KiteQ's endpoints, the JSON API and the console. Start it after the broker.
 */
import { silentLogger, type Logger } from '../protocol/logger.ts'
import { apiRoutes } from './api-routes.ts'
import { AccessPolicy } from './http-auth.ts'
import { listenHttp } from './http-server.ts'
import { kiteqRoutes } from './kiteq-routes.ts'
import { BrokerMetrics } from './metrics.ts'
import { NetworkCounters } from './network-counters.ts'
import type { ObservedBroker } from './observed-broker.ts'
import type { OperatorContext } from './operator-context.ts'
import { RateSampler, sampleCounters } from './rate-sampler.ts'
import { Snapshotter } from './snapshotter.ts'
import { StoreStatsCache } from './store-stats-cache.ts'

export interface OperatorViewOptions {
  broker: ObservedBroker
  /** Where the HTTP port listens (KiteQ: the -bind host, port -pport; 0 picks a free one). */
  host: string
  port: number
  /** Enables admin actions (cancel, reschedule, re-drive, reload) for `Authorization: Bearer <token>`. */
  adminToken?: string
  /** Read-only pages need the token too. */
  protectReads?: boolean
  /** /reload: the served topics as the configuration now says. */
  readTopics?: () => readonly string[] | Promise<readonly string[]>
  /** Pass the one the store was instrumented with; default: a new one. */
  metrics?: BrokerMetrics
  sampleIntervalMs?: number
  snapshotIntervalMs?: number
  snapshotRetentionMs?: number
  /** How long one store.stats() answer is shared by all readers. */
  storeStatsMaxAgeMs?: number
  logger?: Logger
}

export interface OperatorView {
  readonly host: string
  readonly port: number
  /** e.g. http://127.0.0.1:13801 */
  readonly url: string
  readonly metrics: BrokerMetrics
  readonly snapshotter: Snapshotter
  close(): Promise<void>
}

export async function startOperatorView(options: OperatorViewOptions): Promise<OperatorView> {
  const { broker } = options
  const logger = options.logger ?? silentLogger
  const access = new AccessPolicy({
    ...(options.adminToken !== undefined ? { adminToken: options.adminToken } : {}),
    protectReads: options.protectReads ?? false,
  })
  const network = new NetworkCounters(broker.address.port)
  const storeStats = new StoreStatsCache(broker.store, options.storeStatsMaxAgeMs)
  const sampler = new RateSampler({
    read: () => sampleCounters(broker.stats, network, performance.now(), broker.traffic),
    ...(options.sampleIntervalMs !== undefined ? { intervalMs: options.sampleIntervalMs } : {}),
  })
  const snapshotter = new Snapshotter({
    broker, storeStats, logger,
    ...(options.snapshotIntervalMs !== undefined ? { intervalMs: options.snapshotIntervalMs } : {}),
    ...(options.snapshotRetentionMs !== undefined ? { retentionMs: options.snapshotRetentionMs } : {}),
  })
  const metrics = options.metrics ?? new BrokerMetrics()
  metrics.watch(broker, { storeStats, network })
  const ctx: OperatorContext = {
    broker, access, storeStats, metrics, logger,
    rates: () => sampler.latest(),
    readTopics: options.readTopics,
    snapshotIntervalMs: snapshotter.intervalMs,
    startedAtMs: Date.now(),
  }
  let http
  try {
    http = await listenHttp({ host: options.host, port: options.port, routes: [...kiteqRoutes(ctx), ...apiRoutes(ctx)], access, logger })
  } catch (err) {
    metrics.unwatch()
    network.close()
    throw err
  }
  sampler.start()
  snapshotter.start()
  const url = `http://${http.host.includes(':') ? `[${http.host}]` : http.host}:${http.port}`
  logger.info({ url, admin: access.adminEnabled, protectReads: access.protectReads }, 'operator HTTP port listening')
  return {
    host: http.host,
    port: http.port,
    url,
    metrics,
    snapshotter,
    async close() {
      sampler.stop()
      await snapshotter.stop()
      await http.close()
      metrics.unwatch()
      network.close()
    },
  }
}
