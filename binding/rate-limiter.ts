/**
 * A token bucket: `ratePerSecond` tokens a second, holding at most `burst`. Instead of a yes/no it
 * says how long until a token is free, so a limited delivery can be put off to exactly then rather
 * than counted as a failed attempt.
 */
export class TokenBucket {
  readonly ratePerSecond: number
  readonly burst: number
  #tokens: number
  #lastMs: number
  /** Tokens taken since the last `takeStats` (for the /binds limiter figures). */
  #taken = 0

  constructor(ratePerSecond: number, burst = Math.max(1, Math.floor(ratePerSecond / 2)), nowMs = Date.now()) {
    this.ratePerSecond = ratePerSecond
    this.burst = burst
    this.#tokens = burst
    this.#lastMs = nowMs
  }

  /** Takes a token and returns 0, or returns the milliseconds until one will be available. */
  tryTake(nowMs: number): number {
    const elapsed = nowMs - this.#lastMs
    if (elapsed > 0) {
      this.#tokens = Math.min(this.burst, this.#tokens + (elapsed * this.ratePerSecond) / 1000)
      this.#lastMs = nowMs
    }
    if (this.#tokens >= 1) {
      this.#tokens -= 1
      this.#taken++
      return 0
    }
    return Math.ceil(((1 - this.#tokens) * 1000) / this.ratePerSecond)
  }

  /** Tokens taken since the previous call. */
  takeStats(): number {
    const n = this.#taken
    this.#taken = 0
    return n
  }
}
