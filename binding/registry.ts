/**
 * Where a broker's bindings come from, besides its clients' BIND commands: KiteQ's YAML file or
 * ZooKeeper. A registry may also announce the broker (ZooKeeper's /kiteq/server nodes).
 */
import type { Binding } from './binding.ts'

export interface BrokerIdentity {
  /** host:port clients should dial (published verbatim, as KiteQ does). */
  address: string
  topics: readonly string[]
}

export interface BindingRegistry {
  readonly kind: string
  /** Once the broker listens: announce it (if the registry does that) and start following bindings. */
  start(broker: BrokerIdentity): Promise<void>
  /** The served topics changed at run time (/reload). */
  updateTopics(topics: readonly string[]): Promise<void>
  bindingsFor(topic: string): Binding[]
  /** Bindings changed; call bindingsFor again. */
  on(event: 'change', listener: () => void): unknown
  /** Withdraws the announcement (graceful shutdown) and stops following. */
  close(): Promise<void>
}
