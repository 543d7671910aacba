/**
 * What the broker's handler stages share: the services they call (the broker implements
 * BrokerContext) and the per-packet context flowing through a chain.
 */
import type { Exchanger } from '../binding/exchanger.ts'
import type { Frame } from '../protocol/frame.ts'
import type { Header } from '../protocol/header.ts'
import type { Logger } from '../protocol/logger.ts'
import type { Connection } from '../remoting/connection.ts'
import type { Clock } from '../server/clock.ts'
import type { RetryPolicy } from '../server/retry-policy.ts'
import type { Session, SessionRegistry } from '../server/sessions.ts'
import type { BrokerStats } from '../stat/broker-stats.ts'
import type { DueEntry, MessageStore, StoredMessage } from '../store/message-store.ts'

export interface TxCheckPolicy {
  /** First check-back this long after an uncommitted message was stored. */
  firstDelayMs: number
  intervalMs: number
  /** After this many checks the message goes to the dead-letter table. */
  maxChecks: number
}

export interface HandlerSettings {
  deliveryTimeoutMs: number
  maxDeliverLimit: number
  maxExpirySeconds: number
  retry: RetryPolicy
  txCheck: TxCheckPolicy
  /** Retry delay for a persistent group with no live consumer (not counted as an attempt). */
  offlineRetryMs: number
  /** Per-group secrets; undefined = every group is accepted (KiteQ's behaviour). */
  secrets: ReadonlyMap<string, string> | undefined
  /** 0 = no accept limit. */
  acceptPermitsPerSecond: number
  /** How far ahead a producer may schedule (deliverAt) or reschedule a message. */
  maxDelayMs: number
}

/**
 * A consumer group that is not a connection, e.g. the Kafka bridge: bound like any group, it gets
 * every matching message with the same bookkeeping, retries and dead letters.
 */
export interface DeliveryTarget {
  /** Milliseconds to put a delivery off because the target cannot take it now (0: it can). */
  busyForMs(): number
  /** Resolves true once the target holds the message safely. */
  deliver(message: StoredMessage): Promise<boolean>
}

/**
 * Flow control for scheduled deliveries (server/due-pump.ts): a window of unfinished deliveries per
 * group, and where a message waits when its group's window is full.
 */
export interface DueFlow {
  /** Takes a place in `groupId`'s window for one delivery of a `topic` message; false when the window is full. */
  tryTake(topic: string, groupId: string): boolean
  /** Gives a place back: the round holding it has ended (answered or timed out, and written), or it sent nothing after all. */
  release(groupId: string): void
  /** The message is due but its group's window was full: it is read and tried again once there is room. */
  park(entry: DueEntry, groupId: string): void
}

export interface BrokerContext {
  readonly settings: HandlerSettings
  readonly store: MessageStore
  readonly exchanger: Exchanger
  readonly sessions: SessionRegistry
  readonly clock: Clock
  readonly logger: Logger
  readonly stats: BrokerStats
  readonly dueFlow: DueFlow
  /** A graceful stop has begun: no new messages are taken in. */
  readonly stopping: boolean
  isServedTopic(topic: string): boolean
  /** The delivery target standing for `groupId`, if that group is not made of connections. */
  targetFor(groupId: string): DeliveryTarget | undefined
  /** Starts delivering a committed, due message (ignored if it is already being delivered). */
  deliver(message: StoredMessage, options?: { fly?: boolean }): void
  /** Tells the scheduler about a persisted nextDeliverAtMs. */
  schedule(entry: DueEntry): void
  /** Remembers that every group received `messageId` (answers "already delivered" later). */
  markDelivered(topic: string, messageId: string): void
  wasDelivered(topic: string, messageId: string): boolean
  /**
   * Waits until no work on the message is under way, then keeps new work from starting (deliveries,
   * fires) until the returned release is called. Work skipped meanwhile is not made up for: the
   * holder must schedule the message again if it leaves it stored.
   */
  holdForChange(topic: string, messageId: string): Promise<() => void>
}

/** One inbound packet on its way through a chain. */
export interface PacketContext {
  readonly conn: Connection
  readonly frame: Frame
  session: Session | undefined
}

/** A published message on its way through accept → check-message → persistent. */
export interface PublishContext extends PacketContext {
  header: Header
  body: Buffer
  receivedAtMs: number
  /** When the producer wants it delivered (epoch ms), 0 for "now"; set by check-message. */
  deliverAtMs: number
}

/**
 * `list` with `item` added: a one-element array when `list` is empty, `list` itself otherwise.
 * A delivery round's lists start empty and most get one group; the first push into an empty
 * array literal gives it room for 17 (~150 bytes), three of them per delivered message.
 */
export function withItem<T>(list: T[], item: T): T[] {
  if (list.length === 0) return [item]
  list.push(item)
  return list
}

/**
 * The empty list a delivery round's lists start as, shared: withItem replaces it with a new array
 * rather than push into it (frozen, so a push would throw). Six fresh ones were ~100 bytes a round.
 */
const NONE = Object.freeze([]) as never[]

/** A delivery round of `message`, beginning at `nowMs`, with nothing done yet. */
export function newDeliveryContext(message: StoredMessage, fly: boolean, scheduled: boolean, nowMs: number): DeliveryContext {
  return {
    message, fly, scheduled, nowMs, routes: NONE, sends: NONE, succeeded: NONE, failed: NONE, parked: NONE, windowPlaces: NONE,
    deferMs: Infinity, retryNow: false,
  }
}

/** One delivery round of one message; its lists grow through withItem. */
export interface DeliveryContext {
  message: StoredMessage
  /** fly messages: one round, nothing stored, no retries. */
  readonly fly: boolean
  /** Fired by the scheduler (a delayed message, a retry): its sends go through the group windows. */
  readonly scheduled: boolean
  /**
   * When the round began: its stages up to the sends run in one go, so they share one reading of
   * the clock (Date.now() costs ~0.1 µs here, and a burst runs 100 000 rounds a second).
   */
  readonly nowMs: number
  /** Groups still to reach this round (set by deliver-pre). */
  routes: readonly import('../binding/exchanger.ts').GroupRoute[]
  /** Answers awaited, one per group sent to (set by deliver-qos). */
  sends: { groupId: string; answer: Promise<boolean> }[]
  /** Groups reached this round, or dropped as non-persistent and offline. */
  succeeded: string[]
  failed: string[]
  /** Groups whose window was full this round (scheduled rounds only): the message waits for room. */
  parked: string[]
  /** Groups whose window this round holds a place in, given back when the round has ended. */
  windowPlaces: string[]
  /** Shortest wait before a group that could not be tried this round (rate limit, offline) can be. */
  deferMs: number
  /** Set by deliver-result: run another round at once (KiteQ's immediate retries). */
  retryNow: boolean
}
