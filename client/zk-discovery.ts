/**
 * Brokers from ZooKeeper, as kiteq-client-go finds them (registry_zk.go, client side). On every
 * connection the client announces itself in KiteQ's layout, then lists and watches the brokers of
 * each of its topics:
 *
 *   /kiteq/pub/{topic}/{groupId}/{hostname}  persistent  (os.hostname(), not an address: KiteQ's layout)
 *   /kiteq/sub/{topic}/{groupId}-bind        persistent, the group's binding JSON (created or overwritten)
 *   /kiteq/server/{topic}/{host:port}        the brokers, followed with a children watch
 *
 * Bindings reach the brokers through the binding nodes, never over BIND. While ZooKeeper is
 * unreachable the brokers last listed stay in use.
 */
import { hostname } from 'node:os'
import type { Watcher } from 'node-zookeeper-client'
import { bindingsToJson, type Binding } from '../binding/binding.ts'
import { CoalescingReader } from '../binding/zk/coalescing-reader.ts'
import { assertSegment, zkConnectString, zkPaths, zkUriOptions } from '../binding/zk/paths.ts'
import { ZkSession } from '../binding/zk/zk-session.ts'
import type { Logger } from '../protocol/logger.ts'
import type { ClientIdentity, Discovery } from './discovery.ts'

const RETRY_AFTER_MS = 1000

export class ZkDiscovery implements Discovery {
  readonly kind = 'zk'
  readonly connectString: string
  readonly #sessionTimeoutMs: number | undefined
  readonly #logger: Logger
  readonly #hostname = hostname()
  readonly #servers = new Map<string, string[]>()
  /** One watcher per topic: the library registers a given function once per path, so re-reads never pile up watches. */
  readonly #watchers = new Map<string, Watcher>()
  readonly #reader = new CoalescingReader((topic) => this.#readServers(topic), (topic, err) => this.#onReadError(topic, err))
  #session: ZkSession | undefined
  #identity: ClientIdentity = { groupId: '', publishTopics: [], bindings: [] }
  #topics = new Set<string>()
  #onChange: () => void = () => {}
  #retryTimer: NodeJS.Timeout | undefined
  /** Done in the current session: a mere reconnection need not rewrite the nodes (and wake every broker). */
  #announced = false
  #closed = false

  /** `uri`: 'zk://h:p[,h:p][?sessionTimeoutMs=N]'. */
  constructor(uri: string, logger: Logger) {
    this.connectString = zkConnectString(uri)
    this.#sessionTimeoutMs = zkUriOptions(uri).sessionTimeoutMs
    this.#logger = logger.child({ component: 'zk-discovery' })
  }

  /** Connects in the background; brokers appear (and `onChange` runs) once the client is announced. */
  open(onChange: () => void, identity?: ClientIdentity): void {
    if (this.#session !== undefined || this.#closed) return
    if (identity !== undefined) {
      assertSegment(identity.groupId, 'groupId')
      for (const t of identity.publishTopics) assertSegment(t, 'topic')
      for (const b of identity.bindings) assertSegment(b.topic, 'binding topic')
      this.#identity = identity
    }
    this.#topics = new Set([...this.#identity.publishTopics, ...this.#identity.bindings.map((b) => b.topic)])
    this.#onChange = onChange
    const session = new ZkSession({ connectString: this.connectString, sessionTimeoutMs: this.#sessionTimeoutMs, logger: this.#logger })
    session.on('connected', (fresh) => {
      if (fresh) this.#announced = false
      void this.#sync()
    })
    this.#session = session
    session.open()
  }

  brokersFor(topic: string): string[] {
    return this.#servers.get(topic) ?? []
  }

  addressesFor(topics: Iterable<string>): Set<string> {
    const addresses = new Set<string>()
    for (const topic of topics) for (const a of this.brokersFor(topic)) addresses.add(a)
    return addresses
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    clearTimeout(this.#retryTimer)
    await this.#session?.close()
  }

  /** Announces the client, then (re)lists every topic's brokers, as kiteq-client-go's Start(). */
  async #sync(): Promise<void> {
    try {
      if (!this.#announced) await this.#announce()
      this.#announced = true
    } catch (err) {
      if (this.#closed) return
      this.#logger.warn({ zk: this.connectString, err: (err as Error).message }, `announcing this client in ZooKeeper failed; retrying in ${RETRY_AFTER_MS} ms`)
      this.#retryLater()
    }
    await Promise.all([...this.#topics].map((topic) => this.#reader.request(topic)))
  }

  async #announce(): Promise<void> {
    const session = this.#session!
    const { groupId, publishTopics, bindings } = this.#identity
    const byTopic = new Map<string, Binding[]>()
    for (const b of bindings) byTopic.set(b.topic, [...(byTopic.get(b.topic) ?? []), b])
    await Promise.all([
      ...publishTopics.map((topic) => session.ensurePersistent(zkPaths.pub(topic, groupId, this.#hostname))),
      ...[...byTopic].map(([topic, list]) => session.putPersistent(zkPaths.bind(topic, groupId), Buffer.from(bindingsToJson(list)))),
    ])
  }

  #retryLater(): void {
    if (this.#retryTimer !== undefined) return
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined
      if (this.#session?.connected === true && !this.#closed) void this.#sync()
    }, RETRY_AFTER_MS)
    this.#retryTimer.unref()
  }

  #watcherFor(topic: string): Watcher {
    let watcher = this.#watchers.get(topic)
    if (watcher === undefined) {
      watcher = () => {
        if (!this.#closed) void this.#reader.request(topic)
      }
      this.#watchers.set(topic, watcher)
    }
    return watcher
  }

  async #readServers(topic: string): Promise<void> {
    const session = this.#session
    if (session === undefined || this.#closed) return
    const watcher = this.#watcherFor(topic)
    const path = zkPaths.serverTopic(topic)
    // a missing topic node means no broker (yet): watch for its creation
    const hosts = (await session.exists(path, watcher)) === null ? [] : (await session.children(path, watcher)) ?? []
    hosts.sort()
    const previous = this.#servers.get(topic)
    if (this.#closed || (previous !== undefined && previous.join(',') === hosts.join(','))) return
    this.#servers.set(topic, hosts)
    this.#logger.info({ topic, brokers: hosts }, 'brokers of the topic changed in ZooKeeper')
    this.#onChange()
  }

  #onReadError(topic: string, err: unknown): void {
    // not connected: everything is listed again on reconnection, and the known brokers stay meanwhile
    if (this.#closed || this.#session?.connected !== true) return
    this.#logger.warn({ topic, err: (err as Error).message }, `listing brokers in ZooKeeper failed; retrying in ${RETRY_AFTER_MS} ms`)
    setTimeout(() => {
      if (!this.#closed) void this.#reader.request(topic)
    }, RETRY_AFTER_MS).unref()
  }
}
