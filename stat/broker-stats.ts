/**
 * The broker's running counters. Handlers count; /stat, /metrics and the console read. Per-topic
 * and per-group counts are kept as plain maps so a snapshot is cheap.
 */
import { LatencyHistogram } from './latency-histogram.ts'

export type CounterName = 'received' | 'stored' | 'rejected' | 'delivered' | 'failed' | 'retried' | 'deadLettered' | 'txChecks'

export class BrokerStats {
  readonly totals: Record<CounterName, number> = {
    received: 0, stored: 0, rejected: 0, delivered: 0, failed: 0, retried: 0, deadLettered: 0, txChecks: 0,
  }
  /** received messages per topic */
  readonly receivedByTopic = new Map<string, number>()
  /** received messages per producer group */
  readonly receivedByGroup = new Map<string, number>()
  /** successful deliveries per topic */
  readonly deliveredByTopic = new Map<string, number>()
  /** per "topic\u0000group" delivery outcome counts */
  readonly byTopicGroup = new Map<string, Record<'delivered' | 'failed' | 'retried' | 'deadLettered', number>>()

  /** Per topic: first delivery time − deliverAt of delayed messages. */
  readonly delayLateness = new Map<string, LatencyHistogram>()

  observeLateness(topic: string, ms: number): void {
    let h = this.delayLateness.get(topic)
    if (h === undefined) {
      h = new LatencyHistogram()
      this.delayLateness.set(topic, h)
    }
    h.observe(ms)
  }

  count(name: CounterName, n = 1): void {
    this.totals[name] += n
  }

  received(topic: string, group: string): void {
    this.totals.received++
    this.receivedByTopic.set(topic, (this.receivedByTopic.get(topic) ?? 0) + 1)
    this.receivedByGroup.set(group, (this.receivedByGroup.get(group) ?? 0) + 1)
  }

  groupOutcome(topic: string, group: string, outcome: 'delivered' | 'failed' | 'retried' | 'deadLettered'): void {
    const key = `${topic}\u0000${group}`
    let counts = this.byTopicGroup.get(key)
    if (counts === undefined) {
      counts = { delivered: 0, failed: 0, retried: 0, deadLettered: 0 }
      this.byTopicGroup.set(key, counts)
    }
    counts[outcome]++
    if (outcome === 'delivered') this.deliveredByTopic.set(topic, (this.deliveredByTopic.get(topic) ?? 0) + 1)
  }
}
