/**
 * The due pump turns the scheduler's fired entries (delayed messages, retries, transaction
 * check-backs) into delivery work, within limits that keep one slow consumer group from holding
 * back everybody else's scheduled deliveries:
 *
 * - Topics take turns: each topic has its own queue of fired entries, in fire order, and the queues
 *   are served round-robin, so a burst on one topic does not starve another's due messages.
 * - Dispatch slots (`maxDispatching`): a fired message holds one from its store read until its sends
 *   are out (or its work has ended), not until it is answered. This bounds reads and message bodies
 *   in memory, and nothing waits in a slot for a consumer.
 * - Group windows (`groupWindow`): at most this many scheduled deliveries per group are unfinished
 *   (sent, and not yet answered or timed out and written back to the store). A fired message whose
 *   group is full is parked, as its key only (the body is dropped), and its topic waits unread
 *   until that group is down to three quarters of its window; then its parked keys go first and are
 *   read again. A topic whose last delivery filled its group's window waits the same way before
 *   its next message is read at all. A group that stopped answering thus holds back its own topics
 *   at its own pace (a window per delivery timeout), no one else's. A topic bound to several groups
 *   still waits for the slowest: which groups a message goes to is only known once it is read.
 * - Topic queues (`topicQueueLimit`): a topic keeps at most this many fired entries in memory. The
 *   rest are let go of (spilled): they are still in the store, and the topic re-reads them from
 *   there, in time order, as its queue drains. Without this a group that stopped answering would
 *   pile up its topics' fired entries until the scheduler's memory cap stopped loading for every
 *   topic. While a topic has spilled entries it spills every new one too, so they come back in order.
 *
 * Under a burst the window is also what keeps memory short-lived: a fired message is finished
 * within a window's worth of deliveries, so few of them outlive the young generation of the heap.
 */
import { compareDue, type DueEntry } from '../store/message-store.ts'
import type { DueFlow } from '../handler/context.ts'
import { Fifo } from './fifo.ts'

export interface DuePumpOptions {
  maxDispatching: number
  groupWindow: number
  /**
   * Starts the work of one fired entry and returns true, or returns false when it needs none (its
   * message is being delivered already). Work calls `dispatched` once its sends are out or it has
   * ended, whichever comes first; calling it again does nothing.
   */
  start: (entry: DueEntry, dispatched: () => void) => boolean
  /** Entries left the pump: a scheduler load that stopped at its capacity may go on. */
  drained: () => void
  /** Fired entries a topic keeps in memory at most (see "Topic queues" above). */
  topicQueueLimit: number
  /**
   * Reads up to `limit` of `topic`'s entries due by now from the store, in (time, id) order,
   * strictly after `after`; settles only with entries (it retries failed reads itself), or []
   * once the broker stops.
   */
  reload: (topic: string, after: DueEntry, limit: number) => Promise<DueEntry[]>
}

/**
 * Measured on the 500 000-message burst of bench/delay (2 cores): a window of 2 000 deliveries
 * held until answered drained it in 10.3–10.6 s, 512 here in 7.9–9.2 s: fewer messages in flight
 * means fewer of them outlive the young generation. 512 unanswered deliveries still cover a
 * 20 ms round trip at 25 000 msg/s per group.
 */
export const duePumpDefaults = {
  maxDispatching: 128,
  groupWindow: 512,
  /** About 2 MB of entries per topic; re-reading them costs a store page per half of it. */
  topicQueueLimit: 10_000,
} as const

/**
 * The cursor just before `entry`: every entry of its time, whatever its id, is after it. A re-read
 * may so repeat entries of that millisecond still queued; a repeat finds its message in flight or
 * re-reads it from the store (delivered or not due: nothing to do).
 */
const justBefore = (entry: DueEntry): DueEntry => ({ topic: entry.topic, messageId: '', nextDeliverAtMs: entry.nextDeliverAtMs })

/** Notes that `lane`'s entries after `cursor` may be in the store only (the earliest such cursor counts). */
function spilledAfter(lane: TopicLane, cursor: DueEntry): void {
  if (lane.spilledAfter === undefined || compareDue(cursor, lane.spilledAfter) < 0) lane.spilledAfter = cursor
}

/** One topic's fired entries, in fire order. */
interface TopicLane {
  readonly entries: Fifo<DueEntry>
  /** In the round-robin line now. */
  queued: boolean
  /** The group window this topic waits for: one of its messages found it full, or would have. */
  blockedBy: GroupWindow | undefined
  /** The window its last scheduled delivery took a place in: the best guess of where its next one goes. */
  lastWindow: GroupWindow | undefined
  /** Spilled: this topic's entries after this cursor and due by now may be in the store only. */
  spilledAfter: DueEntry | undefined
  /** A re-read of spilled entries is under way. */
  reloading: boolean
}

