/**
 * /metrics: the broker in Prometheus text format (prom-client, one private registry per broker so
 * several brokers in one process never mix).
 *
 * The counters are not incremented twice: handlers count in BrokerStats, and each scrape copies
 * those totals into the exported counters (reset, then set). Gauges are read at scrape time.
 * Latency histograms receive every observation as it happens (BrokerStats latency sinks), since
 * bucket counts cannot be rebuilt afterwards; they are BucketHistograms, cheap enough for the
 * per-message paths. Kafka forwarding and store timings are counted here directly, by the bridge
 * and by instrumentStore().
 */
import { Counter, Gauge, Registry, collectDefaultMetrics, type LabelValues } from 'prom-client'
import { BucketHistogram, type HistogramSeries } from './bucket-histogram.ts'
import { splitTopicGroupKey, topicGroupKey, type CounterName, type GroupOutcome } from './broker-stats.ts'
import { latencyBucketsMs } from './latency-histogram.ts'
import type { NetworkCounters } from './network-counters.ts'
import type { ObservedBroker } from './observed-broker.ts'
import type { StoreStatsCache } from './store-stats-cache.ts'

const latencyBucketsSeconds = latencyBucketsMs.map((ms) => ms / 1000)
/** Store calls range from microseconds (memory) to a disk flush (tens of ms) or a stall. */
const storeBucketsSeconds = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]

export interface BrokerMetricsOptions {
  /** Node's process metrics (CPU, memory, event-loop lag, GC); default true. */
  processMetrics?: boolean
}

export interface MetricsSources {
  storeStats: StoreStatsCache
  network?: NetworkCounters
}

type Rows<L extends string> = Iterable<[LabelValues<L>, number]>

const eventLabel: Record<CounterName, string> = {
  received: 'received', stored: 'stored', rejected: 'rejected', throttled: 'throttled', delivered: 'delivered',
  failed: 'failed', retried: 'retried', deadLettered: 'dead_lettered', txChecks: 'tx_checks',
}

export class BrokerMetrics {
  readonly registry = new Registry()
  readonly #kafkaForwarded: Counter<'topic'>
  readonly #kafkaFailed: Counter<'topic'>
  readonly #storeSeconds: BucketHistogram<'store' | 'op' | 'outcome'>
  readonly #lateness: BucketHistogram<'topic'>
  readonly #deliverLatency: BucketHistogram<'topic' | 'group'>
  #unwatch: (() => void) | undefined

