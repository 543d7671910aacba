/**
 * Time, injectable: the broker reads "now" and sets its few timers through a Clock, so tests can
 * move time by minutes or days without waiting.
 */
export interface TimerHandle {
  cancel(): void
}

export interface Clock {
  now(): number
  /** Calls `fn` once, `delayMs` from now. */
  setTimer(fn: () => void, delayMs: number): TimerHandle
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(fn, delayMs) {
    const t = setTimeout(fn, Math.max(0, delayMs))
    return { cancel: () => clearTimeout(t) }
  },
}

interface ManualTimer {
  at: number
  seq: number
  fn: () => void
  cancelled: boolean
}

/** A clock that moves only when told to; timers fire in time order as it passes them. */
export class ManualClock implements Clock {
  #now: number
  #timers: ManualTimer[] = []
  #seq = 0

  constructor(startMs = Date.UTC(2026, 0, 1)) {
    this.#now = startMs
  }

  now(): number {
    return this.#now
  }

  setTimer(fn: () => void, delayMs: number): TimerHandle {
    const timer = { at: this.#now + Math.max(0, delayMs), seq: this.#seq++, fn, cancelled: false }
    this.#timers.push(timer)
    return { cancel: () => (timer.cancelled = true) }
  }

  /** Moves time forward by `ms`, firing every timer due on the way (each at its own time). */
  advance(ms: number): void {
    const target = this.#now + ms
    for (;;) {
      this.#timers = this.#timers.filter((t) => !t.cancelled)
      let next: ManualTimer | undefined
      for (const t of this.#timers) if (t.at <= target && (next === undefined || t.at < next.at || (t.at === next.at && t.seq < next.seq))) next = t
      if (next === undefined) break
      this.#now = Math.max(this.#now, next.at)
      next.cancelled = true
      next.fn()
    }
    this.#now = target
  }

  get pendingTimers(): number {
    return this.#timers.filter((t) => !t.cancelled).length
  }
}
