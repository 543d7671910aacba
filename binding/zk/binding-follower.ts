/**
 * The broker's view of /kiteq/sub/{topic}/{groupId}-bind for the topics it serves, kept current by
 * watches (KiteQ's GetBindAndWatch): the topic node's existence and children, and each binding
 * node's data. Any event re-reads the whole topic, which is what KiteQ does for children and costs
 * one getData per group.
 *
 * While ZooKeeper is unreachable the last bindings read stay in force; a node whose JSON does not
 * parse keeps the group's previous bindings.
 */
import { EventEmitter } from 'node:events'
import type { Watcher } from 'node-zookeeper-client'
import { bindingsFromJson, type Binding } from '../binding.ts'
import type { Logger } from '../../protocol/logger.ts'
import { CoalescingReader } from './coalescing-reader.ts'
import { groupOfBindNode, zkPaths } from './paths.ts'
import type { ZkSession } from './zk-session.ts'

const RETRY_AFTER_MS = 1000

export class BindingFollower extends EventEmitter<{ change: [] }> {
  readonly #session: ZkSession
  readonly #logger: Logger
  readonly #topics = new Set<string>()
  /** topic → groupId → that group's bindings on the topic */
  readonly #bindings = new Map<string, Map<string, Binding[]>>()
  /** One watcher per topic: the library registers a given function once per path, so re-reads never pile up watches. */
  readonly #watchers = new Map<string, Watcher>()
  readonly #reader: CoalescingReader
  #stopped = false

  constructor(session: ZkSession, logger: Logger) {
    super()
    this.#session = session
    this.#logger = logger
    this.#reader = new CoalescingReader((topic) => this.#readTopic(topic), (topic, err) => this.#onReadError(topic, err))
  }

  bindingsFor(topic: string): Binding[] {
    const groups = this.#bindings.get(topic)
    return groups === undefined ? [] : [...groups.values()].flat()
  }

  /** Follows exactly these topics from now on; bindings of dropped topics are forgotten. */
  follow(topics: Iterable<string>): void {
    const next = new Set(topics)
    let dropped = false
    for (const topic of this.#topics) {
      if (next.has(topic)) continue
      this.#topics.delete(topic)
      dropped = this.#bindings.delete(topic) || dropped
    }
    for (const topic of next) this.#topics.add(topic)
    if (dropped) this.emit('change')
  }

  /** Reads (and watches) every followed topic again; resolves when done. */
  async resyncAll(): Promise<void> {
    await Promise.all([...this.#topics].map((topic) => this.#reader.request(topic)))
  }

  stop(): void {
    this.#stopped = true
    this.removeAllListeners()
  }

  #watcherFor(topic: string): Watcher {
    let watcher = this.#watchers.get(topic)
    if (watcher === undefined) {
      watcher = () => {
        if (this.#topics.has(topic) && !this.#stopped) void this.#reader.request(topic)
      }
      this.#watchers.set(topic, watcher)
    }
    return watcher
  }

  async #readTopic(topic: string): Promise<void> {
    if (!this.#topics.has(topic) || this.#stopped) return
    const watcher = this.#watcherFor(topic)
    const subPath = zkPaths.subTopic(topic)
    // exists() arms a creation watch when the node is missing, a deletion watch when it is there
    const children = (await this.#session.exists(subPath, watcher)) === null ? [] : (await this.#session.children(subPath, watcher)) ?? []
    const previous = this.#bindings.get(topic)
    const groups = new Map<string, Binding[]>()
    await Promise.all(children.map(async (child) => {
      const groupId = groupOfBindNode(child)
      if (groupId === undefined) return
      const data = await this.#session.data(`${subPath}/${child}`, watcher)
      if (data === undefined) return // deleted since listed; the children watch brings the next read
      const parsed = this.#parse(topic, groupId, data)
      const bindings = parsed ?? previous?.get(groupId)
      if (bindings !== undefined && bindings.length > 0) groups.set(groupId, bindings)
    }))
    if (!this.#topics.has(topic) || this.#stopped) return
    if (sameBindings(previous, groups)) return
    this.#bindings.set(topic, groups)
    this.#logger.info({ topic, groups: [...groups.keys()] }, 'bindings changed in ZooKeeper')
    this.emit('change')
  }

  /** The group's bindings, with the topic and group taken from the path as KiteQ does; undefined if unreadable. */
  #parse(topic: string, groupId: string, data: Buffer): Binding[] | undefined {
    const text = data.toString('utf8')
    if (text.trim() === '') return []
    try {
      return bindingsFromJson(text).map((b) => ({ ...b, groupId, topic }))
    } catch (err) {
      this.#logger.warn({ path: zkPaths.bind(topic, groupId), err: (err as Error).message }, 'binding JSON in ZooKeeper is unreadable; keeping the group\'s previous bindings')
      return undefined
    }
  }

  #onReadError(topic: string, err: unknown): void {
    // not connected: the registry re-reads everything on reconnection
    if (!this.#session.connected || this.#stopped) return
    this.#logger.warn({ topic, err: (err as Error).message }, `reading bindings from ZooKeeper failed; retrying in ${RETRY_AFTER_MS} ms`)
    setTimeout(() => {
      if (this.#topics.has(topic) && !this.#stopped) void this.#reader.request(topic)
    }, RETRY_AFTER_MS).unref()
  }
}

function sameBindings(a: Map<string, Binding[]> | undefined, b: Map<string, Binding[]>): boolean {
  if (a === undefined) return b.size === 0
  if (a.size !== b.size) return false
  for (const [group, list] of b) {
    const other = a.get(group)
    if (other === undefined || JSON.stringify(other) !== JSON.stringify(list)) return false
  }
  return true
}
