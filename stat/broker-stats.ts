/**
 * The broker's running counters. Handlers count; /stat, /metrics and the console read. Per-topic
 * and per-group counts are kept as plain maps so a snapshot is cheap.
 */
import { LatencyHistogram } from './latency-histogram.ts'

export type CounterName =
  | 'received' | 'stored' | 'rejected' | 'throttled' | 'delivered' | 'failed' | 'retried' | 'deadLettered' | 'txChecks'

export type GroupOutcome = 'delivered' | 'failed' | 'retried' | 'deadLettered'

/** Latency observations, forwarded as they happen (the Prometheus histograms need every one). */
export interface LatencySink {
  delayLateness(topic: string, ms: number): void
  deliverLatency(topic: string, group: string, ms: number): void
}

/** Keys made so far, so counting a message reuses one string (its hash cached) instead of a new one. */
const keysByTopic = new Map<string, Map<string, string>>()
let keysMade = 0
/** Past this many, keys are made afresh each time (group names come from clients). */
const MAX_REMEMBERED_KEYS = 10_000

/** The key of the "topic × group" maps below; NUL cannot occur in a topic or group name. */
export function topicGroupKey(topic: string, group: string): string {
  let byGroup = keysByTopic.get(topic)
  const known = byGroup?.get(group)
  if (known !== undefined) return known
  const key = `${topic}\u0000${group}`
  if (keysMade < MAX_REMEMBERED_KEYS) {
    if (byGroup === undefined) keysByTopic.set(topic, (byGroup = new Map()))
    byGroup.set(group, key)
    keysMade++
  }
  return key
}

export function splitTopicGroupKey(key: string): [topic: string, group: string] {
  const i = key.indexOf('\u0000')
  return [key.slice(0, i), key.slice(i + 1)]
}

function bump(map: Map<string, number>, key: string, n = 1): void {
  map.set(key, (map.get(key) ?? 0) + n)
}

export class BrokerStats {
  readonly totals: Record<CounterName, number> = {
    received: 0, stored: 0, rejected: 0, throttled: 0, delivered: 0, failed: 0, retried: 0, deadLettered: 0, txChecks: 0,
  }
  /** received messages per topic */
  readonly receivedByTopic = new Map<string, number>()
  /** received messages per producer group */
  readonly receivedByGroup = new Map<string, number>()
  /** received messages per topicGroupKey(topic, producer group) */
  readonly receivedByTopicGroup = new Map<string, number>()
  /** stored messages per topicGroupKey(topic, producer group); filled by stored() */
  readonly storedByTopicGroup = new Map<string, number>()
  /** successful deliveries per topic */
  readonly deliveredByTopic = new Map<string, number>()
  /** dead-lettered messages per topic, whatever sent them there; filled by deadLettered() */
  readonly deadLetteredByTopic = new Map<string, number>()
  /** per topicGroupKey(topic, consumer group) delivery outcome counts */
  readonly byTopicGroup = new Map<string, Record<GroupOutcome, number>>()

  /** Per topic: first delivery time − deliverAt of delayed messages. */
  readonly delayLateness = new Map<string, LatencyHistogram>()
  /** Per topicGroupKey(topic, consumer group): due time (publish, or deliverAt) → the consumer's ack. */
  readonly deliverLatency = new Map<string, LatencyHistogram>()

  #sinks: LatencySink[] = []

  /** Adds a receiver of every later latency observation; returns its removal. */
  addLatencySink(sink: LatencySink): () => void {
    this.#sinks = [...this.#sinks, sink]
    return () => {
      this.#sinks = this.#sinks.filter((s) => s !== sink)
    }
  }

  observeLateness(topic: string, ms: number): void {
    histogramOf(this.delayLateness, topic).observe(ms)
    for (const s of this.#sinks) s.delayLateness(topic, ms)
  }

  /**
   * A consumer group acknowledged a message: how long it took since the message was due (its
   * publication, or its deliverAt when it was delayed), retries and back-offs included.
   */
  observeDelivered(topic: string, group: string, message: { createdAtMs: number; deliverAtMs: number }, nowMs: number): void {
    const ms = Math.max(0, nowMs - Math.max(message.createdAtMs, message.deliverAtMs))
    histogramOf(this.deliverLatency, topicGroupKey(topic, group)).observe(ms)
    for (const s of this.#sinks) s.deliverLatency(topic, group, ms)
  }

  count(name: CounterName, n = 1): void {
    this.totals[name] += n
  }

  received(topic: string, group: string): void {
    this.totals.received++
    bump(this.receivedByTopic, topic)
    bump(this.receivedByGroup, group)
    bump(this.receivedByTopicGroup, topicGroupKey(topic, group))
  }

  /** A message is safely stored (counts totals.stored too). */
  stored(topic: string, group: string): void {
    this.totals.stored++
    bump(this.storedByTopicGroup, topicGroupKey(topic, group))
  }

  /** A message went to the dead-letter table (counts totals.deadLettered too). */
  deadLettered(topic: string): void {
    this.totals.deadLettered++
    bump(this.deadLetteredByTopic, topic)
  }

  groupOutcome(topic: string, group: string, outcome: GroupOutcome): void {
    const key = topicGroupKey(topic, group)
    let counts = this.byTopicGroup.get(key)
    if (counts === undefined) {
      counts = { delivered: 0, failed: 0, retried: 0, deadLettered: 0 }
      this.byTopicGroup.set(key, counts)
    }
    counts[outcome]++
    if (outcome === 'delivered') bump(this.deliveredByTopic, topic)
  }
}

function histogramOf(map: Map<string, LatencyHistogram>, key: string): LatencyHistogram {
  let h = map.get(key)
  if (h === undefined) {
    h = new LatencyHistogram()
    map.set(key, h)
  }
  return h
}
