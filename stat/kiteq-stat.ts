/**
 * KiteQ's own monitoring JSON, key for key (kiteq server/kite_server.go): /stat and /binds. Keys
 * keep KiteQ's spelling, `recieve` included, so kiteq-ops style dashboards read them unchanged.
 * Values with no Node counterpart (the goroutine count) are left out; `deliver_go`, KiteQ's
 * delivery goroutines, counts the messages whose delivery is under way (one goroutine each there).
 */
import type { StoreStats } from '../store/message-store.ts'
import type { ObservedBroker } from './observed-broker.ts'
import type { Rates } from './rate-sampler.ts'

export interface KiteQStat {
  kiteq: {
    deliver_count: number
    recieve_count: number
    message_count: Record<string, number>
    topics_deliver: Record<string, number>
    topics_recieve: Record<string, number>
    groups: Record<string, string[]>
    /** [permits acquired in the last second, permits per second]; 0 permits = no limit. */
    accept_limiter: [number, number]
    /** KiteQ's delivery goroutines: here, messages whose delivery is under way. */
    deliver_go: number
    /** KiteQ-TS additions. */
    scheduled_in_memory: number
    /** Due messages waiting for room in their group's window. */
    due_parked: number
    /** Due messages left in the store (re-read later) because their topic's queue was full, since start. */
    due_spilled: number
    uncommitted: number
    dead_letters: number
  }
  network: {
    read_count: number
    read_bytes: number
    write_count: number
    write_bytes: number
    connections: number
  }
}

/** A per-second rate as KiteQ shows it: a whole number. */
const whole = (n: number) => Math.round(n)

function wholeEach(rates: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {}
  for (const [k, v] of Object.entries(rates)) out[k] = whole(v)
  return out
}

export function kiteqStat(broker: ObservedBroker, rates: Rates, store: StoreStats): KiteQStat {
  const messageCount: Record<string, number> = {}
  for (const topic of broker.topics) messageCount[topic] = 0
  Object.assign(messageCount, store.pendingByTopic)
  return {
    kiteq: {
      deliver_count: whole(rates.deliveredPerSecond),
      recieve_count: whole(rates.receivedPerSecond),
      message_count: messageCount,
      topics_deliver: wholeEach(rates.deliveredPerSecondByTopic),
      topics_recieve: wholeEach(rates.receivedPerSecondByTopic),
      groups: broker.sessions.groups(),
      accept_limiter: [whole(Math.max(0, rates.receivedPerSecond - rates.throttledPerSecond)), broker.settings.acceptPermitsPerSecond],
      deliver_go: broker.deliveriesInFlight,
      scheduled_in_memory: broker.scheduledInMemory,
      due_parked: broker.dueParked,
      due_spilled: broker.dueSpilled,
      uncommitted: store.uncommitted,
      dead_letters: store.deadLetters,
    },
    network: {
      read_count: whole(rates.readFramesPerSecond),
      read_bytes: whole(rates.readBytesPerSecond),
      write_count: whole(rates.writtenFramesPerSecond),
      write_bytes: whole(rates.writtenBytesPerSecond),
      connections: broker.connectionCount,
    },
  }
}

export interface KiteQBinds {
  topic_2_groups: Record<string, string[]>
  /** topic → group → [deliveries since the last /binds call, permits per second] */
  topic_limiters: Record<string, Record<string, [number, number]>>
}

/** /binds. Reading it resets the limiters' "since last call" counts, as in KiteQ. */
export function kiteqBinds(broker: ObservedBroker): KiteQBinds {
  const topicToGroups: Record<string, string[]> = {}
  for (const [topic, bindings] of Object.entries(broker.exchanger.snapshot())) {
    topicToGroups[topic] = [...new Set(bindings.map((b) => b.groupId))].sort()
  }
  return { topic_2_groups: topicToGroups, topic_limiters: broker.exchanger.limiterStats() }
}
