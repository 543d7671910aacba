/**
 * KafkaBridge: forwards KiteQ messages into Kafka as bound consumer groups `kafka:<kafka topic>`
 * (the server's `deliveryTargets`), so forwarding gets what every group gets: at-least-once,
 * per-group success bookkeeping, retries with backoff, dead letters, watermarks, delayed messages
 * at their deliverAt, transactional messages only after commit. A delivery succeeds only once
 * Kafka acknowledged the record with acks = all on an idempotent producer.
 *
 * While Kafka is down (or the bounded outbox is full) busyForMs() is positive, so the broker puts
 * the Kafka group's deliveries off without spending attempts and without holding anything here;
 * local groups are delivered as usual, never waiting for Kafka.
 */
import type { Binding } from '../binding/binding.ts'
import type { DeliveryTarget } from '../handler/context.ts'
import { silentLogger, type Logger } from '../protocol/logger.ts'
import { Outbox, type OutboxCounters, type OutboxLimits } from './outbox.ts'
import { ProducerLink, type ProducerLinkOptions } from './producer-link.ts'
import { kafkaGroups, type KafkaGroup, type KafkaRoute } from './routes.ts'

export const kafkaBridgeDefaults = {
  clientId: 'kiteq',
  connectionTimeoutMs: 1_000,
  requestTimeoutMs: 5_000,
  sendTimeoutMs: 5_000,
  reconnectInitialMs: 200,
  reconnectMaxMs: 5_000,
  maxDownWaitMs: 20_000,
  maxPendingMessages: 50_000,
  maxPendingBytes: 64 * 1024 * 1024,
  maxBatchMessages: 5_000,
  /** Kafka's default message.max.bytes is 1 MiB per partition batch; a request stays below it. */
  maxBatchBytes: 768 * 1024,
  maxQueueWaitMs: 5_000,
  maxRoomWaitMs: 30_000,
} as const

type Tuning = { -readonly [K in keyof typeof kafkaBridgeDefaults]: (typeof kafkaBridgeDefaults)[K] extends number ? number : string }

export interface KafkaBridgeOptions extends Partial<Tuning> {
  /** host:port of one or more Kafka brokers. */
  brokers: readonly string[]
  routes: readonly KafkaRoute[]
  logger?: Logger
  /** Told the outcome of every forward, by KiteQ topic (the operator's /metrics counts them). */
  onForward?: (topic: string, ok: boolean) => void
}

export interface KafkaDeliveryTarget {
  groupId: string
  bindings: readonly Binding[]
  target: DeliveryTarget
}

export class KafkaBridge {
  readonly groups: readonly KafkaGroup[]
  readonly #link: ProducerLink
  readonly #outbox: Outbox
  readonly #onForward: ((topic: string, ok: boolean) => void) | undefined
  #started = false

  constructor(options: KafkaBridgeOptions) {
    const o: Tuning = { ...kafkaBridgeDefaults, ...options }
    const logger = (options.logger ?? silentLogger).child({ component: 'kafka' })
    this.groups = kafkaGroups(options.routes)
    this.#onForward = options.onForward
    const linkOptions: ProducerLinkOptions = {
      brokers: options.brokers, clientId: o.clientId, logger, connectionTimeoutMs: o.connectionTimeoutMs,
      requestTimeoutMs: o.requestTimeoutMs, sendTimeoutMs: o.sendTimeoutMs,
      reconnectInitialMs: o.reconnectInitialMs, reconnectMaxMs: o.reconnectMaxMs, maxDownWaitMs: o.maxDownWaitMs,
    }
    this.#link = new ProducerLink(linkOptions)
    const limits: OutboxLimits = {
      maxPendingMessages: o.maxPendingMessages, maxPendingBytes: o.maxPendingBytes, maxBatchMessages: o.maxBatchMessages,
      maxBatchBytes: o.maxBatchBytes, maxQueueWaitMs: o.maxQueueWaitMs, maxRoomWaitMs: o.maxRoomWaitMs,
    }
    this.#outbox = new Outbox(this.#link, limits)
    this.#link.onUp = () => this.#outbox.wake()
  }

  /** For KiteQServerOptions.deliveryTargets: one bound group per Kafka topic. */
  get deliveryTargets(): KafkaDeliveryTarget[] {
    return this.groups.map((g) => ({
      groupId: g.groupId,
      bindings: g.bindings,
      target: {
        busyForMs: () => this.busyForMs(),
        deliver: (m) => {
          const forwarded = this.#outbox.enqueue(g.kafkaTopic, m)
          const report = this.#onForward
          return report === undefined ? forwarded : forwarded.then((ok) => (report(m.topic, ok), ok))
        },
      },
    }))
  }

  get connected(): boolean {
    return this.#link.up
  }

  get counters(): Readonly<OutboxCounters> {
    return this.#outbox.counters
  }

  get pending(): { messages: number; bytes: number } {
    return this.#outbox.pending
  }

  busyForMs(): number {
    return this.#link.downForMs() || this.#outbox.waitForRoomMs()
  }

  /** Starts connecting in the background: the broker starts even while Kafka is down. */
  start(): void {
    if (this.#started) return
    this.#started = true
    this.#link.start()
  }

  /** Call after the server has drained: answers what is still queued, then disconnects. */
  async stop(): Promise<void> {
    await this.#outbox.close()
    await this.#link.close()
  }
}
