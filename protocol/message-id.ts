/**
 * KiteQ message ids: 32 hex digits (a UUID without its dashes). Indexes keep them as four 32-bit
 * words instead of strings; this is the one parser they share.
 */

/** The value of hex digit `c` (a char code), or -1; 'A'–'F' only when `acceptUppercase`. */
function hexDigit(c: number, acceptUppercase: boolean): number {
  if (c >= 48 && c <= 57) return c - 48
  if (c >= 97 && c <= 102) return c - 87
  if (acceptUppercase && c >= 65 && c <= 70) return c - 55
  return -1
}

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
      const nibble = hexDigit(id.charCodeAt(i), acceptUppercase)
      if (nibble < 0) return false
      word = (word << 4) | nibble
    }
    out[w] = word >>> 0
  }
  return true
}

/** True for 32 hex digits of either case (what a broker accepts as a message id). */
export function isHexId(id: string): boolean {
  if (id.length !== 32) return false
  for (let i = 0; i < 32; i++) if (hexDigit(id.charCodeAt(i), true) < 0) return false
  return true
}
