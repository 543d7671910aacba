/**
 * Start-up: reads every segment in order, verifies each record's CRC and hands the valid ones to
 * `onRecord`. Synchronous on purpose: nothing else can run before the index exists.
 *
 * After a record that is cut short or fails its check, the rest of its segment is searched for the
 * next frame whose length and CRC hold, and replay carries on there: one flipped bit costs one
 * record, not every record behind it. When nothing valid follows at the end of the last segment,
 * it is a write torn by a crash: the file is truncated there, with a warning, and appends continue
 * from that point. Anything else is corruption, not a crash: logged as an error, the bad bytes
 * skipped, the file left as it is for inspection and reported in `corrupt`, so that the store
 * never deletes it.
 *
 * The search cannot tell a frame that was written as one from a frame that happens to lie inside
 * the damaged record's payload (a message body holding a copy of a segment); it takes the first.
 */
import fs from 'node:fs'
import { join } from 'node:path'
import type { Logger } from '../../protocol/logger.ts'
import { FRAME_HEADER_BYTES, MAX_RECORD_BYTES, RecordReader, RecordType, checkFrame, type FrameCheck } from './record-codec.ts'
import { segmentFileName } from './segment-log.ts'

export type RecordHandler = (type: number, reader: RecordReader, segment: number, offset: number) => void

export interface RecoveredSegment {
  id: number
  /** Where its last valid record ends (appends continue here in the last segment). */
  size: number
}

export interface RecoveryReport {
  segments: RecoveredSegment[]
  records: number
  bytes: number
  truncatedBytes: number
  /** Segments with damaged records other than a torn tail: kept for inspection, never deleted. */
  corrupt: number[]
}

/** Segment files are read through a window of this size (a larger record grows it). */
const WINDOW_BYTES = 16 * 1024 * 1024

const KNOWN_TYPES = new Set<number>(Object.values(RecordType))

const INCOMPLETE: FrameCheck = { ok: false, reason: 'incomplete' }

/** The part of one segment file in memory; positions are the file's. */
class SegmentWindow {
  readonly #fd: number
  readonly size: number
  buf: Buffer
  /** File position of buf[0]. */
  start = 0
  #end = 0

  constructor(fd: number, size: number, buf: Buffer) {
    this.#fd = fd
    this.size = size
    this.buf = buf
  }

