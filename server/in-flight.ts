/**
 * Work under way per message (a fired entry's read and delivery rounds, or a new message's rounds),
 * found by topic, then id: strings the caller already holds, where a "topic + id" key would be a
 * new string to build and hash for every message. SlotMaps, because entries come and go at message
 * rate (protocol/slot-map.ts says why a plain Map is not).
 */
import { SlotMap } from '../protocol/slot-map.ts'

export class InFlight {
  /** Topics are few: their maps stay once made. */
  readonly #byTopic = new Map<string, SlotMap<string, Promise<unknown>>>()

  has(topic: string, messageId: string): boolean {
    return this.#byTopic.get(topic)?.has(messageId) ?? false
  }

  get(topic: string, messageId: string): Promise<unknown> | undefined {
    return this.#byTopic.get(topic)?.get(messageId)
  }

  set(topic: string, messageId: string, work: Promise<unknown>): void {
    let works = this.#byTopic.get(topic)
    if (works === undefined) this.#byTopic.set(topic, (works = new SlotMap()))
    works.set(messageId, work)
  }

  delete(topic: string, messageId: string): void {
    this.#byTopic.get(topic)?.delete(messageId)
  }

  /** Messages with work under way now. */
  get size(): number {
    let n = 0
    for (const works of this.#byTopic.values()) n += works.size
    return n
  }

  /** Everything under way now. */
  all(): Promise<unknown>[] {
    return [...this.#byTopic.values()].flatMap((works) => [...works.values()])
  }
}
