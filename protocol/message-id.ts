/**
 * KiteQ message ids: 32 hex digits (a UUID without its dashes). Indexes keep them as four 32-bit
 * words instead of strings; this is the one parser they share.
 */

/** Hex digit values by char code, -1 for anything else: lowercase only, and either case. */
const LOWERCASE_DIGITS = new Int8Array(128).fill(-1)
for (let c = 48; c <= 57; c++) LOWERCASE_DIGITS[c] = c - 48
for (let c = 97; c <= 102; c++) LOWERCASE_DIGITS[c] = c - 87
const ANY_CASE_DIGITS = LOWERCASE_DIGITS.slice()
for (let c = 65; c <= 70; c++) ANY_CASE_DIGITS[c] = c - 55

function hexDigit(c: number, acceptUppercase: boolean): number {
  return c < 128 ? (acceptUppercase ? ANY_CASE_DIGITS : LOWERCASE_DIGITS)[c] : -1
}

/**
 * Parses a 32-digit hex id into four words in `out`; false for any other string. Uppercase digits
 * are refused unless `acceptUppercase` (an index that turns words back into the id's text must
 * refuse them, or it would answer with another spelling). Without a branch per digit: ~70 ns an
 * id where testing each digit's range took ~170 (it runs several times per delivered message).
 */
export function hexIdWords(id: string, out: Uint32Array, acceptUppercase: boolean): boolean {
  if (id.length !== 32) return false
  const digits = acceptUppercase ? ANY_CASE_DIGITS : LOWERCASE_DIGITS
  // any invalid digit, or a char code past 127 (which `& 127` would fold onto a valid one), makes `bad` negative
  let bad = 0
  for (let w = 0; w < 4; w++) {
    let word = 0
    for (let i = w * 8, end = i + 8; i < end; i++) {
      const c = id.charCodeAt(i)
      const value = digits[c & 127]
      bad |= value | (127 - c)
      word = (word << 4) | value
    }
    out[w] = word >>> 0
  }
  return bad >= 0
}

/** True for 32 hex digits of either case (what a broker accepts as a message id). */
export function isHexId(id: string): boolean {
  if (id.length !== 32) return false
  for (let i = 0; i < 32; i++) if (hexDigit(id.charCodeAt(i), true) < 0) return false
  return true
}
