/**
 * Collects the bridge's deliveries into produce requests: whatever arrives while a request is out
 * (or within the same event-loop turn) goes into the next one, so under load each request carries
 * many records and when idle a lone message leaves at once. One request at a time: an idempotent
 * producer needs its batches in order (see producer-link.ts).
 *
 * Memory is bounded: at most `maxPendingMessages` / `maxPendingBytes` are queued or in flight;
 * the bridge reports itself busy at that point, so the broker keeps the rest in its store and
 * tries them later. Nothing waits on a Kafka that is down: queued deliveries are answered false
 * the moment the link drops, and a delivery that waited `maxQueueWaitMs` for its turn (Kafka slow)
 * is answered false too. Every answer comes from the request that carried the message.
 */
import type { StoredMessage } from '../store/message-store.ts'
import type { TopicBatch } from './producer-link.ts'
import { recordBytes, toKafkaMessage } from './record.ts'

export interface OutboxLimits {
  maxPendingMessages: number
  maxPendingBytes: number
  maxBatchMessages: number
  /** A produce request's records at most; a bigger message goes alone. Below Kafka's message.max.bytes. */
  maxBatchBytes: number
  maxQueueWaitMs: number
  /** The longest waitForRoomMs() answers. */
  maxRoomWaitMs: number
}

export interface OutboxSink {
  readonly up: boolean
  send(batches: TopicBatch[]): Promise<void>
}

interface Entry {
  kafkaTopic: string
  message: StoredMessage
  bytes: number
  enqueuedAtMs: number
  resolve(ok: boolean): void
}

export interface OutboxCounters {
  requests: number
  forwarded: number
  failed: number
}

export class Outbox {
  readonly #sink: OutboxSink
  readonly #limits: OutboxLimits
  readonly #now: () => number
  #queue: Entry[] = []
  #head = 0
  #pendingMessages = 0
  #pendingBytes = 0
  #sending: Promise<void> | undefined
  #pumpScheduled = false
  #closed = false
  /** Records per ms Kafka took in the last requests (smoothed); 1/ms until measured. */
  #drainPerMs = 1
  /** Where the last delivery put off for lack of room was told to come back (epoch ms). */
  #roomTailMs = 0
  readonly counters: OutboxCounters = { requests: 0, forwarded: 0, failed: 0 }

  /** `now`: epoch ms, injectable so that tests decide how long an entry waited, not the machine's load. */
  constructor(sink: OutboxSink, limits: OutboxLimits, now: () => number = Date.now) {
    this.#sink = sink
    this.#limits = limits
    this.#now = now
  }

  get full(): boolean {
    return this.#pendingMessages >= this.#limits.maxPendingMessages || this.#pendingBytes >= this.#limits.maxPendingBytes
  }

  /**
   * 0 while there is room. When full: when to come back, handed out like tickets in a queue. The
   * first delivery turned away returns when the outbox should be half drained, each further one a
   * record's worth of Kafka time (at the measured rate) later, so the outbox refills about as fast
   * as Kafka empties it and never runs dry while a backlog waits. One fixed wait would bring every
   * turned-away message back at the same moment, to be turned away again, and the broker would
   * spend itself rescheduling a backlog far larger than the outbox.
   */
  waitForRoomMs(): number {
    if (!this.full) {
      this.#roomTailMs = 0
      return 0
    }
    const now = this.#now()
    const perRecordMs = 1 / this.#drainPerMs
    this.#roomTailMs = Math.max(this.#roomTailMs, now + (this.#pendingMessages * perRecordMs) / 2) + perRecordMs
    return Math.max(1, Math.min(this.#limits.maxRoomWaitMs, Math.ceil(this.#roomTailMs - now)))
  }

  /** Queued or in flight. */
  get pending(): { messages: number; bytes: number } {
    return { messages: this.#pendingMessages, bytes: this.#pendingBytes }
  }

  /** Resolves true once Kafka acknowledged the record (acks = all), false otherwise. Never rejects. */
  enqueue(kafkaTopic: string, message: StoredMessage): Promise<boolean> {
    if (this.#closed || !this.#sink.up || this.full) {
      this.counters.failed++
      return Promise.resolve(false)
    }
    const bytes = recordBytes(message)
    this.#pendingMessages++
    this.#pendingBytes += bytes
    return new Promise((resolve) => {
      this.#queue.push({ kafkaTopic, message, bytes, enqueuedAtMs: this.#now(), resolve })
      this.#schedulePump()
    })
  }

  /** The sink came (back) up. */
  wake(): void {
    this.#schedulePump()
  }

  /** Answers what is queued false and waits for the request in flight. */
  async close(): Promise<void> {
    this.#closed = true
    this.#failQueued()
    await this.#sending
  }

  #schedulePump(): void {
    if (this.#pumpScheduled) return
    this.#pumpScheduled = true
    // one turn of the event loop: the deliveries the broker starts together travel together
    setImmediate(() => {
      this.#pumpScheduled = false
      this.#pump()
    })
  }

  #pump(): void {
    if (this.#sending !== undefined) return
    if (!this.#sink.up || this.#closed) {
      this.#failQueued()
      return
    }
    const batch = this.#take()
    if (batch.length === 0) return
    const byTopic = new Map<string, TopicBatch>()
    for (const e of batch) {
      let tb = byTopic.get(e.kafkaTopic)
      if (tb === undefined) byTopic.set(e.kafkaTopic, (tb = { topic: e.kafkaTopic, messages: [] }))
      tb.messages.push(toKafkaMessage(e.message))
    }
    this.counters.requests++
    const sentAtMs = this.#now()
    this.#sending = this.#sink.send([...byTopic.values()]).then(
      () => this.#settle(batch, true, sentAtMs),
      () => this.#settle(batch, false, sentAtMs),
    )
  }

  #settle(batch: Entry[], ok: boolean, sentAtMs: number): void {
    if (ok) this.#drainPerMs = 0.7 * this.#drainPerMs + 0.3 * (batch.length / Math.max(1, this.#now() - sentAtMs))
    for (const e of batch) this.#finish(e, ok)
    this.#sending = undefined
    if (this.#head < this.#queue.length) this.#pump()
  }

  #finish(e: Entry, ok: boolean): void {
    this.#pendingMessages--
    this.#pendingBytes -= e.bytes
    if (ok) this.counters.forwarded++
    else this.counters.failed++
    e.resolve(ok)
  }

  /** The next request's entries; entries that waited too long are answered false on the way. */
  #take(): Entry[] {
    const staleBefore = this.#now() - this.#limits.maxQueueWaitMs
    const out: Entry[] = []
    let bytes = 0
    while (this.#head < this.#queue.length && out.length < this.#limits.maxBatchMessages) {
      const e = this.#queue[this.#head]
      if (e.enqueuedAtMs < staleBefore) {
        this.#head++
        this.#finish(e, false)
        continue
      }
      if (out.length > 0 && bytes + e.bytes > this.#limits.maxBatchBytes) break
      this.#head++
      out.push(e)
      bytes += e.bytes
    }
    this.#compact()
    return out
  }

  #failQueued(): void {
    while (this.#head < this.#queue.length) this.#finish(this.#queue[this.#head++], false)
    this.#compact()
  }

  #compact(): void {
    if (this.#head === this.#queue.length) {
      this.#queue = []
      this.#head = 0
    } else if (this.#head > 4096 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head)
      this.#head = 0
    }
  }
}
