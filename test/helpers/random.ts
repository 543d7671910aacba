/** A small seeded PRNG (mulberry32) so every randomized test can be replayed from its seed. */
export class SeededRandom {
  #state: number
  readonly seed: number

  constructor(seed: number) {
    this.seed = seed >>> 0
    this.#state = this.seed
  }

  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0)
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }

  /** Integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1))
  }

  bytes(n: number): Buffer {
    const buf = Buffer.allocUnsafe(n)
    for (let i = 0; i < n; i++) buf[i] = this.int(0, 255)
    return buf
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)]
  }

  string(maxLength: number, alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789-_.é中'): string {
    let s = ''
    const n = this.int(0, maxLength)
    for (let i = 0; i < n; i++) s += alphabet[this.int(0, alphabet.length - 1)]
    return s
  }
}

/** A seed from the environment (to replay a failure) or a fixed default. */
export function testSeed(fallback: number): number {
  const fromEnv = process.env.KITEQ_TEST_SEED
  return fromEnv === undefined ? fallback : Number(fromEnv)
}
