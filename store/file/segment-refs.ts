/**
 * Decides when a segment file may be deleted. A segment is needed while
 * - it holds a record something still depends on: the SAVE of a stored message, a message's
 *   newest STATE, an unpruned snapshot, the newest bindings of a (topic, group); each counts as
 *   one reference; or
 * - it holds a tombstone (DELETE, a bindings removal, a snapshot prune) for a record that still
 *   exists in an OLDER segment: deleting the tombstone first would bring that record back at the
 *   next start-up. Such a segment depends on the older one until the older one is gone.
 * The active segment (the one being appended to) is never deleted.
 */
interface SegmentEntry {
  refs: number
  /** Older segments this one's tombstones refer to. */
  dependsOn: Set<number>
  /** Newer segments whose tombstones refer to this one. */
  dependents: Set<number>
}

export class SegmentRefs {
  readonly #segments = new Map<number, SegmentEntry>()
  readonly #onReclaimable: (segment: number) => void
  #active = 0
  /** While start-up replays the log, counts are incomplete: nothing is reclaimed. */
  #loading = false

  /**
   * `onReclaimable` is called once per segment, when nothing needs it any more, and never before
   * the older segments its tombstones depend on: the caller must delete the files in that order
   * (one at a time), since a crash between two deletions must not leave a tombstone's target behind.
   */
  constructor(onReclaimable: (segment: number) => void) {
    this.#onReclaimable = onReclaimable
  }

  has(segment: number): boolean {
    return this.#segments.has(segment)
  }

  add(segment: number): void {
    if (!this.#segments.has(segment)) this.#segments.set(segment, { refs: 0, dependsOn: new Set(), dependents: new Set() })
  }

  /** The new active segment; the previous one may now be reclaimable. */
  setActive(segment: number): void {
    this.add(segment)
    const previous = this.#active
    this.#active = segment
    if (previous !== segment) this.check(previous)
  }

  hold(segment: number): void {
    const e = this.#segments.get(segment)
    if (e === undefined) throw new Error(`segment ${segment} is not known`)
    e.refs++
  }

  release(segment: number): void {
    const e = this.#segments.get(segment)
    if (e === undefined) throw new Error(`segment ${segment} is not known`)
    e.refs--
    if (e.refs === 0) this.check(segment)
  }

  /**
   * `segment` is never reclaimed: start-up found damaged records in it, which may be ones that
   * tombstones elsewhere cancel, so it is kept for inspection, and so is whatever depends on it.
   */
  keep(segment: number): void {
    this.add(segment)
    this.hold(segment)
  }

  /** A tombstone in `tombstoneSegment` cancels a record in `targetSegment`. */
  dependOn(tombstoneSegment: number, targetSegment: number): void {
    if (targetSegment === tombstoneSegment) return
    const target = this.#segments.get(targetSegment)
    const holder = this.#segments.get(tombstoneSegment)
    if (target === undefined || holder === undefined) return
    holder.dependsOn.add(targetSegment)
    target.dependents.add(tombstoneSegment)
  }

  beginLoading(): void {
    this.#loading = true
  }

  /** Start-up has counted every reference: reclaims whatever nothing needs. */
  endLoading(): void {
    this.#loading = false
    for (const s of [...this.#segments.keys()]) this.check(s)
  }

  /** Reclaims `segment` if nothing needs it, then whatever depended only on it. */
  check(segment: number): void {
    if (this.#loading) return
    const work = [segment]
    while (work.length > 0) {
      const s = work.pop()!
      const e = this.#segments.get(s)
      if (e === undefined || s === this.#active || e.refs > 0 || e.dependsOn.size > 0) continue
      this.#segments.delete(s)
      for (const d of e.dependents) {
        const dependent = this.#segments.get(d)
        if (dependent === undefined) continue
        dependent.dependsOn.delete(s)
        work.push(d)
      }
      this.#onReclaimable(s)
    }
  }
}