interface GroupWindow {
  readonly groupId: string
  /**
   * Forgotten while idle: a topic lane may still name it as its `lastWindow`, and must take the
   * group's current window instead (reserving a place in a forgotten one would, on its release,
   * forget the current one with its parked entries and waiting topics).
   */
  retired: boolean
  /** Scheduled deliveries sent whose round has not ended (answer and store write). */
  outstanding: number
  /** Fired entries being read and routed that are expected to take a place here. */
  reserved: number
  /** Entries that found the window full; their topics read nothing new before they are back in. */
  parked: DueEntry[]
  /** Topic lanes waiting for room here. */
  waiting: TopicLane[]
}

/** An entry to read, with the window it is expected to take a place in (if one is known). */
interface NextEntry {
  entry: DueEntry
  window: GroupWindow | undefined
}

export class DuePump implements DueFlow {
  readonly #options: DuePumpOptions
  readonly #lanes = new Map<string, TopicLane>()
  /** Topic lanes with entries to take, in turn. */
  readonly #turns = new Fifo<TopicLane>()
  /** Parked entries whose group has room again: they go before any topic's. */
  readonly #unparked = new Fifo<NextEntry>()
  readonly #groups = new Map<string, GroupWindow>()
  readonly #lowWater: number
  readonly #reloadMark: number
  #queued = 0
  #parked = 0
  #spilled = 0
  #dispatching = 0
  #pumping = false
  #stopped = false

  constructor(options: DuePumpOptions) {
    if (!(options.maxDispatching >= 1 && options.groupWindow >= 1 && options.topicQueueLimit >= 2)) {
      throw new RangeError('due pump limits must be at least 1 (a topic queue at least 2)')
    }
    this.#options = options
    this.#lowWater = Math.floor((options.groupWindow * 3) / 4)
    this.#reloadMark = Math.floor(options.topicQueueLimit / 2)
  }

  /** Entries waiting here or being dispatched (what the scheduler counts against its memory cap). */
  get backlog(): number {
    return this.#queued + this.#parked + this.#unparked.length + this.#dispatching
  }

  /** Entries parked behind a full group window. */
  get parked(): number {
    return this.#parked + this.#unparked.length
  }

  /** Fired entries let go of so far because their topic's queue was full (they are re-read). */
  get spilled(): number {
    return this.#spilled
  }

  add(entries: readonly DueEntry[]): void {
    if (this.#stopped) return
    for (const entry of entries) {
      const lane = this.#lane(entry.topic)
      if (lane.spilledAfter !== undefined || lane.reloading || lane.entries.length >= this.#options.topicQueueLimit) {
        this.#spill(lane, entry)
        continue
      }
      lane.entries.push(entry)
      this.#queued++
      this.#offerTurn(lane)
    }
    this.#pump()
  }

  stop(): void {
    this.#stopped = true
    this.#lanes.clear()
    this.#turns.clear()
    this.#unparked.clear()
    this.#groups.clear()
    this.#queued = 0
    this.#parked = 0
  }

  // ------------------------------------------------------------------------------- DueFlow

  tryTake(topic: string, groupId: string): boolean {
    const window = this.#window(groupId)
    // no check for parked messages here: those let back in are the ones asking
    if (window.outstanding >= this.#options.groupWindow) return false
    window.outstanding++
    const lane = this.#lanes.get(topic)
    if (lane !== undefined) lane.lastWindow = window
    return true
  }

  release(groupId: string): void {
    const window = this.#groups.get(groupId)
    if (window === undefined) return
    window.outstanding--
    this.#afterChange(window)
  }

  park(entry: DueEntry, groupId: string): void {
    if (this.#stopped) return
    const window = this.#window(groupId)
    window.parked.push(entry)
    this.#parked++
    this.#block(this.#lane(entry.topic), window)
    // its answers may have come in while this message was being routed
    this.#reopenIfRoom(window)
  }

  // ------------------------------------------------------------------------------- internals

  #window(groupId: string): GroupWindow {
    let window = this.#groups.get(groupId)
    if (window === undefined) {
      window = { groupId, retired: false, outstanding: 0, reserved: 0, parked: [], waiting: [] }
      this.#groups.set(groupId, window)
    }
    return window
  }

  /** A place was given back: reopen the window if it was closed, forget it if it is idle. */
  #afterChange(window: GroupWindow): void {
    if (window.parked.length > 0 || window.waiting.length > 0) this.#reopenIfRoom(window)
    else if (window.outstanding <= 0 && window.reserved <= 0 && !window.retired) {
      window.retired = true
      this.#groups.delete(window.groupId)
    }
  }

  /** Whether a message expected to go to `window` may be read now. */
  #admits(window: GroupWindow): boolean {
    return window.parked.length === 0 && window.outstanding + window.reserved < this.#options.groupWindow
  }

