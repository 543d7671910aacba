/**
 * The broker's routing table: topic → consumer group → bindings, and one delivery limiter per
 * (topic, group) from the group's watermark. Bindings come from several sources (the registry file
 * or ZooKeeper, and clients' BIND commands); each source replaces its own set for a (topic, group).
 */
import type { Logger } from '../protocol/logger.ts'
import { silentLogger } from '../protocol/logger.ts'
import { bindingMatches, groupBindings, type Binding } from './binding.ts'
import { TokenBucket } from './rate-limiter.ts'

/** One group a message must reach, with the binding that matched it. */
export interface GroupRoute {
  groupId: string
  binding: Binding
  limiter: TokenBucket | undefined
}

interface GroupEntry {
  /** Bindings per source ("registry", "client"), merged on read. */
  bySource: Map<string, Binding[]>
  all: Binding[]
  limiter: TokenBucket | undefined
}

/** Message types whose routes are remembered per topic; past it the topic's memory starts over. */
const MAX_CACHED_TYPES_PER_TOPIC = 1024

export class Exchanger {
  readonly #topics = new Map<string, Map<string, GroupEntry>>()
  /**
   * topic → messageType → its routes, computed once: most messages of a topic share a few types, and
   * matching every binding (regexes included) for each message was a visible share of the broker's
   * time and garbage. Dropped for a topic whenever its bindings change.
   */
  readonly #routeCache = new Map<string, Map<string, readonly GroupRoute[]>>()
  readonly #logger: Logger

  constructor(logger: Logger = silentLogger) {
    this.#logger = logger
  }

  /** Replaces what `source` says about `groupId` on `topic` (an empty list removes it). */
  setBindings(source: string, topic: string, groupId: string, bindings: readonly Binding[]): void {
    this.#routeCache.delete(topic)
    let groups = this.#topics.get(topic)
    if (groups === undefined) {
      if (bindings.length === 0) return
      groups = new Map()
      this.#topics.set(topic, groups)
    }
    let entry = groups.get(groupId)
    if (entry === undefined) {
      if (bindings.length === 0) return
      entry = { bySource: new Map(), all: [], limiter: undefined }
      groups.set(groupId, entry)
    }
    if (bindings.length === 0) entry.bySource.delete(source)
    else entry.bySource.set(source, bindings.map((b) => ({ ...b, groupId, topic })))
    entry.all = [...entry.bySource.values()].flat()
    if (entry.all.length === 0) {
      groups.delete(groupId)
      if (groups.size === 0) this.#topics.delete(topic)
      return
    }
    const watermark = entry.all[0].watermark
    if (watermark <= 0) entry.limiter = undefined
    else if (entry.limiter?.ratePerSecond !== watermark) entry.limiter = new TokenBucket(watermark)
  }

  /** Replaces everything `source` says about `topic` (grouped by groupId). */
  replaceTopic(source: string, topic: string, bindings: readonly Binding[]): void {
    const byGroup = groupBindings(bindings, 'groupId')
    for (const groupId of this.groupsOf(topic)) if (!byGroup.has(groupId)) this.setBindings(source, topic, groupId, [])
    for (const [groupId, list] of byGroup) this.setBindings(source, topic, groupId, list)
  }

  groupsOf(topic: string): string[] {
    return [...(this.#topics.get(topic)?.keys() ?? [])]
  }

  /**
   * Every group with a binding matching (topic, messageType), once per group, minus `exclude`.
   * The array may be shared with other callers: never change it.
   */
  routes(topic: string, messageType: string, exclude?: readonly string[]): readonly GroupRoute[] {
    let byType = this.#routeCache.get(topic)
    let all = byType?.get(messageType)
    if (all === undefined) {
      all = this.#matchRoutes(topic, messageType)
      if (byType === undefined || byType.size >= MAX_CACHED_TYPES_PER_TOPIC) this.#routeCache.set(topic, (byType = new Map()))
      byType.set(messageType, all)
    }
    if (exclude === undefined || exclude.length === 0) return all
    return all.filter((route) => !exclude.includes(route.groupId))
  }

  #matchRoutes(topic: string, messageType: string): GroupRoute[] {
    const groups = this.#topics.get(topic)
    if (groups === undefined) return []
    const out: GroupRoute[] = []
    for (const [groupId, entry] of groups) {
      for (const binding of entry.all) {
        if (bindingMatches(binding, messageType, this.#logger)) {
          out.push({ groupId, binding, limiter: entry.limiter })
          break
        }
      }
    }
    return out
  }

  /** All bindings per topic (for /binds). */
  snapshot(): Record<string, Binding[]> {
    const out: Record<string, Binding[]> = {}
    for (const [topic, groups] of this.#topics) out[topic] = [...groups.values()].flatMap((g) => g.all)
    return out
  }

  /** Per topic and group: [tokens taken since last call, permits per second] (KiteQ's /binds). */
  limiterStats(): Record<string, Record<string, [number, number]>> {
    const out: Record<string, Record<string, [number, number]>> = {}
    for (const [topic, groups] of this.#topics) {
      for (const [groupId, entry] of groups) {
        if (entry.limiter === undefined) continue
        ;(out[topic] ??= {})[groupId] = [entry.limiter.takeStats(), entry.limiter.ratePerSecond]
      }
    }
    return out
  }
}
