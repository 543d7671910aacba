/**
 * Keyed operations that may wait before they are written (deletes of delivered messages), held while
 * their write batcher is busy, for at most a few milliseconds, so that those of one table share one
 * statement.
 *
 * Why: a broker with c producers has at most c saves in flight, spread over 16 tables, so each batch
 * carries only a few rows per table, and the server pays a whole statement for each (parsing, opening
 * the table, an OK packet). Nothing waits for a delivered message's delete, so deletes can gather over
 * many batches instead: measured end to end (c=100, 512 B), holding them 25 ms cut MariaDB's CPU per
 * message by about a fifth. Whoever does wait for a delete (a cancel, a benchmark) is not held up
 * by an idle batcher: it holds nothing, and releases what it holds once it has nothing else to write.
 *
 * A held operation's promise settles only after the batch it is released into commits: the result is
 * as exact as any other, just later. Releasing keeps every key's order: the write batcher releases
 * everything held before it queues any other operation of a held key.
 */
import type { KeyedStatement, QueuedKeyed } from './batch.ts'

export interface HeldOperation {
  statement: KeyedStatement
  key: string
  operation: QueuedKeyed
}

export class HeldOperations {
  readonly #delayMs: number
  readonly #maxHeld: number
  readonly #release: () => void
  #held: HeldOperation[] = []
  readonly #keys = new Set<string>()
  #timer: ReturnType<typeof setTimeout> | undefined

  /** `release` is called (and must take everything) once the oldest has waited `delayMs`, or `maxHeld` are held. */
  constructor(delayMs: number, maxHeld: number, release: () => void) {
    this.#delayMs = delayMs
    this.#maxHeld = maxHeld
    this.#release = release
  }

  get size(): number {
    return this.#held.length
  }

  holds(key: string): boolean {
    return this.#keys.has(key)
  }

  hold(statement: KeyedStatement, key: string, operation: QueuedKeyed): void {
    this.#held.push({ statement, key, operation })
    this.#keys.add(key)
    if (this.#held.length >= this.#maxHeld) return this.#release()
    this.#timer ??= setTimeout(this.#release, this.#delayMs)
  }

  /** Every held operation, oldest first; nothing is held afterwards. */
  takeAll(): HeldOperation[] {
    const held = this.#held
    this.#held = []
    this.#keys.clear()
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
    return held
  }
}
