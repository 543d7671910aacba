/**
 * Work under way per message (a fired entry's read and delivery rounds, or a new message's rounds),
 * found by topic, then id: strings the caller already holds, where a "topic + id" key would be a
 * new string to build and hash for every message. SlotMaps, because entries come and go at message
 * rate (protocol/slot-map.ts says why a plain Map is not).
 *
 * An entry is a Work, not the work's promise: hardly anyone waits for a given message's work to
 * end (a cancel of it, or a stopping broker), so a promise is made only for whoever asks, and the
 * work itself can run on callbacks without one more promise wrapped around its chain.
 */
import { SlotMap } from '../protocol/slot-map.ts'

/** One message's work under way. */
export class Work {
  #ended = false
  #waiters: (() => void)[] | undefined

  /** Resolves once the work has ended (at once if it has). */
  ended(): Promise<void> {
    if (this.#ended) return Promise.resolve()
    return new Promise((resolve) => (this.#waiters ??= []).push(resolve))
  }

  /** Ends the work (again: nothing happens). */
  end(): void {
    if (this.#ended) return
    this.#ended = true
    const waiters = this.#waiters
    this.#waiters = undefined
    if (waiters !== undefined) for (const wake of waiters) wake()
  }
}

export class InFlight {
  /** Topics are few: their maps stay once made. */
  readonly #byTopic = new Map<string, SlotMap<string, Work>>()

  has(topic: string, messageId: string): boolean {
    return this.#byTopic.get(topic)?.has(messageId) ?? false
  }

  /** Resolves once the message's work under way has ended; undefined when none is. */
  ended(topic: string, messageId: string): Promise<void> | undefined {
    return this.#byTopic.get(topic)?.get(messageId)?.ended()
  }

  /** Notes work on the message as under way (none may be): end it with end(). */
  begin(topic: string, messageId: string): Work {
    let works = this.#byTopic.get(topic)
    if (works === undefined) this.#byTopic.set(topic, (works = new SlotMap()))
    const work = new Work()
    works.set(messageId, work)
    return work
  }

  /** Ends `work`, begun for this message; its entry goes (unless another work holds it since). */
  end(topic: string, messageId: string, work: Work): void {
    const works = this.#byTopic.get(topic)
    if (works?.get(messageId) === work) works.delete(messageId)
    work.end()
  }

  /** Messages with work under way now. */
  get size(): number {
    let n = 0
    for (const works of this.#byTopic.values()) n += works.size
    return n
  }

  /** Resolves once every work under way now has ended. */
  allEnded(): Promise<unknown> {
    return Promise.all([...this.#byTopic.values()].flatMap((works) => [...works.values()].map((work) => work.ended())))
  }
}
