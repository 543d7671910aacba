/**
 * KiteQ message ids: 32 hex digits (a UUID without its dashes). Indexes keep them as four 32-bit
 * words instead of strings; this is the one parser they share.
 */

/**
 * Parses a 32-digit hex id into four words in `out`; false for any other string. Uppercase digits
 * are refused unless `acceptUppercase` (an index that turns words back into the id's text must
 * refuse them, or it would answer with another spelling).
 */
export function hexIdWords(id: string, out: Uint32Array, acceptUppercase: boolean): boolean {
  if (id.length !== 32) return false
  for (let w = 0; w < 4; w++) {
    let word = 0
    for (let i = w * 8; i < w * 8 + 8; i++) {
      const c = id.charCodeAt(i)
      let nibble: number
      if (c >= 48 && c <= 57) nibble = c - 48
      else if (c >= 97 && c <= 102) nibble = c - 87
      else if (acceptUppercase && c >= 65 && c <= 70) nibble = c - 55
      else return false
      word = (word << 4) | nibble
    }
    out[w] = word >>> 0
  }
  return true
}

/** True for 32 hex digits of either case (what a broker accepts as a message id). */
export function isHexId(id: string): boolean {
  if (id.length !== 32) return false
  for (let i = 0; i < 32; i++) {
    const c = id.charCodeAt(i)
    if (c >= 48 && c <= 57) continue
    const lower = c | 0x20 // 'A'–'F' → 'a'–'f'; no other character lands in that range
    if (lower < 97 || lower > 102) return false
  }
  return true
}
