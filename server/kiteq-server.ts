/**
 * KiteQServer wires the broker together: the TCP transport, the handler chains, the store, the
 * binding sources and the scheduler, and owns the in-flight bookkeeping and shutdown.
 */
import { bindingsFromJson, groupBindings, type Binding } from '../binding/binding.ts'
import { Exchanger } from '../binding/exchanger.ts'
import type { BindingRegistry } from '../binding/registry.ts'
import { CLIENT_BINDING_SOURCE } from '../handler/bind.ts'
import {
  cancelMessage, lookupMessage, redriveMessage, rescheduleMessage, type MessageView, type ScheduleOutcome,
} from '../handler/message-ops.ts'
import { compilePipeline, type Pipeline } from '../pipe/pipeline.ts'
import {
  newDeliveryContext, type BrokerContext, type DeliveryContext, type DeliveryTarget, type HandlerSettings, type TxCheckPolicy,
} from '../handler/context.ts'
import { createDeliverPreHandler } from '../handler/deliver-pre.ts'
import { createDeliverQosHandler } from '../handler/deliver-qos.ts'
import { createDeliverResultHandler } from '../handler/deliver-result.ts'
import { createPacketDispatcher, type PacketDispatcher } from '../handler/packet.ts'
import { checkBackTransaction } from '../handler/tx-check.ts'
import { ErrorCodes, KiteQError } from '../protocol/errors.ts'
import { silentLogger, type Logger } from '../protocol/logger.ts'
import type { ConnectionOptions } from '../remoting/connection.ts'
import { listenTcp, type TcpServer } from '../remoting/tcp-server.ts'
import { BrokerStats } from '../stat/broker-stats.ts'
import { MemoryStore } from '../store/memory-store.ts'
import { type DeadLetter, type DeadLetterQuery, type DueEntry, type MessageStore, type StoredMessage } from '../store/message-store.ts'
import { systemClock, type Clock } from './clock.ts'
import { DuePump, duePumpDefaults } from './due-pump.ts'
import { InFlight } from './in-flight.ts'
import { windowedRetryPolicy, type RetryPolicy } from './retry-policy.ts'
import { RecentDeliveries } from './recent-deliveries.ts'
import { Scheduler, type SchedulerOptions } from './scheduler.ts'
import { SessionRegistry } from './sessions.ts'

export interface KiteQServerOptions {
  /** host:port to listen on (port 0 picks a free one). */
  bind: string
  /** Topics this broker accepts messages for (exact names). */
  topics: readonly string[]
  store?: MessageStore
  /** Where bindings come from besides clients' BIND (KiteQ's YAML file, ZooKeeper); followed as they change. */
  registry?: BindingRegistry
  /** The address announced to the registry; default: the address listened on. */
  advertisedAddress?: string
  /** Groups that are not connections (e.g. the Kafka bridge), with their bindings. */
  deliveryTargets?: readonly { groupId: string; bindings: readonly Binding[]; target: DeliveryTarget }[]
  /** groupId → secretKey. When set, only these groups may connect, each with its own secret. */
  secrets?: Readonly<Record<string, string>>
  deliveryTimeoutMs?: number
  maxDeliverLimit?: number
  maxExpirySeconds?: number
  /** How far ahead a producer may schedule a message (deliverAt) or reschedule it. */
  maxDelayMs?: number
  /**
   * Topics whose delayed messages that fell due while the broker was down go to the dead-letter
   * table on start instead of being delivered late.
   */
  overdueToDeadLetter?: readonly string[]
  retry?: RetryPolicy
  txCheck?: Partial<TxCheckPolicy>
  offlineRetryMs?: number
  /** A delivery or fired entry whose store call failed is fired again this much later. */
  storeFailureRetryMs?: number
  /** Broker-wide accept limit in messages per second; 0 = none. */
  acceptPermitsPerSecond?: number
  /** Scheduler-fired messages between their store read and their sends at once (server/due-pump.ts). */
  maxConcurrentDue?: number
  /** Scheduled deliveries per consumer group awaiting an answer at most (server/due-pump.ts). */
  dueGroupWindow?: number
  /** Fired entries a topic keeps in memory at most; the rest are re-read from the store (server/due-pump.ts). */
  dueTopicQueue?: number
  /** How many fully delivered message ids are remembered at least, to answer "already delivered" (~40 B each). */
  deliveredMemory?: number
  scheduler?: Partial<Pick<SchedulerOptions, 'windowMs' | 'loadIntervalMs' | 'pageSize' | 'maxInMemory'>>
  connection?: ConnectionOptions
  clock?: Clock
  logger?: Logger
}

