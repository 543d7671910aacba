/**
 * The bridge's one idempotent kafkajs producer, and whether Kafka can be written to now.
 *
 * A failed send throws the producer away and a new one is connected in the background (backoff
 * doubling to `reconnectMaxMs`). That is not only for reconnecting: kafkajs hands a failed batch's
 * sequence numbers to the next batch, and if the failed batch did reach Kafka (the answer was
 * lost), Kafka would take the next batch's different records for a duplicate and drop them
 * silently. A new producer gets a new producer id, so the sequence numbers start afresh; the
 * price is that a retried batch may be written twice (at-least-once, key = messageId).
 */
import kafkajs, { type Kafka, type Message, type Producer, type logCreator } from 'kafkajs'
import { ErrorCodes, KiteQError } from '../protocol/errors.ts'
import type { Logger } from '../protocol/logger.ts'

const { Kafka: KafkaClient, Partitioners, logLevel } = kafkajs

export interface ProducerLinkOptions {
  brokers: readonly string[]
  clientId: string
  logger: Logger
  connectionTimeoutMs: number
  /** How long Kafka has to acknowledge one produce request (acks = all). */
  requestTimeoutMs: number
  /** A whole send, kafkajs's own retries included, before it counts as failed. */
  sendTimeoutMs: number
  reconnectInitialMs: number
  reconnectMaxMs: number
  /** The longest downForMs() answers during a long outage. */
  maxDownWaitMs: number
}

export interface TopicBatch {
  topic: string
  messages: Message[]
}

/** kafkajs retries a request this often before the send fails and the link reconnects. */
const KAFKAJS_RETRY = { retries: 2, initialRetryTime: 100, maxRetryTime: 1_000 }

/**
 * kafkajs logs every retry of every request; during an outage that is a flood. Its lines go to
 * debug, and the link logs one line per change of state instead.
 */
function kafkajsLogs(logger: Logger): logCreator {
  return () => ({ namespace, level, log }) => {
    const { message, timestamp: _t, ...extra } = log
    logger.debug({ namespace, kafkajsLevel: level, ...extra }, message)
  }
}

function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new KiteQError(ErrorCodes.TIMEOUT, `${what}: no answer from Kafka within ${ms} ms`, { retriable: true })), ms)
  })
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer))
}

export class ProducerLink {
  readonly #options: ProducerLinkOptions
  readonly #logger: Logger
  readonly #kafka: Kafka
  #producer: Producer | undefined
  #connecting = false
  #closed = false
  #retryTimer: NodeJS.Timeout | undefined
  #backoffMs: number
  #downSinceMs: number | undefined
  #lastError = 'not connected yet'
  /** Called whenever the link comes up (the outbox sends what waits). */
  onUp: () => void = () => {}

  constructor(options: ProducerLinkOptions) {
    this.#options = options
    this.#logger = options.logger
    this.#backoffMs = options.reconnectInitialMs
    this.#kafka = new KafkaClient({
      brokers: [...options.brokers],
      clientId: options.clientId,
      connectionTimeout: options.connectionTimeoutMs,
      requestTimeout: options.requestTimeoutMs,
      retry: KAFKAJS_RETRY,
      logLevel: logLevel.WARN,
      logCreator: kafkajsLogs(options.logger),
    })
  }

  get up(): boolean {
    return this.#producer !== undefined
  }

  /**
   * 0 when up. While down: how long to put work off. At least the reconnect backoff, and half the
   * outage so far (at most maxDownWaitMs): every message put off comes back and is put off again,
   * so the broker's rework per second is (messages waiting) / (this wait); letting the wait grow
   * with the outage keeps that near the publish rate instead of growing with the backlog. The
   * price: after an outage of T, forwarding resumes within about T/2 (a target cannot ask the
   * broker to bring its put-off messages forward).
   */
  downForMs(): number {
    if (this.up) return 0
    const downSoFarMs = Date.now() - (this.#downSinceMs ?? Date.now())
    return Math.ceil(Math.max(100, this.#backoffMs, Math.min(this.#options.maxDownWaitMs, downSoFarMs / 2)))
  }

  /** Connects in the background; never throws (Kafka may well be down when the broker starts). */
  start(): void {
    this.#downSinceMs = Date.now()
    void this.#connect()
  }

  /** One produce request; on any failure the producer is dropped and the link reconnects. */
  async send(batches: TopicBatch[]): Promise<void> {
    const producer = this.#producer
    if (producer === undefined) throw new KiteQError(ErrorCodes.CONNECTION_CLOSED, `Kafka is not connected (${this.#lastError})`, { retriable: true })
    try {
      await withTimeout(producer.sendBatch({ topicMessages: batches, acks: -1, timeout: this.#options.requestTimeoutMs }), this.#options.sendTimeoutMs, 'send')
    } catch (err) {
      this.#lost(producer, err as Error)
      throw err
    }
  }

  async close(): Promise<void> {
    this.#closed = true
    clearTimeout(this.#retryTimer)
    const producer = this.#producer
    this.#producer = undefined
    await producer?.disconnect().catch(() => {})
  }

  #lost(producer: Producer, err: Error): void {
    if (this.#producer !== producer) return // an older producer's late failure
    this.#producer = undefined
    this.#downSinceMs = Date.now()
    this.#lastError = err.message
    this.#logger.warn({ err: err.message, name: err.name }, 'Kafka send failed: reconnecting; deliveries into Kafka are put off')
    void producer.disconnect().catch(() => {})
    this.#backoffMs = this.#options.reconnectInitialMs
    this.#scheduleConnect(this.#backoffMs)
  }

  #scheduleConnect(delayMs: number): void {
    if (this.#closed) return
    clearTimeout(this.#retryTimer)
    // ±20 % so several brokers do not knock on a recovering Kafka in step
    const jittered = delayMs * (0.8 + Math.random() * 0.4)
    this.#retryTimer = setTimeout(() => void this.#connect(), jittered)
    this.#retryTimer.unref()
  }

  async #connect(): Promise<void> {
    if (this.#connecting || this.#closed || this.#producer !== undefined) return
    this.#connecting = true
    const producer = this.#kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      retry: KAFKAJS_RETRY,
      createPartitioner: Partitioners.DefaultPartitioner,
    })
    try {
      await withTimeout(producer.connect(), this.#options.sendTimeoutMs, 'connect')
      if (this.#closed) {
        await producer.disconnect().catch(() => {})
        return
      }
      this.#producer = producer
      const downMs = this.#downSinceMs === undefined ? 0 : Date.now() - this.#downSinceMs
      this.#logger.info({ brokers: this.#options.brokers, downMs }, 'Kafka connected')
      this.#downSinceMs = undefined
      this.#backoffMs = this.#options.reconnectInitialMs
      this.onUp()
    } catch (err) {
      void producer.disconnect().catch(() => {})
      const message = (err as Error).message
      // one line per distinct cause, not one per attempt
      if (message !== this.#lastError) this.#logger.warn({ err: message, brokers: this.#options.brokers }, 'Kafka unreachable: retrying')
      this.#lastError = message
      this.#backoffMs = Math.min(this.#options.reconnectMaxMs, this.#backoffMs * 2)
      this.#scheduleConnect(this.#backoffMs)
    } finally {
      this.#connecting = false
    }
  }
}