  /** The frame at `pos`, checked; its offsets are into `buf`. */
  frameAt(pos: number): FrameCheck {
    if (!this.holds(pos, FRAME_HEADER_BYTES)) return INCOMPLETE
    const length = this.buf.readUInt32LE(pos - this.start)
    // a length past the file is a torn or damaged frame: no need to read that much to know
    if (length >= 1 && length <= MAX_RECORD_BYTES && !this.holds(pos, FRAME_HEADER_BYTES + length)) return INCOMPLETE
    return checkFrame(this.buf, pos - this.start, this.#end - this.start)
  }

  /** Cheap test before a frame's CRC is worth computing: a length that fits the file, a type this version writes. */
  plausibleAt(pos: number): boolean {
    if (!this.holds(pos, FRAME_HEADER_BYTES + 1)) return false
    const length = this.buf.readUInt32LE(pos - this.start)
    return length >= 1 && length <= MAX_RECORD_BYTES && pos + FRAME_HEADER_BYTES + length <= this.size &&
      KNOWN_TYPES.has(this.buf[pos - this.start + FRAME_HEADER_BYTES])
  }

  /** Makes the window hold the file's bytes [pos, pos + bytes); false when the file ends before. */
  holds(pos: number, bytes: number): boolean {
    if (pos + bytes > this.size) return false
    if (pos >= this.start && pos + bytes <= this.#end) return true
    // slide the window to start at `pos`, keeping what it has of it, growing it for a larger record
    const held = pos >= this.start && pos < this.#end ? this.#end - pos : 0
    const buf = bytes > this.buf.length ? Buffer.allocUnsafe(bytes) : this.buf
    if (held > 0) this.buf.copy(buf, 0, pos - this.start, this.#end - this.start)
    this.buf = buf
    this.start = pos
    this.#end = pos + held
    while (this.#end < pos + bytes) {
      const got = fs.readSync(this.#fd, buf, this.#end - pos, Math.min(buf.length, this.size - pos) - (this.#end - pos), this.#end)
      if (got === 0) return false
      this.#end += got
    }
    return true
  }
}

/** Where the first valid frame after the bad one at `pos` starts, if one does. */
function nextValidFrame(window: SegmentWindow, pos: number): number | undefined {
  // damage in a payload leaves its length intact: the next frame is then right behind it
  if (window.holds(pos, FRAME_HEADER_BYTES)) {
    const behind = pos + FRAME_HEADER_BYTES + window.buf.readUInt32LE(pos - window.start)
    if (behind < window.size && window.frameAt(behind).ok) return behind
  }
  for (let p = pos + 1; p + FRAME_HEADER_BYTES < window.size; p++) {
    if (window.plausibleAt(p) && window.frameAt(p).ok) return p
  }
  return undefined
}

interface SegmentOutcome {
  /** Where the last valid record ends. */
  end: number
  records: number
  truncatedBytes: number
  corrupt: boolean
}

function recoverSegment(window: SegmentWindow, fd: number, path: string, id: number, last: boolean, logger: Logger, onRecord: RecordHandler): SegmentOutcome {
  const outcome: SegmentOutcome = { end: 0, records: 0, truncatedBytes: 0, corrupt: false }
  let pos = 0
  while (pos < window.size) {
    const check = window.frameAt(pos)
    if (check.ok) {
      onRecord(check.type, new RecordReader(window.buf, check.payloadStart, check.end), id, pos)
      outcome.records++
      pos = window.start + check.end
      outcome.end = pos
      continue
    }
    const next = nextValidFrame(window, pos)
    if (next === undefined) {
      badTail(fd, path, pos, window.size - pos, check.reason, last, logger, outcome)
      break
    }
    logger.error({ segment: path, offset: pos, bytes: next - pos, reason: check.reason },
      `file store: corrupt record inside the log (${check.reason}); skipped ${next - pos} bytes to the next valid record, the file is kept for inspection`)
    outcome.corrupt = true
    pos = next
  }
  return outcome
}

/** Nothing valid from `pos` to the end of the segment. */
function badTail(fd: number, path: string, pos: number, lost: number, reason: string, last: boolean, logger: Logger, outcome: SegmentOutcome): void {
  if (last) {
    logger.warn({ segment: path, offset: pos, bytes: lost, reason },
      `file store: torn record at the end of the log (${reason}); truncating ${lost} bytes, everything before it is kept`)
    fs.ftruncateSync(fd, pos)
    outcome.truncatedBytes = lost
    return
  }
  logger.error({ segment: path, offset: pos, bytes: lost, reason },
    `file store: corrupt record inside the log (${reason}); skipping the last ${lost} bytes of this segment, the file is kept for inspection`)
  outcome.corrupt = true
}

export function recoverSegments(dir: string, ids: readonly number[], logger: Logger, onRecord: RecordHandler): RecoveryReport {
  const report: RecoveryReport = { segments: [], records: 0, bytes: 0, truncatedBytes: 0, corrupt: [] }
  let lastNonEmpty = -1
  const sizes = ids.map((id) => fs.statSync(join(dir, segmentFileName(id))).size)
  for (let i = 0; i < ids.length; i++) if (sizes[i] > 0) lastNonEmpty = i
  let buf: Buffer = Buffer.allocUnsafe(Math.min(WINDOW_BYTES, Math.max(0, ...sizes)))
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]
    const path = join(dir, segmentFileName(id))
    const last = i === lastNonEmpty
    const fd = fs.openSync(path, last ? 'r+' : 'r')
    try {
      const window = new SegmentWindow(fd, sizes[i], buf)
      const outcome = recoverSegment(window, fd, path, id, last, logger, onRecord)
      buf = window.buf
      report.segments.push({ id, size: outcome.end })
      report.records += outcome.records
      report.bytes += outcome.end
      report.truncatedBytes += outcome.truncatedBytes
      if (outcome.corrupt) report.corrupt.push(id)
    } finally {
      fs.closeSync(fd)
    }
  }
  return report
}
