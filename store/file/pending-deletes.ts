/**
 * The file store's deletes, held back and placed in the log as one DELETES record: just before
 * the log takes its pending batch to write (SegmentLog's beforeFlush), or before any other record
 * is appended, so the log keeps the order in which changes were made. A deleted message leaves the
 * index at once; the segments holding its records stay held until its tombstone is placed, and the
 * delete resolves when the batch holding that tombstone is written, as a DELETE record's would.
 *
 * Why: a burst of delivered messages wrote a DELETE record each, and each record's buffer, frame
 * and CRC (a native call) cost about as much as its contents; one record per batch shares them.
 */
import { MAX_TOMBSTONES_PER_RECORD, encodeDeletes, type Tombstone } from './record-codec.ts'
import type { SegmentLog } from './segment-log.ts'
import type { StoreState } from './store-state.ts'

interface HeldDelete extends Tombstone {
  /** Where the message's newest STATE record is (0: none), held until the tombstone is placed. */
  stateSegment: number
}

/** Deletes waiting for one DELETES record, and what their callers wait for. */
interface Group {
  held: HeldDelete[]
  /** Settles as the batch the record joins does (true once written), or with the failure that kept it out. */
  done: Promise<true>
  reject: (err: Error) => void
}

export class PendingDeletes {
  readonly #log: SegmentLog
  readonly #state: StoreState
  #group: Group | undefined

  constructor(log: SegmentLog, state: StoreState) {
    this.#log = log
    this.#state = state
  }

  /** Deletes the message in `slot` from the index now; resolves once its tombstone is written. */
  add(slot: number, topic: string, messageId: string): Promise<true> {
    const index = this.#state.index
    const saveAt = { segment: index.saveSegment(slot), offset: index.saveOffset(slot) }
    // before the index changes: a log that is closed or broken throws here and nothing is forgotten
    const group = (this.#group ??= this.#newGroup())
    const { stateSegment } = this.#state.forgetMessage(slot)
    group.held.push({ topic, messageId, saveAt, stateSegment })
    if (group.held.length >= MAX_TOMBSTONES_PER_RECORD) this.place()
    return group.done
  }

  /** Appends the held deletes as one record (nothing when none is held). */
  place(): void {
    const group = this.#group
    if (group === undefined) return
    this.#group = undefined
    let segment: number
    try {
      segment = this.#log.append(encodeDeletes(group.held)).segment
    } catch (err) {
      // the log broke since the group began: these deletes are not in it, and their callers hear so
      group.reject(err as Error)
      return
    }
    for (const h of group.held) this.#state.tombstonePlaced(segment, h.saveAt.segment, h.stateSegment)
  }

  /**
   * A group settles with the batch it was promised, whose flush places it first. That batch can
   * also fail before it is flushed at all (a write before it broke the log): the group, never
   * placed, is dropped then, so that the next delete asks the log again and hears of the failure.
   */
  #newGroup(): Group {
    const batchWritten = this.#log.nextBatchWritten()
    let reject!: Group['reject']
    const done = new Promise<true>((resolve, rej) => {
      reject = rej
      batchWritten.then(() => resolve(true), (err: Error) => {
        if (this.#group === group) this.#group = undefined
        rej(err)
      })
    })
    const group: Group = { held: [], done, reject }
    return group
  }
}
