import { hashWords, parseHexId } from '../../../store/file/message-index.ts'

/** Pairs of distinct lowercase hex ids with the same 32-bit index hash (a birthday search, ~100 k ids a pair). */
export function collidingIds(pairs: number): [string, string][] {
  const seen = new Map<number, string>()
  const found: [string, string][] = []
  const words = new Uint32Array(4)
  for (let n = 1; found.length < pairs; n++) {
    const id = (n * 2654435761).toString(16).padStart(32, '0')
    parseHexId(id, words)
    const h = hashWords(words[0], words[1], words[2], words[3])
    const other = seen.get(h)
    if (other === undefined) seen.set(h, id)
    else {
      found.push([other, id])
      seen.delete(h)
    }
  }
  return found
}
