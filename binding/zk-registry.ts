/**
 * KiteQ's ZooKeeper registry, broker side (kiteq-common registry_zk.go, PublishQServer and
 * GetBindAndWatch), in KiteQ's znode layout (binding/zk/paths.ts):
 *
 *   /kiteq/server/{topic}/{host:port}   ephemeral  this broker serves the topic (clients dial host:port)
 *   /kiteq/alive_servers/{host:port}    ephemeral
 *   /kiteq/all_servers/{host:port}      persistent
 *   /kiteq/pub/{topic}, /kiteq/sub/{topic}  persistent parents
 *   /kiteq/sub/{topic}/{groupId}-bind   read and watched: the group's binding JSON
 *
 * Everything is (re)registered on every connection, so a new session after expiry (or after an
 * outage longer than the session timeout) announces the broker again. While ZooKeeper is away the
 * broker keeps serving with the bindings it last read.
 */
import { EventEmitter } from 'node:events'
import { ErrorCodes, KiteQError } from '../protocol/errors.ts'
import { silentLogger, type Logger } from '../protocol/logger.ts'
import type { Binding } from './binding.ts'
import { BindingFollower } from './zk/binding-follower.ts'
import { assertSegment, zkConnectString, zkPaths, zkUriOptions } from './zk/paths.ts'
import { ZkSession, zkSessionDefaults } from './zk/zk-session.ts'
import type { BindingRegistry, BrokerIdentity } from './registry.ts'

export interface ZkRegistryOptions {
  /** Default 5000 (KiteQ). ZooKeeper clamps it to its min/max session timeout. */
  sessionTimeoutMs?: number
  /** How long start() waits for ZooKeeper and the first registration before failing. Default 10 000. */
  startTimeoutMs?: number
  logger?: Logger
}

const REGISTRATION_RETRY_MS = 1000

export const zkRegistryDefaults = { sessionTimeoutMs: zkSessionDefaults.sessionTimeoutMs, startTimeoutMs: 10_000 } as const

export class ZkRegistry extends EventEmitter<{ change: [] }> implements BindingRegistry {
  readonly kind = 'zk'
  readonly connectString: string
  readonly #options: Required<Omit<ZkRegistryOptions, 'logger'>>
  readonly #logger: Logger
  #session: ZkSession | undefined
  #follower: BindingFollower | undefined
  #address = ''
  /** Topics to announce. */
  #topics = new Set<string>()
  /** Topics whose server node this broker created (so a topic dropped by /reload can be withdrawn). */
  readonly #announced = new Set<string>()
  /** Registrations run one after another; this is the latest. */
  #registration: Promise<void> = Promise.resolve()
  #retryTimer: NodeJS.Timeout | undefined
  #closed = false