export const serverDefaults = {
  deliveryTimeoutMs: 5_000,
  maxDeliverLimit: 100,
  maxExpirySeconds: 7 * 24 * 3600,
  /** One year of 365 days. */
  maxDelayMs: 365 * 24 * 3600 * 1000,
  txCheck: { firstDelayMs: 6_000, intervalMs: 30_000, maxChecks: 15 } satisfies TxCheckPolicy,
  offlineRetryMs: 5_000,
  acceptPermitsPerSecond: 0,
  maxConcurrentDue: duePumpDefaults.maxDispatching,
  dueGroupWindow: duePumpDefaults.groupWindow,
  dueTopicQueue: duePumpDefaults.topicQueueLimit,
  deliveredMemory: 500_000,
  /**
   * A delivery round or fired entry whose store call failed is tried again this much later: its
   * row still holds a due time the scheduler has passed, so nothing else would ever fire it.
   */
  storeFailureRetryMs: 5_000,
} as const

export function parseHostPort(address: string, what = 'address'): { host: string; port: number } {
  const i = address.lastIndexOf(':')
  const host = i > 0 ? address.slice(0, i) : ''
  const port = Number(address.slice(i + 1))
  if (i <= 0 || host === '' || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new KiteQError(ErrorCodes.CONFIG, `${what} '${address}' is not host:port`)
  }
  return { host, port }
}


export class KiteQServer implements BrokerContext {
  readonly settings: HandlerSettings
  readonly store: MessageStore
  readonly exchanger: Exchanger
  readonly sessions = new SessionRegistry()
  readonly clock: Clock
  readonly logger: Logger
  readonly stats = new BrokerStats()
  readonly #options: KiteQServerOptions
  readonly #topics: Set<string>
  readonly #scheduler: Scheduler
  readonly #deliveryChain: Pipeline<DeliveryContext>
  readonly #targets = new Map<string, DeliveryTarget>()
  /** Messages being delivered (or handled by the scheduler) now, with the work's completion. */
  readonly #inFlight = new InFlight()
  readonly #delivered: RecentDeliveries
  readonly #duePump: DuePump
  #tcp: TcpServer | undefined
  #stopping = false
  #packets: PacketDispatcher | undefined
  /** When this broker (re)started: delayed messages due before it fell due while it was down. */
  #startedAtMs = 0

