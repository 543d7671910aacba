/**
 * The store contract: everything the broker keeps per message, behind one async interface. Each
 * backend batches and group-commits internally; a resolved write is durable by that backend's
 * definition (memory: until the process ends). Failures throw a StoreError.
 */
import { ErrorCodes, KiteQError, type KiteQErrorOptions } from '../protocol/errors.ts'
import { decodeHeader, encodeHeader, type Header } from '../protocol/header.ts'

/**
 * When a durable backend forces its writes to the disk: every batch (survives power loss),
 * every few ms, or when the OS decides. All of them survive a process kill.
 */
export type FsyncPolicy = 'batch' | 'interval' | 'never'

export class StoreError extends KiteQError {
  constructor(message: string, options: KiteQErrorOptions & { full?: boolean } = {}) {
    super(options.full ? ErrorCodes.STORE_FULL : ErrorCodes.STORE, message, { retriable: true, ...options })
    this.name = 'StoreError'
  }
}

/** One stored message, as the broker sees it. Times carry their unit in their name. */
export interface StoredMessage {
  messageId: string
  topic: string
  messageType: string
  /** 0x11 bytes or 0x12 string: deliveries use the command the message was published with. */
  cmdType: number
  /**
   * The header as normalised by check-message (clamped expiry and deliverLimit). Read it through
   * headerOf(): a store that returns `headerBytes` may leave this out, since a delivery sends the
   * bytes and never looks inside (decoding every fired message's header was 3.5 % of the broker's
   * time in a burst of them). A message has this, `headerBytes`, or both.
   */
  header?: Header
  /**
   * `header`'s protobuf encoding, when known: the broker encodes it once for a new message, then
   * the store and each delivery copy it. A store may write it instead of encoding `header`, and
   * may return the bytes it holds (a fired message is then delivered without encoding its header
   * again). Whoever gives a message a different header leaves this out.
   */
  headerBytes?: Buffer
  body: Buffer
  publishGroup: string
  commit: boolean
  createdAtMs: number
  /** Unix seconds, as in the header. */
  expiredTime: number
  /** Producer-set delivery time (epoch ms), or 0 for "now". */
  deliverAtMs: number
  deliverCount: number
  deliverLimit: number
  /** When the scheduler should act on this message next (deliver, or check an undecided tx). */
  nextDeliverAtMs: number
  succGroups: string[]
  failGroups: string[]
  /** Server checks (TX_ACK status 0) sent for an uncommitted message. */
  txCheckCount: number
}

/** The encoded header of `m` (encoded now if it is not known; `m` is left as it is). */
export function encodedHeader(m: StoredMessage): Buffer {
  return m.headerBytes ?? encodeHeader(headerOf(m))
}

/** The header of `m`, decoded from its bytes on first use (and kept in `m.header`). */
export function headerOf(m: StoredMessage): Header {
  if (m.header !== undefined) return m.header
  if (m.headerBytes === undefined) throw new StoreError(`message ${m.messageId} has neither a header nor its encoding`)
  return (m.header = decodeHeader(m.headerBytes, 0, m.headerBytes.length, m.messageId))
}

/** The mutable delivery bookkeeping of a message. */
export interface DeliveryUpdate {
  deliverCount: number
  nextDeliverAtMs: number
  succGroups: string[]
  failGroups: string[]
  txCheckCount: number
}

/** A time-index entry: enough to schedule a message without loading its body. */
export interface DueEntry {
  topic: string
  messageId: string
  nextDeliverAtMs: number
  /**
   * Set by the store that listed this entry (dueBetween): where it keeps the message, for get() to
   * check instead of looking the id up again. Only that store understands it.
   */
  ref?: number
}

export interface DeadLetter {
  message: StoredMessage
  reason: string
  deadAtMs: number
}

export interface DeadLetterQuery {
  topic?: string
  limit?: number
  /** Resume after this message id (ids are listed in the order they died). */
  afterMessageId?: string
}

/** A periodic snapshot of the broker's counters, kept for trend charts (the console). */
export interface StatSnapshot {
  atMs: number
  /** Free-form JSON-serialisable figures (totals, per topic, per producer group, pending, ...). */
  data: Record<string, unknown>
}

/** Bindings a client declared over the wire (BIND), kept so they survive a broker restart. */
export interface StoredBindings {
  topic: string
  groupId: string
  /** KiteQ binding JSON. */
  json: string
}

export interface StoreStats {
  /** Pending (live) messages per topic. */
  pendingByTopic: Record<string, number>
  uncommitted: number
  deadLetters: number
}

/**
 * Whether the broker delivers `m` as soon as it arrives: committed and due on arrival. With
 * MessageStore.deliverWhileSaving that may start before its save() has resolved.
 */
export function dueOnArrival(m: StoredMessage): boolean {
  return m.commit && m.nextDeliverAtMs <= m.createdAtMs
}