  /** `hosts`: 'h:p[,h:p]' (-zkhost) or 'zk://h:p[,h:p][?sessionTimeoutMs=N]' (-registry). */
  constructor(hosts: string, options: ZkRegistryOptions = {}) {
    super()
    this.connectString = zkConnectString(hosts)
    this.#options = {
      sessionTimeoutMs: options.sessionTimeoutMs ?? zkUriOptions(hosts).sessionTimeoutMs ?? zkRegistryDefaults.sessionTimeoutMs,
      startTimeoutMs: options.startTimeoutMs ?? zkRegistryDefaults.startTimeoutMs,
    }
    this.#logger = (options.logger ?? silentLogger).child({ component: 'zk-registry' })
  }

  /** The live session's id and password (diagnostics; tests force an expiry with them). */
  get session(): { id: Buffer; password: Buffer } | undefined {
    return this.#session?.credentials
  }

  /**
   * Connects, announces the broker and reads the bindings of its topics. Fails with REGISTRY when
   * ZooKeeper cannot be reached (or refuses the registration) within startTimeoutMs.
   */
  async start(broker: BrokerIdentity): Promise<void> {
    if (this.#session !== undefined) throw new KiteQError(ErrorCodes.INVALID_ARGUMENT, 'the ZooKeeper registry was already started')
    assertSegment(broker.address, 'broker address')
    for (const topic of broker.topics) assertSegment(topic, 'topic')
    this.#address = broker.address
    this.#topics = new Set(broker.topics)
    const session = new ZkSession({ connectString: this.connectString, sessionTimeoutMs: this.#options.sessionTimeoutMs, logger: this.#logger })
    const follower = new BindingFollower(session, this.#logger)
    follower.on('change', () => this.emit('change'))
    follower.follow(this.#topics)
    this.#session = session
    this.#follower = follower
    let firstRegistration: Promise<void> | undefined
    session.on('connected', (fresh) => {
      const registration = this.#register(fresh)
      firstRegistration ??= registration
      registration.catch(() => this.#retryLater())
    })
    session.open()
    const deadline = Date.now() + this.#options.startTimeoutMs
    try {
      await session.waitConnected(this.#options.startTimeoutMs)
      await withDeadline(firstRegistration!, deadline, `registering ${broker.address} in ZooKeeper ${this.connectString}`)
    } catch (err) {
      await this.close()
      throw err instanceof KiteQError && err.code === ErrorCodes.REGISTRY
        ? err
        : new KiteQError(ErrorCodes.REGISTRY, `ZooKeeper registration failed: ${(err as Error).message}`, { cause: err })
    }
    this.#logger.info({ zk: this.connectString, address: this.#address, topics: [...this.#topics] }, 'registered in ZooKeeper')
  }

  async updateTopics(topics: readonly string[]): Promise<void> {
    for (const topic of topics) assertSegment(topic, 'topic')
    this.#topics = new Set(topics)
    this.#follower?.follow(this.#topics)
    if (this.#session?.connected !== true) return // registered on reconnection
    try {
      await this.#register(false)
    } catch {
      this.#retryLater() // logged by #register
    }
  }

  bindingsFor(topic: string): Binding[] {
    return this.#follower?.bindingsFor(topic) ?? []
  }

  /** Withdraws the broker (its server and alive nodes), then ends the session. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    clearTimeout(this.#retryTimer)
    const session = this.#session
    if (session === undefined) return
    this.#follower?.stop()
    await this.#registration.catch(() => {})
    if (session.connected) {
      const paths = [...[...this.#announced].map((t) => zkPaths.server(t, this.#address)), zkPaths.alive(this.#address)]
      const results = await Promise.allSettled(paths.map((p) => session.remove(p)))
      const failed = results.flatMap((r) => (r.status === 'rejected' ? [(r.reason as Error).message] : []))
      if (failed.length > 0) this.#logger.warn({ failed }, 'could not withdraw every registration; ZooKeeper removes them when the session ends')
    }
    await session.close()
    this.#logger.info({ zk: this.connectString, address: this.#address }, 'withdrawn from ZooKeeper')
  }

  /** A registration failed while connected (a slow or refusing server): try again soon. */
  #retryLater(): void {
    if (this.#retryTimer !== undefined || this.#closed) return
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined
      if (this.#session?.connected === true && !this.#closed) this.#register(false).catch(() => this.#retryLater())
    }, REGISTRATION_RETRY_MS)
    this.#retryTimer.unref()
  }

  /** Queues a full registration after the ones already running. */
  #register(fresh: boolean): Promise<void> {
    const next = this.#registration.catch(() => {}).then(() => this.#registerNow(fresh))
    this.#registration = next
    return next
  }

  async #registerNow(fresh: boolean): Promise<void> {
    const session = this.#session
    const follower = this.#follower
    if (session === undefined || follower === undefined || this.#closed || !session.connected) return
    if (fresh) this.#announced.clear() // the previous session's ephemeral nodes are gone (or going)
    const topics = [...this.#topics]
    const address = this.#address
    try {
      await Promise.all(topics.flatMap((topic) => [session.ensurePersistent(zkPaths.pubTopic(topic)), session.ensurePersistent(zkPaths.subTopic(topic))]))
      // Bindings first (KiteQ announces first): a producer that finds this broker must find it
      // routing, or what it publishes before the bindings arrive reaches no group.
      await follower.resyncAll()
      await Promise.all(topics.map(async (topic) => {
        await session.putEphemeral(zkPaths.server(topic, address))
        this.#announced.add(topic)
      }))
      await session.putEphemeral(zkPaths.alive(address))
      await session.ensurePersistent(zkPaths.all(address))
      const withdrawn = [...this.#announced].filter((t) => !this.#topics.has(t))
      await Promise.all(withdrawn.map(async (topic) => {
        await session.remove(zkPaths.server(topic, address))
        this.#announced.delete(topic)
      }))
    } catch (err) {
      if (!this.#closed) {
        this.#logger.warn({ zk: this.connectString, err: (err as Error).message }, 'ZooKeeper registration incomplete; it is redone on the next connection')
      }
      throw err
    }
  }
}

async function withDeadline<T>(promise: Promise<T>, deadlineMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new KiteQError(ErrorCodes.REGISTRY, `${what}: not done in time`, { retriable: true })), Math.max(0, deadlineMs - Date.now()))
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}
