/** What the operator's routes work with, built once by startOperatorView(). */
import type { Logger } from '../protocol/logger.ts'
import type { AccessPolicy } from './http-auth.ts'
import type { BrokerMetrics } from './metrics.ts'
import type { ObservedBroker } from './observed-broker.ts'
import type { Rates } from './rate-sampler.ts'
import type { StoreStatsCache } from './store-stats-cache.ts'

export interface OperatorContext {
  broker: ObservedBroker
  access: AccessPolicy
  rates: () => Rates
  storeStats: StoreStatsCache
  metrics: BrokerMetrics
  /** Re-reads the served topics from the operator's configuration (/reload); undefined: nothing to reload from. */
  readTopics: (() => readonly string[] | Promise<readonly string[]>) | undefined
  snapshotIntervalMs: number
  startedAtMs: number
  logger: Logger
}
