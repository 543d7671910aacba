/**
 * When to try a failed delivery again. KiteQ's rule: up to 3 immediate attempts, then waits that
 * grow with the delivery count (its RedeliveryWindow table). KiteQ's table has a hole at count 3,
 * which made a 4th immediate attempt; here count 3 belongs to the 5 s window.
 */
export interface RetryPolicy {
  /** Attempts made back to back before backoff starts. */
  readonly immediateAttempts: number
  /** Delay before the next attempt, given how many deliveries have been attempted so far. */
  delayMs(deliverCount: number): number
}

export interface BackoffWindow {
  /** Applies while minCount ≤ deliverCount < maxCount (maxCount Infinity = no upper end). */
  minCount: number
  maxCount: number
  delayMs: number
}

export const kiteqBackoffWindows: readonly BackoffWindow[] = [
  { minCount: 0, maxCount: 3, delayMs: 0 },
  { minCount: 3, maxCount: 10, delayMs: 5_000 },
  { minCount: 10, maxCount: 20, delayMs: 10_000 },
  { minCount: 20, maxCount: 30, delayMs: 20_000 },
  { minCount: 30, maxCount: 40, delayMs: 40_000 },
  { minCount: 40, maxCount: 50, delayMs: 80_000 },
  { minCount: 50, maxCount: Infinity, delayMs: 160_000 },
]

export function windowedRetryPolicy(windows: readonly BackoffWindow[] = kiteqBackoffWindows, immediateAttempts = 3): RetryPolicy {
  return {
    immediateAttempts,
    delayMs(deliverCount) {
      for (const w of windows) if (deliverCount >= w.minCount && deliverCount < w.maxCount) return w.delayMs
      return windows[windows.length - 1]?.delayMs ?? 0
    },
  }
}