  constructor(options: KiteQServerOptions) {
    this.#options = options
    parseHostPort(options.bind, 'bind')
    this.#topics = new Set(options.topics)
    this.clock = options.clock ?? systemClock
    this.logger = options.logger ?? silentLogger
    this.store = options.store ?? new MemoryStore()
    this.exchanger = new Exchanger(this.logger)
    this.#delivered = new RecentDeliveries(options.deliveredMemory ?? serverDefaults.deliveredMemory)
    this.#duePump = new DuePump({
      maxDispatching: options.maxConcurrentDue ?? serverDefaults.maxConcurrentDue,
      groupWindow: options.dueGroupWindow ?? serverDefaults.dueGroupWindow,
      topicQueueLimit: options.dueTopicQueue ?? serverDefaults.dueTopicQueue,
      start: (entry, dispatched) => this.#startDue(entry, dispatched),
      drained: () => this.#scheduler.drained(),
      reload: (topic, after, limit) => this.#scheduler.dueOfTopic(topic, after, limit),
    })
    this.settings = {
      deliveryTimeoutMs: options.deliveryTimeoutMs ?? serverDefaults.deliveryTimeoutMs,
      maxDeliverLimit: options.maxDeliverLimit ?? serverDefaults.maxDeliverLimit,
      maxExpirySeconds: options.maxExpirySeconds ?? serverDefaults.maxExpirySeconds,
      retry: options.retry ?? windowedRetryPolicy(),
      txCheck: { ...serverDefaults.txCheck, ...options.txCheck },
      offlineRetryMs: options.offlineRetryMs ?? serverDefaults.offlineRetryMs,
      secrets: options.secrets === undefined ? undefined : new Map(Object.entries(options.secrets)),
      acceptPermitsPerSecond: options.acceptPermitsPerSecond ?? serverDefaults.acceptPermitsPerSecond,
      maxDelayMs: options.maxDelayMs ?? serverDefaults.maxDelayMs,
    }
    for (const t of options.deliveryTargets ?? []) {
      this.#targets.set(t.groupId, t.target)
      for (const [topic, list] of groupBindings(t.bindings, 'topic')) this.exchanger.setBindings('target', topic, t.groupId, list)
    }
    this.#scheduler = new Scheduler({
      ...options.scheduler,
      store: this.store,
      clock: this.clock,
      logger: this.logger,
      onDue: (entries) => this.#duePump.add(entries),
      backlog: () => this.#duePump.backlog,
    })
    const onError = (err: unknown, ctx: DeliveryContext, stage: string) => {
      const m = ctx.message
      this.logger.error({ stage, code: (err as { code?: string }).code, err: (err as Error).message, messageId: m.messageId }, 'delivery failed')
      if (!ctx.fly) this.#retryAfterFailure(m.topic, m.messageId)
    }
    this.#deliveryChain = compilePipeline('deliver', [
      createDeliverPreHandler(this), createDeliverQosHandler(this), createDeliverResultHandler(this),
    ], onError)
  }

  /** The address actually listened on (after start). */
  get address(): { host: string; port: number } {
    if (this.#tcp === undefined) throw new KiteQError(ErrorCodes.SHUTDOWN, 'server is not started')
    return { host: this.#tcp.host, port: this.#tcp.port }
  }

  get topics(): string[] {
    return [...this.#topics]
  }

  /** Scheduler entries waiting in memory (for stats). */
  get scheduledInMemory(): number {
    return this.#scheduler.inMemory
  }

  /** Messages whose delivery rounds (or scheduled work) are under way now: KiteQ's deliver_go, for stats. */
  get deliveriesInFlight(): number {
    return this.#inFlight.size
  }

  /** Fired messages waiting for room in their group's window (for stats). */
  get dueParked(): number {
    return this.#duePump.parked
  }

  /** Fired messages left in the store because their topic's queue was full, since start (for stats). */
  get dueSpilled(): number {
    return this.#duePump.spilled
  }

  /** The scheduled-delivery flow control (group windows), for the delivery stages. */
  get dueFlow(): DuePump {
    return this.#duePump
  }

  /** Frames read and written on the broker port (zeros before start). */
  get traffic(): { framesRead: number; framesWritten: number } {
    return this.#tcp?.traffic ?? { framesRead: 0, framesWritten: 0 }
  }

  get connectionCount(): number {
    return this.#tcp?.connections.size ?? 0
  }

  async start(): Promise<{ host: string; port: number }> {
    this.#startedAtMs = this.clock.now()
    await this.store.start()
    await this.#restoreClientBindings()
    await this.#scheduler.start()
    const { host, port } = parseHostPort(this.#options.bind, 'bind')
    const packets = (this.#packets = createPacketDispatcher(this))
    this.#tcp = await listenTcp({
      ...this.#options.connection,
      logger: this.logger,
      host,
      port,
      onConnection: (conn) => {
        if (this.#stopping) {
          conn.close()
          return
        }
        conn.setFrameHandler(packets.onFrame)
        conn.once('close', (reason) => {
          const session = this.sessions.remove(conn)
          if (session !== undefined) {
            this.logger.info({ conn: conn.label, group: session.groupId, reason: reason?.message }, 'connection closed')
          }
        })
      },
    })
    const registry = this.#options.registry
    if (registry !== undefined) {
      registry.on('change', () => this.#applyRegistry())
      try {
        await registry.start({ address: this.#options.advertisedAddress ?? `${this.#tcp.host}:${this.#tcp.port}`, topics: this.topics })
      } catch (err) {
        // an embedding application must not be left with a half-started broker
        await this.#scheduler.stop()
        this.#tcp.closeAll()
        await this.#tcp.stopAccepting()
        await this.store.stop()
        throw err
      }
      this.#applyRegistry()
    }
    this.logger.info({ bind: `${this.#tcp.host}:${this.#tcp.port}`, topics: this.topics, store: this.store.kind }, 'broker started')
    return this.address
  }

  /**
   * Graceful stop: no new connections, messages (refused, retriable) or scheduled work; publishes,
   * deliveries and a scheduler load under way finish (bounded by the delivery timeout), then
   * connections close and the store stops.
   */
  async stop(): Promise<void> {
    if (this.#stopping) return
    this.#stopping = true
    this.logger.info('broker stopping: draining in-flight work')
    // withdraw from the registry first, so clients stop picking this broker while it drains
    await this.#options.registry?.close().catch((err: Error) => this.logger.warn({ err: err.message }, 'registry close failed'))
    const accepting = this.#tcp?.stopAccepting()
    const schedulerStopped = this.#scheduler.stop()
    this.#duePump.stop()
    // a timer that holds the process until the deadline (a work that never ends must not let it exit
    // half-stopped), cleared as soon as every work has ended
    let deadline: NodeJS.Timeout | undefined
    const drainDeadline = new Promise((resolve) => (deadline = setTimeout(resolve, this.settings.deliveryTimeoutMs + 1000)))
    await Promise.race([Promise.all([this.#inFlight.allEnded(), this.#packets?.settled(), schedulerStopped]), drainDeadline])
    clearTimeout(deadline)
    this.#tcp?.closeAll()
    await accepting
    await this.store.stop()
    this.logger.info('broker stopped')
  }

  // ------------------------------------------------------------------------- BrokerContext

  get stopping(): boolean {
    return this.#stopping
  }

  isServedTopic(topic: string): boolean {
    return this.#topics.has(topic)
  }

  /** Changes the served topics at run time (/reload), re-announcing them to the registry. */
  async setTopics(topics: readonly string[]): Promise<void> {
    this.#topics.clear()
    for (const t of topics) this.#topics.add(t)
    await this.#options.registry?.updateTopics(this.topics)
    this.#applyRegistry()
  }

  targetFor(groupId: string): DeliveryTarget | undefined {
    return this.#targets.size === 0 ? undefined : this.#targets.get(groupId)
  }

  // ------------------------------------------------------------------- operator actions

  cancel(topic: string, messageId: string): Promise<ScheduleOutcome> {
    return cancelMessage(this, topic, messageId)
  }

  reschedule(topic: string, messageId: string, deliverAtMs: number): Promise<ScheduleOutcome> {
    return rescheduleMessage(this, topic, messageId, deliverAtMs)
  }

  redrive(topic: string, messageId: string): Promise<boolean> {
    return redriveMessage(this, topic, messageId)
  }

  lookup(messageId: string): Promise<MessageView | undefined> {
    return lookupMessage(this, messageId)
  }

  listDeadLetters(query?: DeadLetterQuery): Promise<DeadLetter[]> {
    return this.store.listDeadLetters(query)
  }

  deliver(message: StoredMessage, options?: { fly?: boolean }): void {
    const { topic, messageId } = message
    if (this.#inFlight.has(topic, messageId) || this.#stopping) return
    const work = this.#inFlight.begin(topic, messageId)
    this.#runDelivery(message, options?.fly ?? false, this.clock.now(), () => this.#inFlight.end(topic, messageId, work))
  }

  schedule(entry: DueEntry): void {
    if (!this.#stopping) this.#scheduler.schedule(entry)
  }

  markDelivered(topic: string, messageId: string): void {
    this.#delivered.add(topic, messageId)
  }

  wasDelivered(topic: string, messageId: string): boolean {
    return this.#delivered.has(topic, messageId)
  }

  async holdForChange(topic: string, messageId: string): Promise<() => void> {
    // checked again after each wait: other work may have begun before this continuation ran
    for (let under = this.#inFlight.ended(topic, messageId); under !== undefined; under = this.#inFlight.ended(topic, messageId)) await under
    const work = this.#inFlight.begin(topic, messageId)
    return () => this.#inFlight.end(topic, messageId, work)
  }

  // ------------------------------------------------------------------------------- internals

  /**
   * Delivery rounds of one message, the first beginning at `nowMs`, until no immediate retry is
   * asked for; `onEnd` is called once
   * the last round has ended. With `dispatched`, the rounds are the due pump's: their sends take
   * places in the group windows, and `dispatched` is called once the first sends are out.
   * Callbacks, not promises: this runs for every message, and each promise wrapped around a round
   * was one more for each.
   */
  #runDelivery(message: StoredMessage, fly: boolean, nowMs: number, onEnd: () => void, dispatched?: () => void): void {
    const ctx = newDeliveryContext(message, fly, dispatched !== undefined, nowMs)
    this.#deliveryChain.run(ctx, () => {
      // held through the store write too: a window bounds everything the group's deliveries keep in memory
      for (const groupId of ctx.windowPlaces) this.#duePump.release(groupId)
      if (ctx.retryNow && !this.#stopping) this.#runDelivery(ctx.message, ctx.fly, this.clock.now(), onEnd, dispatched)
      else onEnd()
    })
    // the sends are out: the due pump's slot is free while the answers are awaited
    if (dispatched !== undefined && ctx.sends.length > 0) dispatched()
  }

  /** The due pump's start: the work of one fired entry, unless its message is being delivered already. */
  #startDue(entry: DueEntry, dispatched: () => void): boolean {
    if (this.#stopping) return false
    const { topic, messageId } = entry
    if (this.#inFlight.has(topic, messageId)) return false
    const work = this.#inFlight.begin(topic, messageId)
    const done = () => {
      this.#inFlight.end(topic, messageId, work)
      dispatched()
    }
    const failed = (err: Error) => {
      this.logger.error({ err: err.message, code: (err as KiteQError).code, messageId }, 'scheduled work failed')
      done()
      this.#retryAfterFailure(topic, messageId)
    }
    this.store.get(topic, messageId, entry.ref).then((m) => {
      try {
        this.#actOnDue(m, dispatched, done, failed)
      } catch (err) {
        failed(err as Error)
      }
    }, failed)
    return true
  }

  /**
   * A scheduler entry fired and its message was re-read (the entry may be stale): act on it, and
   * call `done` (or `failed`) once that has ended. Callbacks and promise chains, no async function:
   * a burst of fired messages runs through here.
   */
  #actOnDue(message: StoredMessage | undefined, dispatched: () => void, done: () => void, failed: (err: Error) => void): void {
    const now = this.clock.now()
    if (message === undefined || message.nextDeliverAtMs > now) done()
    else if (!message.commit) checkBackTransaction(this, message).then(done, failed)
    else if (this.#fellDueWhileDown(message)) this.#deadLetterOverdue(message).then(done, failed)
    else this.#runDelivery(message, false, now, done, dispatched)
  }

  /** Fires the message again later; on that fire it is re-read, so whatever did reach the store counts. */
  #retryAfterFailure(topic: string, messageId: string): void {
    const retryMs = this.#options.storeFailureRetryMs ?? serverDefaults.storeFailureRetryMs
    this.schedule({ topic, messageId, nextDeliverAtMs: this.clock.now() + retryMs })
  }

  #fellDueWhileDown(m: StoredMessage): boolean {
    return m.deliverAtMs > 0 && m.deliverAtMs < this.#startedAtMs && m.deliverCount === 0 &&
      (this.#options.overdueToDeadLetter?.includes(m.topic) ?? false)
  }

  async #deadLetterOverdue(m: StoredMessage): Promise<void> {
    const reason = `fell due at ${new Date(m.deliverAtMs).toISOString()} while the broker was down (topic policy: dead-letter)`
    if (await this.store.moveToDeadLetter(m.topic, m.messageId, reason, this.clock.now())) {
      this.stats.deadLettered(m.topic)
      this.logger.warn({ topic: m.topic, messageId: m.messageId }, reason)
    }
  }

  #applyRegistry(): void {
    const registry = this.#options.registry
    if (registry === undefined) return
    for (const topic of this.#topics) this.exchanger.replaceTopic(registry.kind, topic, registry.bindingsFor(topic))
  }

  /** Bindings clients declared over BIND before a restart still route to their (offline) groups. */
  async #restoreClientBindings(): Promise<void> {
    for (const stored of await this.store.loadBindings()) {
      try {
        this.exchanger.setBindings(CLIENT_BINDING_SOURCE, stored.topic, stored.groupId, bindingsFromJson(stored.json))
      } catch (err) {
        this.logger.warn({ topic: stored.topic, group: stored.groupId, err: (err as Error).message }, 'stored bindings unreadable; skipped')
      }
    }
  }
}