  constructor(options: BrokerMetricsOptions = {}) {
    const registers = [this.registry]
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry })
    this.#kafkaForwarded = new Counter({
      name: 'kiteq_kafka_forwarded_messages_total', help: 'Messages the Kafka bridge handed to Kafka (acknowledged by Kafka)',
      labelNames: ['topic'], registers,
    })
    this.#kafkaFailed = new Counter({
      name: 'kiteq_kafka_forward_failures_total', help: 'Messages the Kafka bridge failed to hand to Kafka (each failed attempt)',
      labelNames: ['topic'], registers,
    })
    const registry = this.registry
    this.#storeSeconds = new BucketHistogram({
      name: 'kiteq_store_operation_seconds', help: 'Duration of message store calls, by operation and outcome (ok, error)',
      buckets: storeBucketsSeconds, registry,
    })
    this.#lateness = new BucketHistogram({
      name: 'kiteq_delay_lateness_seconds', help: 'First delivery of a delayed message minus its deliverAt',
      buckets: latencyBucketsSeconds, registry,
    })
    this.#deliverLatency = new BucketHistogram({
      name: 'kiteq_deliver_latency_seconds', help: 'From a message being due (published, or its deliverAt) to the consumer group\'s ack',
      buckets: latencyBucketsSeconds, registry,
    })
  }

  /** For the Kafka bridge: `n` messages of `topic` were accepted by Kafka. */
  kafkaForwarded(topic: string, n = 1): void {
    this.#kafkaForwarded.inc({ topic }, n)
  }

  /** For the Kafka bridge: `n` messages of `topic` could not be handed to Kafka this attempt. */
  kafkaFailed(topic: string, n = 1): void {
    this.#kafkaFailed.inc({ topic }, n)
  }

  /** For instrumentStore(): where the durations (seconds) of one store operation go. */
  storeOperation(store: string, op: string): { ok: HistogramSeries; error: HistogramSeries } {
    const series = (outcome: string) => this.#storeSeconds.series(`${store}\u0000${op}\u0000${outcome}`, () => ({ store, op, outcome }))
    // the error series appears with the first error, not as a row of zeros beside every operation
    let error: HistogramSeries | undefined
    return { ok: series('ok'), error: { observe: (seconds) => (error ??= series('error')).observe(seconds) } }
  }

  /** Exports `broker`'s counters and gauges from now on (one broker per BrokerMetrics). */
  watch(broker: ObservedBroker, sources: MetricsSources): void {
    if (this.#unwatch !== undefined) throw new Error('BrokerMetrics already watches a broker')
    const stats = broker.stats
    const registers = [this.registry]
    const names: string[] = []
    const counter = <L extends string>(name: string, help: string, labelNames: L[], rows: () => Rows<L>) => {
      names.push(name)
      new Counter<L>({
        name, help, labelNames, registers,
        collect() {
          this.reset()
          for (const [labels, value] of rows()) this.inc(labels, value)
        },
      })
    }
    const gauge = <L extends string>(name: string, help: string, labelNames: L[], rows: () => Rows<L> | Promise<Rows<L>>) => {
      names.push(name)
      new Gauge<L>({
        name, help, labelNames, registers,
        async collect() {
          const current = await rows()
          this.reset()
          for (const [labels, value] of current) this.set(labels, value)
        },
      })
    }
    const byTopicGroup = (labelName: 'group' | 'producer_group', map: ReadonlyMap<string, number>) =>
      function* () {
        for (const [key, n] of map) {
          const [topic, group] = splitTopicGroupKey(key)
          yield [{ topic, [labelName]: group }, n] as [LabelValues<'topic' | typeof labelName>, number]
        }
      }
    const outcome = (name: GroupOutcome) =>
      function* (): Rows<'topic' | 'group'> {
        for (const [key, counts] of stats.byTopicGroup) {
          const [topic, group] = splitTopicGroupKey(key)
          yield [{ topic, group }, counts[name]]
        }
      }

    counter('kiteq_events_total', 'Broker-wide event counts (received, stored, rejected, throttled, delivered, failed, retried, dead_lettered, tx_checks)',
      ['event'], () => Object.entries(stats.totals).map(([k, v]) => [{ event: eventLabel[k as CounterName] }, v]))
    counter('kiteq_received_messages_total', 'Messages received, by topic and producer group', ['topic', 'producer_group'],
      byTopicGroup('producer_group', stats.receivedByTopicGroup))
    counter('kiteq_stored_messages_total', 'Messages safely stored, by topic and producer group', ['topic', 'producer_group'],
      byTopicGroup('producer_group', stats.storedByTopicGroup))
    counter('kiteq_delivered_messages_total', 'Deliveries acknowledged, by topic and consumer group', ['topic', 'group'], outcome('delivered'))
    counter('kiteq_delivery_failures_total', 'Delivery attempts refused or unanswered, by topic and consumer group', ['topic', 'group'], outcome('failed'))
    counter('kiteq_delivery_retries_total', 'Redeliveries scheduled after a failure, by topic and consumer group', ['topic', 'group'], outcome('retried'))
    counter('kiteq_dead_lettered_group_messages_total', 'Messages dead-lettered while this consumer group had not received them', ['topic', 'group'],
      outcome('deadLettered'))
    counter('kiteq_dead_lettered_messages_total', 'Messages moved to the dead-letter table, by topic', ['topic'],
      () => [...stats.deadLetteredByTopic].map(([topic, n]) => [{ topic }, n]))

    gauge('kiteq_pending_messages', 'Live messages in the store, by topic', ['topic'], async () => {
      const { pendingByTopic } = await sources.storeStats.get()
      const rows = new Map<string, number>(broker.topics.map((t) => [t, 0]))
      for (const [t, n] of Object.entries(pendingByTopic)) rows.set(t, n)
      return [...rows].map(([topic, n]) => [{ topic }, n])
    })
    gauge('kiteq_uncommitted_messages', 'Transactional messages waiting for their commit or rollback', [],
      async () => [[{}, (await sources.storeStats.get()).uncommitted]])
    gauge('kiteq_dead_letter_messages', 'Messages in the dead-letter table', [], async () => [[{}, (await sources.storeStats.get()).deadLetters]])
    gauge('kiteq_deliveries_in_flight', 'Messages whose delivery is under way (sent and awaiting answers, or being read to be sent)', [],
      () => [[{}, broker.deliveriesInFlight]])
    gauge('kiteq_scheduled_in_memory', 'Scheduler entries waiting in memory (the timing wheel)', [], () => [[{}, broker.scheduledInMemory]])
    gauge('kiteq_due_parked', 'Due messages waiting for room in their consumer group\'s window (-dueGroupWindow)', [], () => [[{}, broker.dueParked]])
    counter('kiteq_due_spilled_total', 'Due messages left in the store because their topic\'s queue was full (re-read as it drains)', [],
      () => [[{}, broker.dueSpilled]])
    gauge('kiteq_connections', 'Open client TCP connections', [], () => [[{}, broker.connectionCount]])
    gauge('kiteq_group_connections', 'Authenticated connections, by group', ['group'],
      () => Object.entries(broker.sessions.groups()).map(([group, remotes]) => [{ group }, remotes.length]))
    const network = sources.network
    if (network !== undefined) {
      counter('kiteq_network_received_bytes_total', 'Bytes read from client connections (since the HTTP port started)', [],
        () => [[{}, network.totals().readBytes]])
      counter('kiteq_network_sent_bytes_total', 'Bytes written to client connections (since the HTTP port started)', [],
        () => [[{}, network.totals().writtenBytes]])
    }

    const removeSink = stats.addLatencySink({
      delayLateness: (topic, ms) => this.#lateness.series(topic, () => ({ topic })).observe(ms / 1000),
      deliverLatency: (topic, group, ms) =>
        this.#deliverLatency.series(topicGroupKey(topic, group), () => ({ topic, group })).observe(ms / 1000),
    })
    this.#unwatch = () => {
      removeSink()
      for (const name of names) this.registry.removeSingleMetric(name)
    }
  }

  /** Stops exporting the watched broker (its latency observations included). */
  unwatch(): void {
    this.#unwatch?.()
    this.#unwatch = undefined
  }

  get contentType(): string {
    return this.registry.contentType
  }

  text(): Promise<string> {
    return this.registry.metrics()
  }
}
