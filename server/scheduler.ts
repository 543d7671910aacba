/**
 * The one scheduler for "do this at time T": first deliveries of delayed messages, retries after
 * backoff and transaction check-backs are all a message whose nextDeliverAtMs has come.
 *
 * Two levels, as QMQ and RocketMQ 5 do it. The store keeps every message indexed by time (the far
 * future costs disk, not memory); a loader walks that index in (time, messageId) order and moves
 * what falls due within the next window into an in-memory timing wheel, which fires it to the
 * millisecond. The loader's position is a cursor: an entry scheduled at or before it goes straight
 * into the wheel, anything later is left for the loader to find in the store. It stops loading
 * while `maxInMemory` entries are waiting (a burst does not pull a million bodies' worth of indexes
 * into memory at once) and resumes as they drain.
 */
import { silentLogger, type Logger } from '../protocol/logger.ts'
import { compareDue, type DueEntry, type MessageStore } from '../store/message-store.ts'
import type { Clock, TimerHandle } from './clock.ts'
import { TimingWheel } from './timing-wheel.ts'

export interface SchedulerOptions {
  store: MessageStore
  clock: Clock
  /** Receives entries whose time has come (possibly stale: the receiver re-reads the store). */
  onDue: (entries: DueEntry[]) => void
  /** Entries handed out by onDue and not yet finished, counted against maxInMemory. */
  backlog?: () => number
  /** How far ahead of now entries move from the store into memory. */
  windowMs?: number
  /** How often the loader looks ahead. */
  loadIntervalMs?: number
  pageSize?: number
  maxInMemory?: number
  logger?: Logger
}

export const schedulerDefaults = {
  windowMs: 60_000,
  loadIntervalMs: 1_000,
  /** Small pages, with a turn of the event loop between them: a page read must not delay firing. */
  pageSize: 1_000,
  maxInMemory: 200_000,
} as const

const BEFORE_EVERYTHING: DueEntry = { topic: '', messageId: '', nextDeliverAtMs: -Infinity }

/**
 * How many entries of a full page to take so that the cursor (the last one taken) does not split
 * entries of equal (time, id): stores page strictly after the cursor by (time, id), so another
 * topic's message with the same id and time as the cursor would never be read. The page's last
 * tie group is left for the next page, unless it is the whole page.
 */
function takeWholeTies(page: DueEntry[]): number {
  const last = page[page.length - 1]
  let first = page.length - 1
  while (first > 0 && compareDue(page[first - 1], last) === 0) first--
  return first > 0 ? first : page.length
}

export class Scheduler {
  readonly #store: MessageStore
  readonly #clock: Clock
  readonly #onDue: (entries: DueEntry[]) => void
  readonly #backlog: () => number
  readonly #windowMs: number
  readonly #loadIntervalMs: number
  readonly #pageSize: number
  readonly #maxInMemory: number
  readonly #logger: Logger
  readonly #wheel: TimingWheel<DueEntry>
  /** Every store entry at or before this (time, id) has been loaded. */
  #cursor: DueEntry = BEFORE_EVERYTHING
  /** Entries scheduled while a load was reading the store: re-checked against the cursor after it. */
  #scheduledDuringLoad: DueEntry[] | undefined
  #loading: Promise<void> | undefined
  #loadTimer: TimerHandle | undefined
  #running = false
  /** The last load stopped at maxInMemory: a drain should resume it before the next tick. */
  #blockedByCapacity = false
  /** Entries the wheel could not take yet (its cursor lagged): offered again at the next load. */
  #overflow: DueEntry[] = []
  /** Waits before retrying a failed dueOfTopic read: cancelled (and answered with []) on stop. */
  readonly #retryWaits = new Map<TimerHandle, () => void>()