  #lane(topic: string): TopicLane {
    let lane = this.#lanes.get(topic)
    if (lane === undefined) {
      lane = { entries: new Fifo(), queued: false, blockedBy: undefined, lastWindow: undefined, spilledAfter: undefined, reloading: false }
      this.#lanes.set(topic, lane)
    }
    return lane
  }

  #spill(lane: TopicLane, entry: DueEntry): void {
    this.#spilled++
    spilledAfter(lane, justBefore(entry))
    this.#reloadIfLow(lane)
  }

  /** Re-reads spilled entries once the topic's queue is down to half (so reads are big and few). */
  #reloadIfLow(lane: TopicLane): void {
    if (lane.spilledAfter === undefined || lane.reloading || lane.entries.length > this.#reloadMark || this.#stopped) return
    const after = lane.spilledAfter
    const limit = this.#options.topicQueueLimit - lane.entries.length
    // what spills while this read is under way starts the next one
    lane.spilledAfter = undefined
    lane.reloading = true
    this.#options.reload(after.topic, after, limit).then((entries) => {
      lane.reloading = false
      if (this.#stopped) return
      for (const entry of entries) lane.entries.push(entry)
      this.#queued += entries.length
      // a full page: there may be more after its last entry
      if (entries.length >= limit) spilledAfter(lane, entries[entries.length - 1])
      this.#offerTurn(lane)
      this.#reloadIfLow(lane)
      this.#pump()
    }, () => {
      // reload retries failed reads itself; should it give up anyway, the next entry in or out tries again
      lane.reloading = false
      spilledAfter(lane, after)
    })
  }

  #block(lane: TopicLane, window: GroupWindow): void {
    if (lane.blockedBy !== undefined) return
    lane.blockedBy = window
    window.waiting.push(lane)
  }

  /** Puts a lane in line if it has entries and waits for no group. */
  #offerTurn(lane: TopicLane): void {
    if (lane.queued || lane.blockedBy !== undefined || lane.entries.length === 0) return
    lane.queued = true
    this.#turns.push(lane)
  }

  /**
   * Once the window is down to three quarters, as many parked entries as fit go first, and when
   * none is left its topics take turns again. Letting them in one answer at a time would read a
   * message per answer only to park it.
   */
  #reopenIfRoom(window: GroupWindow): void {
    if (window.outstanding > this.#lowWater) return
    const room = this.#options.groupWindow - window.outstanding - window.reserved
    if (room <= 0) return // the reserved ones end soon, and look again
    const back = window.parked.length <= room ? window.parked : window.parked.splice(0, room)
    if (back === window.parked) window.parked = []
    this.#parked -= back.length
    for (const entry of back) this.#unparked.push({ entry, window })
    if (window.parked.length === 0) {
      const lanes = window.waiting
      window.waiting = []
      for (const lane of lanes) {
        lane.blockedBy = undefined
        this.#offerTurn(lane)
      }
    }
    this.#pump()
  }

  /** The next entry to read, and the window it is expected to take a place in. */
  #next(): NextEntry | undefined {
    const unparked = this.#unparked.shift()
    if (unparked !== undefined) return unparked
    for (;;) {
      const lane = this.#turns.shift()
      if (lane === undefined) return undefined
      lane.queued = false
      if (lane.blockedBy !== undefined) continue
      let window = lane.lastWindow
      if (window?.retired) window = lane.lastWindow = this.#window(window.groupId)
      // its group is full: this message would only be read to be parked
      if (window !== undefined && !this.#admits(window)) {
        this.#block(lane, window)
        continue
      }
      const entry = lane.entries.shift()
      if (entry === undefined) continue
      this.#queued--
      this.#offerTurn(lane)
      this.#reloadIfLow(lane)
      return { entry, window }
    }
  }

  #pump(): void {
    if (this.#pumping) return
    this.#pumping = true
    try {
      while (this.#dispatching < this.#options.maxDispatching && !this.#stopped) {
        const next = this.#next()
        if (next === undefined) break
        const window = next.window
        this.#dispatching++
        if (window !== undefined) window.reserved++
        let holding = true
        const dispatched = () => {
          if (!holding) return
          holding = false
          this.#dispatching--
          if (window !== undefined) {
            window.reserved--
            if (!this.#stopped) this.#afterChange(window)
          }
          this.#options.drained()
          this.#pump()
        }
        if (!this.#options.start(next.entry, dispatched)) dispatched()
      }
    } finally {
      this.#pumping = false
    }
  }
}
