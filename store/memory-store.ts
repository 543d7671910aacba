/**
 * `memory://` — everything in process memory, nothing survives a restart. Bounded: when full it
 * refuses new messages with a StoreError (KITEQ_ERR_STORE_FULL); it never evicts a message, as
 * KiteQ's LRU did.
 *
 * The time index groups entries in one-minute buckets, so the scheduler's window queries touch
 * only the buckets they span, however many messages wait further ahead.
 */
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
  readonly #live = new Map<string, StoredMessage>()
  readonly #dead = new Map<string, DeadLetter>()
  /** Live messages by one-minute bucket of nextDeliverAtMs (entries are the live objects: no copy per save). */
  readonly #buckets = new Map<number, Map<string, StoredMessage>>()
  readonly #byId = new Map<string, string>()
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
    const key = messageKey(message.topic, message.messageId)
    if (this.#live.has(key)) throw new StoreError(`message ${message.messageId} is already stored`)
    if (this.#live.size + this.#dead.size >= this.#maxMessages) {
      throw new StoreError(`memory store full: ${this.#maxMessages} messages`, { full: true })
    }
    if (this.#bytes + message.body.length > this.#maxBytes) {
      throw new StoreError(`memory store full: ${this.#maxBytes} body bytes`, { full: true })
    }
    const stored = copyOf(message)
    this.#live.set(key, stored)
    this.#byId.set(message.messageId, key)
    this.#bytes += stored.body.length
    this.#index(key, stored)
  }

  async get(topic: string, messageId: string): Promise<StoredMessage | undefined> {
    const m = this.#live.get(messageKey(topic, messageId))
    return m === undefined ? undefined : copyOf(m)
  }

  async commit(topic: string, messageId: string): Promise<boolean> {
    const m = this.#live.get(messageKey(topic, messageId))
    if (m === undefined) return false
    m.commit = true
    return true
  }

  async rollback(topic: string, messageId: string): Promise<boolean> {
    const key = messageKey(topic, messageId)
    const m = this.#live.get(key)
    if (m === undefined || m.commit) return false
    this.#remove(key, m)
    return true
  }

  async updateDelivery(topic: string, messageId: string, update: DeliveryUpdate): Promise<void> {
    const key = messageKey(topic, messageId)
    const m = this.#live.get(key)
    if (m === undefined) return
    this.#unindex(key, m)
    m.deliverCount = update.deliverCount
    m.nextDeliverAtMs = update.nextDeliverAtMs
    m.succGroups = [...update.succGroups]
    m.failGroups = [...update.failGroups]
    m.txCheckCount = update.txCheckCount
    this.#index(key, m)
  }

  async reschedule(topic: string, messageId: string, deliverAtMs: number): Promise<boolean> {
    const key = messageKey(topic, messageId)
    const m = this.#live.get(key)
    if (m === undefined) return false
    this.#unindex(key, m)
    m.deliverAtMs = deliverAtMs
    m.nextDeliverAtMs = deliverAtMs
    this.#index(key, m)
    return true
  }

  async delete(topic: string, messageId: string): Promise<boolean> {
    const key = messageKey(topic, messageId)
    const m = this.#live.get(key)
    if (m === undefined) return false
    this.#remove(key, m)
    return true
  }

  async dueBetween(fromMs: number, toMs: number, limit: number, after?: DueEntry): Promise<DueEntry[]> {
    const found: DueEntry[] = []
    const first = Math.max(Math.floor(fromMs / BUCKET_MS), this.#lowestBucket)
    const last = Math.min(Math.floor((toMs - 1) / BUCKET_MS), this.#highestBucket)
    for (let b = first; b <= last; b++) {
      const bucket = this.#buckets.get(b)
      if (bucket === undefined) continue
      for (const e of bucket.values()) {
        if (e.nextDeliverAtMs < fromMs || e.nextDeliverAtMs >= toMs) continue
        if (after !== undefined && compareDue(e, after) <= 0) continue
        found.push({ topic: e.topic, messageId: e.messageId, nextDeliverAtMs: e.nextDeliverAtMs })
      }
      // buckets are in time order: once a full page is certain, later buckets cannot displace it
      if (found.length >= limit && b < last) {
        found.sort(compareDue)
        if (found.length > limit) found.length = limit
        const lastFound = found[found.length - 1].nextDeliverAtMs
        if (lastFound < (b + 1) * BUCKET_MS) return found
      }
    }
    found.sort(compareDue)
    if (found.length > limit) found.length = limit
    return found
  }

  async moveToDeadLetter(topic: string, messageId: string, reason: string, atMs: number): Promise<boolean> {
    const key = messageKey(topic, messageId)
    const m = this.#live.get(key)
    if (m === undefined) return false
    this.#unindex(key, m)
    this.#live.delete(key)
    this.#dead.set(key, { message: m, reason, deadAtMs: atMs })
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
    this.#dead.delete(key)
    const m = redriven(d.message, atMs)
    this.#live.set(key, m)
    this.#index(key, m)
    return true
  }

  async findById(messageId: string): Promise<{ message: StoredMessage; deadLetter?: { reason: string; deadAtMs: number } } | undefined> {
    const key = this.#byId.get(messageId)
    if (key === undefined) return undefined
    const live = this.#live.get(key)
    if (live !== undefined) return { message: copyOf(live) }
    const dead = this.#dead.get(key)
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
    for (const m of this.#live.values()) {
      pendingByTopic[m.topic] = (pendingByTopic[m.topic] ?? 0) + 1
      if (!m.commit) uncommitted++
    }
    return { pendingByTopic, uncommitted, deadLetters: this.#dead.size }
  }

  // ------------------------------------------------------------------------------- time index

  #index(key: string, m: StoredMessage): void {
    const b = Math.floor(m.nextDeliverAtMs / BUCKET_MS)
    let bucket = this.#buckets.get(b)
    if (bucket === undefined) {
      bucket = new Map()
      this.#buckets.set(b, bucket)
      if (b < this.#lowestBucket) this.#lowestBucket = b
      if (b > this.#highestBucket) this.#highestBucket = b
    }
    bucket.set(key, m)
  }

  #unindex(key: string, m: StoredMessage): void {
    const b = Math.floor(m.nextDeliverAtMs / BUCKET_MS)
    const bucket = this.#buckets.get(b)
    if (bucket === undefined) return
    bucket.delete(key)
    if (bucket.size === 0) {
      this.#buckets.delete(b)
      // #lowestBucket stays a lower bound (dueBetween skips missing buckets); reset when empty
      if (this.#buckets.size === 0) {
        this.#lowestBucket = Infinity
        this.#highestBucket = -Infinity
      }
    }
  }

  #remove(key: string, m: StoredMessage): void {
    this.#unindex(key, m)
    this.#live.delete(key)
    this.#byId.delete(m.messageId)
    this.#bytes -= m.body.length
  }
}