  constructor(options: SchedulerOptions) {
    this.#store = options.store
    this.#clock = options.clock
    this.#onDue = options.onDue
    this.#backlog = options.backlog ?? (() => 0)
    this.#windowMs = options.windowMs ?? schedulerDefaults.windowMs
    this.#loadIntervalMs = options.loadIntervalMs ?? schedulerDefaults.loadIntervalMs
    this.#pageSize = options.pageSize ?? schedulerDefaults.pageSize
    this.#maxInMemory = options.maxInMemory ?? schedulerDefaults.maxInMemory
    this.#logger = options.logger ?? silentLogger
    this.#wheel = new TimingWheel<DueEntry>({ clock: this.#clock, onDue: (items) => this.#fire(items) })
    if (this.#windowMs >= this.#wheel.windowMs) throw new Error(`scheduler window must be under ${this.#wheel.windowMs} ms`)
  }

  /** Entries waiting in the wheel. */
  get inMemory(): number {
    return this.#wheel.size
  }

  /** Loads what is due within the window (everything overdue first) and starts the loader. */
  async start(): Promise<void> {
    this.#running = true
    await this.loadNow()
    this.#armLoader()
  }

  /** Stops firing and loading; resolves once a load under way has stopped reading the store. */
  async stop(): Promise<void> {
    this.#running = false
    this.#loadTimer?.cancel()
    this.#wheel.stop()
    for (const [timer, wake] of this.#retryWaits) {
      timer.cancel()
      wake()
    }
    this.#retryWaits.clear()
    await this.#loading
  }

  /**
   * `topic`'s entries due by now, strictly after `after`, read from the store: what the due pump
   * let go of when the topic's queue was full. A failed read is logged and tried again a load
   * interval later; [] once stopped.
   */
  async dueOfTopic(topic: string, after: DueEntry, limit: number): Promise<DueEntry[]> {
    while (this.#running) {
      try {
        return await this.#store.dueBetween(after.nextDeliverAtMs, this.#clock.now() + 1, limit, after, topic)
      } catch (err) {
        this.#logger.error({ topic, err: (err as Error).message, code: (err as { code?: string }).code }, 'scheduler could not re-read a topic\'s due messages; retrying')
        await new Promise<void>((resolve) => {
          const timer = this.#clock.setTimer(() => {
            this.#retryWaits.delete(timer)
            resolve()
          }, this.#loadIntervalMs)
          this.#retryWaits.set(timer, resolve)
        })
      }
    }
    return []
  }

  /** Tells the scheduler a message's nextDeliverAtMs (already persisted) is `entry.nextDeliverAtMs`. */
  schedule(entry: DueEntry): void {
    if (!this.#running) return
    if (this.#scheduledDuringLoad !== undefined) this.#scheduledDuringLoad.push(entry)
    else if (compareDue(entry, this.#cursor) <= 0) this.#toWheel(entry)
    // else: the loader will find it in the store when its time is near
  }

  /** Runs one loader pass now (also what the loader's timer does). */
  loadNow(): Promise<void> {
    if (!this.#running) return Promise.resolve()
    this.#loading ??= this.#load().finally(() => (this.#loading = undefined))
    return this.#loading
  }

  async #load(): Promise<void> {
    const horizon = this.#clock.now() + this.#windowMs
    const overflow = this.#overflow
    this.#overflow = []
    for (const entry of overflow) this.#toWheel(entry)
    this.#blockedByCapacity = false
    for (;;) {
      if (!this.#running) return
      if (this.#wheel.size + this.#backlog() >= this.#maxInMemory) {
        this.#blockedByCapacity = true
        return
      }
      this.#scheduledDuringLoad = []
      let page: DueEntry[]
      try {
        const after = this.#cursor === BEFORE_EVERYTHING ? undefined : this.#cursor
        page = await this.#store.dueBetween(this.#cursor.nextDeliverAtMs, horizon, this.#pageSize, after)
        if (!this.#running) return
      } catch (err) {
        this.#logger.error({ err: (err as Error).message, code: (err as { code?: string }).code }, 'scheduler could not read the store; retrying')
        this.#flushScheduledDuringLoad()
        return
      }
      const complete = page.length < this.#pageSize
      const taken = complete ? page.length : takeWholeTies(page)
      for (let i = 0; i < taken; i++) this.#toWheel(page[i])
      // Complete: everything before the horizon is loaded ("\uffff" sorts after every message id).
      this.#cursor = complete ? { topic: '', messageId: '\uffff', nextDeliverAtMs: horizon - 1 } : page[taken - 1]
      this.#flushScheduledDuringLoad()
      if (complete) return
      await new Promise((resolve) => setImmediate(resolve))
    }
  }

  #flushScheduledDuringLoad(): void {
    const held = this.#scheduledDuringLoad ?? []
    this.#scheduledDuringLoad = undefined
    for (const entry of held) this.schedule(entry)
  }

  #toWheel(entry: DueEntry): void {
    if (!this.#wheel.schedule(entry, entry.nextDeliverAtMs)) this.#overflow.push(entry)
  }

  #fire(entries: DueEntry[]): void {
    this.#onDue(entries)
    // a burst that stopped the loader may let it continue before its next tick once half drained
    if (this.#blockedByCapacity && this.#wheel.size + this.#backlog() < this.#maxInMemory / 2) void this.loadNow()
  }

  /** The receiver of onDue calls this as it finishes entries, so a capacity-blocked load resumes. */
  drained(): void {
    if (this.#blockedByCapacity && this.#wheel.size + this.#backlog() < this.#maxInMemory / 2) void this.loadNow()
  }

  #armLoader(): void {
    if (!this.#running) return
    this.#loadTimer = this.#clock.setTimer(() => {
      void this.loadNow().finally(() => this.#armLoader())
    }, this.#loadIntervalMs)
  }
}
