/**
 * A hashed timing wheel with one-millisecond slots covering a fixed window ahead of its cursor.
 * Scheduling is O(1); one timer is armed for the earliest occupied slot only (found through an
 * occupancy bitmap), so firing precision is the clock's, not a polling period's.
 */
import type { Clock, TimerHandle } from './clock.ts'

export interface TimingWheelOptions<T> {
  clock: Clock
  /** Number of 1 ms slots, a power of two: the span ahead of now that the wheel can hold. */
  slots?: number
  /** Receives every item whose time has come, in time order. */
  onDue: (items: T[]) => void
}

export class TimingWheel<T> {
  readonly windowMs: number
  readonly #clock: Clock
  readonly #mask: number
  readonly #slots: (T[] | undefined)[]
  readonly #occupied: Uint32Array
  readonly #onDue: (items: T[]) => void
  /** Every slot at a time ≤ cursor has been fired. */
  #cursor: number
  #size = 0
  #timer: TimerHandle | undefined
  #timerAt = Infinity
  #firing = false
  #stopped = false

  constructor(options: TimingWheelOptions<T>) {
    const slots = options.slots ?? 65_536
    if (slots < 32 || (slots & (slots - 1)) !== 0) throw new Error('slots must be a power of two ≥ 32')
    this.#clock = options.clock
    this.#onDue = options.onDue
    this.#mask = slots - 1
    this.windowMs = slots
    this.#slots = new Array(slots)
    this.#occupied = new Uint32Array(slots >>> 5)
    this.#cursor = this.#clock.now()
  }

  get size(): number {
    return this.#size
  }

  /** The latest time (exclusive) the wheel can hold right now. */
  get horizon(): number {
    return this.#cursor + this.windowMs
  }

  /** Adds `item` due at `atMs`; false when that is beyond the horizon (the caller keeps it). */
  schedule(item: T, atMs: number): boolean {
    // an empty wheel's cursor may be stale: catch it up so the whole window is usable
    if (this.#size === 0 && !this.#firing) this.#cursor = Math.max(this.#cursor, this.#clock.now() - 1)
    const at = Math.max(Math.ceil(atMs), this.#cursor + 1)
    if (at >= this.#cursor + this.windowMs) return false
    const slot = at & this.#mask
    const list = this.#slots[slot]
    if (list === undefined) {
      this.#slots[slot] = [item]
      this.#occupied[slot >>> 5] |= 1 << (slot & 31)
    } else {
      list.push(item)
    }
    this.#size++
    if (at < this.#timerAt && !this.#firing) this.#arm(at)
    return true
  }

  /** Fires nothing more; items scheduled afterwards are held but never fired. */
  stop(): void {
    this.#stopped = true
    this.#timer?.cancel()
    this.#timer = undefined
    this.#timerAt = Infinity
  }

  /** Fires everything due up to now (normally called by the wheel's own timer). */
  advance(): void {
    const now = this.#clock.now()
    this.#timer = undefined
    this.#timerAt = Infinity
    this.#firing = true
    const due: T[] = []
    try {
      while (this.#cursor < now && this.#size > 0) {
        const next = this.#nextOccupied(this.#cursor + 1, now)
        if (next === undefined) break
        const slot = next & this.#mask
        const list = this.#slots[slot]!
        this.#slots[slot] = undefined
        this.#occupied[slot >>> 5] &= ~(1 << (slot & 31))
        this.#size -= list.length
        for (const item of list) due.push(item)
        this.#cursor = next
      }
      this.#cursor = Math.max(this.#cursor, now)
    } finally {
      this.#firing = false
    }
    if (this.#size > 0) {
      const next = this.#nextOccupied(this.#cursor + 1, this.#cursor + this.windowMs - 1)
      if (next !== undefined) this.#arm(next)
    }
    if (due.length > 0) this.#onDue(due)
  }

  #arm(at: number): void {
    if (this.#stopped) return
    this.#timer?.cancel()
    this.#timerAt = at
    this.#timer = this.#clock.setTimer(() => this.advance(), at - this.#clock.now())
  }

  /** The first occupied slot time in [from, to], scanning the bitmap a word at a time. */
  #nextOccupied(from: number, to: number): number | undefined {
    let t = from
    while (t <= to) {
      const slot = t & this.#mask
      const bits = this.#occupied[slot >>> 5] >>> (slot & 31)
      if (bits !== 0) {
        const found = t + (31 - Math.clz32(bits & -bits))
        return found <= to ? found : undefined
      }
      t += 32 - (slot & 31)
    }
    return undefined
  }
}
