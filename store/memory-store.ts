/**
 * `memory://` — everything in process memory, nothing survives a restart. Bounded: when full it
 * refuses new messages with a StoreError (KITEQ_ERR_STORE_FULL); it never evicts a message, as
 * KiteQ's LRU did.
 *
 * The time index groups entries in one-minute buckets, so the scheduler's window queries touch
 * only the buckets they span, however many messages wait further ahead.
 *
 * Live messages are found by topic, then id (two lookups of strings the decoder already holds):
 * a "topic + id" key would be a new string to build and hash on every operation of every message.
 * Messages come and go at message rate, so they are held in SlotMaps (protocol/slot-map.ts): a plain
 * Map would keep promoting dead messages to the old generation.
 */
import { SlotMap } from '../protocol/slot-map.ts'
import { DueOrder } from './memory-due-order.ts'
import {
  StoreError, compareDue, messageKey, redriven, type DeadLetter, type DeadLetterQuery, type DeliveryUpdate, type DueEntry, type MessageStore,
  type StatSnapshot, type StoreStats, type StoredBindings, type StoredMessage,
} from './message-store.ts'

export interface MemoryStoreOptions {
  /** Live plus dead-letter messages held at most. */
  maxMessages?: number
  /** Body bytes held at most. */
  maxBytes?: number
}

export const memoryStoreDefaults = { maxMessages: 1_000_000, maxBytes: 1024 * 1024 * 1024 } as const

const BUCKET_MS = 60_000


function copyOf(m: StoredMessage): StoredMessage {
  return { ...m, succGroups: [...m.succGroups], failGroups: [...m.failGroups] }
}

export class MemoryStore implements MessageStore {
  readonly kind = 'memory'
  readonly #maxMessages: number
  readonly #maxBytes: number
  /** Live messages by topic, then id. */
  readonly #live = new Map<string, SlotMap<string, StoredMessage>>()
  #liveCount = 0
  /** Dead letters by messageKey, in the order they died (the order they are listed in). */
  readonly #dead = new Map<string, DeadLetter>()
  /** Topics that have had dead letters: findById probes #dead once per topic instead of walking it. */
  readonly #deadTopics = new Set<string>()
  /** Live messages by one-minute bucket of nextDeliverAtMs, then topic, then id (the live objects: no copy per save). */
  readonly #buckets = new Map<number, Map<string, SlotMap<string, StoredMessage>>>()
  /** Each bucket topic's messages in due order, as of its last query (dropped when one is added). */
  readonly #dueOrders = new WeakMap<SlotMap<string, StoredMessage>, DueOrder>()
  #snapshots: StatSnapshot[] = []
  readonly #bindings = new Map<string, StoredBindings>()
  /** Bounds on the occupied buckets (loose: they only widen until the index empties). */
  #lowestBucket = Infinity
  #highestBucket = -Infinity
  #bytes = 0

  constructor(options: MemoryStoreOptions = {}) {
    this.#maxMessages = options.maxMessages ?? memoryStoreDefaults.maxMessages
    this.#maxBytes = options.maxBytes ?? memoryStoreDefaults.maxBytes
  }

  async start(): Promise<void> {}
  async stop(): Promise<void> {}

  async save(message: StoredMessage): Promise<void> {
    let topic = this.#live.get(message.topic)
    if (topic === undefined) this.#live.set(message.topic, (topic = new SlotMap()))
    if (topic.has(message.messageId)) throw new StoreError(`message ${message.messageId} is already stored`)
    if (this.#liveCount + this.#dead.size >= this.#maxMessages) {
      throw new StoreError(`memory store full: ${this.#maxMessages} messages`, { full: true })
    }
    if (this.#bytes + message.body.length > this.#maxBytes) {
      throw new StoreError(`memory store full: ${this.#maxBytes} body bytes`, { full: true })
    }
    this.#add(topic, copyOf(message))
  }

  async get(topic: string, messageId: string): Promise<StoredMessage | undefined> {
    const m = this.#live.get(topic)?.get(messageId)
    return m === undefined ? undefined : copyOf(m)
  }

  async commit(topic: string, messageId: string): Promise<boolean> {
    const m = this.#live.get(topic)?.get(messageId)
    if (m === undefined || m.commit) return false
    m.commit = true
    return true
  }

