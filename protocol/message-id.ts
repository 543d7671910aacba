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
