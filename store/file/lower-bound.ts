/** First index in ascending `keys` whose value is >= key (keys.length when there is none). */
export function lowerBound(keys: readonly number[], key: number): number {
  let lo = 0
  let hi = keys.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (keys[mid] < key) lo = mid + 1
    else hi = mid
  }
  return lo
}