  async rollback(topic: string, messageId: string): Promise<boolean> {
    const m = this.#live.get(topic)?.get(messageId)
    if (m === undefined || m.commit) return false
    this.#remove(m)
    return true
  }

  async updateDelivery(topic: string, messageId: string, update: DeliveryUpdate): Promise<void> {
    const m = this.#live.get(topic)?.get(messageId)
    if (m === undefined) return
    this.#unindex(m)
    m.deliverCount = update.deliverCount
    m.nextDeliverAtMs = update.nextDeliverAtMs
    m.succGroups = [...update.succGroups]
    m.failGroups = [...update.failGroups]
    m.txCheckCount = update.txCheckCount
    this.#index(m)
  }

  async reschedule(topic: string, messageId: string, deliverAtMs: number): Promise<boolean> {
    const m = this.#live.get(topic)?.get(messageId)
    if (m === undefined) return false
    this.#unindex(m)
    m.deliverAtMs = deliverAtMs
    m.nextDeliverAtMs = deliverAtMs
    this.#index(m)
    return true
  }

  async delete(topic: string, messageId: string): Promise<boolean> {
    const m = this.#live.get(topic)?.get(messageId)
    if (m === undefined) return false
    this.#remove(m)
    return true
  }

  async dueBetween(fromMs: number, toMs: number, limit: number, after?: DueEntry, onlyTopic?: string): Promise<DueEntry[]> {
    const found: DueEntry[] = []
    const first = Math.max(Math.floor(fromMs / BUCKET_MS), this.#lowestBucket)
    const last = Math.min(Math.floor((toMs - 1) / BUCKET_MS), this.#highestBucket)
    for (let b = first; b <= last; b++) {
      const bucket = this.#buckets.get(b)
      if (bucket === undefined) continue
      for (const [topic, entries] of bucket) {
        if (onlyTopic !== undefined && topic !== onlyTopic) continue
        // each topic's first `limit` in order: together they hold the bucket's first `limit`
        const order = this.#dueOrderOf(entries)
        let taken = 0
        for (let i = order.start(fromMs, after); i < order.length && taken < limit && order.timeAt(i) < toMs; i++) {
          const entry = order.entryAt(i)
          if (entry === undefined) continue
          found.push(entry)
          taken++
        }
      }
      // buckets are in time order: once a full page is found, later buckets cannot displace it
      if (found.length >= limit) break
    }
    found.sort(compareDue)
    if (found.length > limit) found.length = limit
    return found
  }

  #dueOrderOf(entries: SlotMap<string, StoredMessage>): DueOrder {
    let order = this.#dueOrders.get(entries)
    if (order === undefined) this.#dueOrders.set(entries, (order = new DueOrder(entries)))
    return order
  }

  async moveToDeadLetter(topic: string, messageId: string, reason: string, atMs: number): Promise<boolean> {
    const m = this.#live.get(topic)?.get(messageId)
    if (m === undefined) return false
    this.#remove(m)
    const key = messageKey(topic, messageId)
    // a key that died before keeps only its newest dead letter, listed as it dies again
    const older = this.#dead.get(key)
    if (older !== undefined) {
      this.#dead.delete(key)
      this.#bytes -= older.message.body.length
    }
    this.#dead.set(key, { message: m, reason, deadAtMs: atMs })
    this.#deadTopics.add(topic)
    this.#bytes += m.body.length
    return true
  }

  async listDeadLetters(query: DeadLetterQuery = {}): Promise<DeadLetter[]> {
    const limit = query.limit ?? 100
    const out: DeadLetter[] = []
    let skipping = query.afterMessageId !== undefined
    for (const d of this.#dead.values()) {
      if (skipping) {
        if (d.message.messageId === query.afterMessageId) skipping = false
        continue
      }
      if (query.topic !== undefined && d.message.topic !== query.topic) continue
      out.push({ ...d, message: copyOf(d.message) })
      if (out.length >= limit) break
    }
    return out
  }

  async redriveDeadLetter(topic: string, messageId: string, atMs: number): Promise<boolean> {
    const key = messageKey(topic, messageId)
    const d = this.#dead.get(key)
    if (d === undefined) return false
    let live = this.#live.get(topic)
    if (live === undefined) this.#live.set(topic, (live = new SlotMap()))
    if (live.has(messageId)) return false
    this.#dead.delete(key)
    this.#bytes -= d.message.body.length
    this.#add(live, redriven(d.message, atMs))
    return true
  }

  async findById(messageId: string): Promise<{ message: StoredMessage; deadLetter?: { reason: string; deadAtMs: number } } | undefined> {
    // topics are few: a lookup in each beats a second index kept up on every save and delete
    for (const live of this.#live.values()) {
      const m = live.get(messageId)
      if (m !== undefined) return { message: copyOf(m) }
    }
    let dead: DeadLetter | undefined
    for (const topic of this.#deadTopics) {
      const d = this.#dead.get(messageKey(topic, messageId))
      if (d !== undefined && (dead === undefined || d.deadAtMs >= dead.deadAtMs)) dead = d
    }
    return dead === undefined ? undefined : { message: copyOf(dead.message), deadLetter: { reason: dead.reason, deadAtMs: dead.deadAtMs } }
  }

  async saveSnapshot(snapshot: StatSnapshot): Promise<void> {
    this.#snapshots.push(structuredClone(snapshot))
  }

  async listSnapshots(sinceMs: number): Promise<StatSnapshot[]> {
    return this.#snapshots.filter((s) => s.atMs >= sinceMs).map((s) => structuredClone(s))
  }

  async pruneSnapshots(beforeMs: number): Promise<void> {
    this.#snapshots = this.#snapshots.filter((s) => s.atMs >= beforeMs)
  }

  async saveBindings(bindings: StoredBindings): Promise<void> {
    const key = messageKey(bindings.topic, bindings.groupId)
    if (bindings.json.trim() === '[]') this.#bindings.delete(key)
    else this.#bindings.set(key, { ...bindings })
  }

  async loadBindings(): Promise<StoredBindings[]> {
    return [...this.#bindings.values()].map((b) => ({ ...b }))
  }

  async stats(): Promise<StoreStats> {
    const pendingByTopic: Record<string, number> = {}
    let uncommitted = 0
    for (const [topic, live] of this.#live) {
      if (live.size > 0) pendingByTopic[topic] = live.size
      for (const m of live.values()) if (!m.commit) uncommitted++
    }
    return { pendingByTopic, uncommitted, deadLetters: this.#dead.size }
  }

  // ------------------------------------------------------------------------------- time index

  #index(m: StoredMessage): void {
    const b = Math.floor(m.nextDeliverAtMs / BUCKET_MS)
    let bucket = this.#buckets.get(b)
    if (bucket === undefined) {
      bucket = new Map()
      this.#buckets.set(b, bucket)
      if (b < this.#lowestBucket) this.#lowestBucket = b
      if (b > this.#highestBucket) this.#highestBucket = b
    }
    let topic = bucket.get(m.topic)
    if (topic === undefined) bucket.set(m.topic, (topic = new SlotMap()))
    topic.set(m.messageId, m)
    this.#dueOrders.delete(topic)
  }

  #unindex(m: StoredMessage): void {
    const b = Math.floor(m.nextDeliverAtMs / BUCKET_MS)
    const bucket = this.#buckets.get(b)
    const topic = bucket?.get(m.topic)
    if (topic === undefined || !topic.delete(m.messageId)) return
    if (topic.size > 0) return
    bucket!.delete(m.topic)
    if (bucket!.size === 0) {
      this.#buckets.delete(b)
      // #lowestBucket stays a lower bound (dueBetween skips missing buckets); reset when empty
      if (this.#buckets.size === 0) {
        this.#lowestBucket = Infinity
        this.#highestBucket = -Infinity
      }
    }
  }

  #add(live: SlotMap<string, StoredMessage>, m: StoredMessage): void {
    live.set(m.messageId, m)
    this.#liveCount++
    this.#bytes += m.body.length
    this.#index(m)
  }

  #remove(m: StoredMessage): void {
    this.#unindex(m)
    this.#live.get(m.topic)!.delete(m.messageId)
    this.#liveCount--
    this.#bytes -= m.body.length
  }
}