export interface MessageStore {
  /** A name for logs and metrics, e.g. "memory" or "sqlite". */
  readonly kind: string
  start(): Promise<void>
  stop(): Promise<void>

  /**
   * Persists a new message; resolves only once it is safe by the backend's durability rule. A key
   * already live is refused ("already stored"). A dead letter's key: the file store refuses it too
   * (its index holds one entry per key, live or dead); the others store it live beside the dead letter.
   */
  save(message: StoredMessage): Promise<void>
  /**
   * Asked right after save() of a message due on arrival (dueOnArrival): true when the broker may start
   * delivering it before the save has resolved. The store must have taken what it writes from the
   * message when save() returns (the delivery changes its counters), and queue every later write of
   * the key behind it. Why: a message delivered and deleted before its row went out then costs no
   * write at all. The producer's MessageStoreAck still waits for save(); a save that fails after the
   * message went out leaves a delivered message its producer may send again, a duplicate
   * at-least-once allows. Absent: never.
   */
  deliverWhileSaving?(message: StoredMessage): boolean
  /** `ref`: a DueEntry's, when the message is fetched because its entry fell due (see DueEntry.ref). */
  get(topic: string, messageId: string, ref?: number): Promise<StoredMessage | undefined>
  /**
   * Marks an uncommitted message committed; false when there is no such live uncommitted message,
   * an already committed one included, so of two commits of one message exactly one answers true.
   */
  commit(topic: string, messageId: string): Promise<boolean>
  /** Deletes an uncommitted message; false when there is no such uncommitted message. */
  rollback(topic: string, messageId: string): Promise<boolean>
  updateDelivery(topic: string, messageId: string, update: DeliveryUpdate): Promise<void>
  /** Sets a new delivery time (and producer deliverAt); false when there is no such live message. */
  reschedule(topic: string, messageId: string, deliverAtMs: number): Promise<boolean>
  /** Removes a message every group has received (or that was cancelled). */
  delete(topic: string, messageId: string): Promise<boolean>

  /**
   * Live messages whose nextDeliverAtMs lies in [fromMs, toMs), oldest first, after `after`; only
   * `topic`'s when given (the scheduler re-reads one topic's due messages it let go of).
   */
  dueBetween(fromMs: number, toMs: number, limit: number, after?: DueEntry, topic?: string): Promise<DueEntry[]>

  moveToDeadLetter(topic: string, messageId: string, reason: string, atMs: number): Promise<boolean>
  listDeadLetters(query?: DeadLetterQuery): Promise<DeadLetter[]>
  /**
   * Moves a dead letter back to the live set, due at `atMs` with a fresh delivery budget; false (and
   * the dead letter kept) when there is none or its key is live again.
   */
  redriveDeadLetter(topic: string, messageId: string, atMs: number): Promise<boolean>

  /** Finds a live or dead message by id alone (the console's lookup), topic unknown. */
  findById(messageId: string): Promise<{ message: StoredMessage; deadLetter?: { reason: string; deadAtMs: number } } | undefined>

  stats(): Promise<StoreStats>

  saveSnapshot(snapshot: StatSnapshot): Promise<void>
  /** Snapshots taken at or after `sinceMs`, oldest first. */
  listSnapshots(sinceMs: number): Promise<StatSnapshot[]>
  /** Removes snapshots older than `beforeMs`. */
  pruneSnapshots(beforeMs: number): Promise<void>

  /** Replaces the bindings stored for (topic, groupId); empty JSON array removes them. */
  saveBindings(bindings: StoredBindings): Promise<void>
  loadBindings(): Promise<StoredBindings[]>
}

/** One string for a message's (topic, id), for maps keyed by message (NUL never occurs in either). */
export function messageKey(topic: string, messageId: string): string {
  return `${topic}\u0000${messageId}`
}

/** Orders due entries by time, then by message id (the paging key). */
export function compareDue(a: DueEntry, b: DueEntry): number {
  return a.nextDeliverAtMs - b.nextDeliverAtMs || compareIdText(a.messageId, b.messageId)
}

/** Message ids in the order every store pages by: as strings compare. */
export function compareIdText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/**
 * A dead letter going back into delivery: a fresh delivery and check budget, due at `atMs`, and
 * at least a week to live from then (its old expiry is usually why it died). Every backend applies
 * exactly this.
 */
export function redriven(m: StoredMessage, atMs: number): StoredMessage {
  const expiredTime = Math.max(m.expiredTime, Math.floor(atMs / 1000) + 7 * 86400)
  // the header changes, so its old encoding must not come along
  const { headerBytes: _staleEncoding, ...rest } = m
  return {
    ...rest,
    header: { ...headerOf(m), expiredTime },
    expiredTime,
    deliverCount: 0,
    txCheckCount: 0,
    failGroups: [],
    nextDeliverAtMs: atMs,
  }
}
