/**
 * Start-up: reads every segment in order, verifies each record's CRC and hands the valid ones to
 * `onRecord`. Synchronous on purpose: nothing else can run before the index exists.
 *
 * A record that is cut short or fails its CRC at the end of the last segment is a write torn by a
 * crash: the file is truncated there, with a warning, and appends continue from that point. The
 * same in an earlier segment is corruption, not a crash: it is logged as an error and the rest of
 * that segment is skipped, the file left as it is for inspection.
 */
import fs from 'node:fs'
import { join } from 'node:path'
import type { Logger } from '../../protocol/logger.ts'
import { FRAME_HEADER_BYTES, RecordReader, checkFrame } from './record-codec.ts'
import { segmentFileName } from './segment-log.ts'

export type RecordHandler = (type: number, reader: RecordReader, segment: number, offset: number) => void

export interface RecoveredSegment {
  id: number
  /** Bytes of valid records (appends continue here in the last segment). */
  size: number
}

export interface RecoveryReport {
  segments: RecoveredSegment[]
  records: number
  bytes: number
  truncatedBytes: number
}

/** Segment files are read through a window of this size (a larger record grows it). */
const WINDOW_BYTES = 16 * 1024 * 1024

export function recoverSegments(dir: string, ids: readonly number[], logger: Logger, onRecord: RecordHandler): RecoveryReport {
  const report: RecoveryReport = { segments: [], records: 0, bytes: 0, truncatedBytes: 0 }
  let lastNonEmpty = -1
  const sizes = ids.map((id) => fs.statSync(join(dir, segmentFileName(id))).size)
  for (let i = 0; i < ids.length; i++) if (sizes[i] > 0) lastNonEmpty = i
  let window = Buffer.allocUnsafe(Math.min(WINDOW_BYTES, Math.max(0, ...sizes)))
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]
    const path = join(dir, segmentFileName(id))
    const fd = fs.openSync(path, i === lastNonEmpty ? 'r+' : 'r')
    try {
      const size = sizes[i]
      let windowStart = 0
      let windowEnd = 0
      let pos = 0
      let problem: string | undefined
      while (pos < size) {
        const check = checkFrame(window, pos - windowStart, windowEnd - windowStart)
        if (check.ok) {
          onRecord(check.type, new RecordReader(window, check.payloadStart, check.end), id, pos)
          report.records++
          pos += check.end - (pos - windowStart)
          continue
        }
        if (check.reason === 'incomplete' && windowEnd < size) {
          // slide the window to start at `pos`, growing it if one record is larger
          const held = windowEnd - pos
          if (held >= FRAME_HEADER_BYTES) {
            const need = FRAME_HEADER_BYTES + window.readUInt32LE(pos - windowStart)
            if (need > window.length) {
              const grown = Buffer.allocUnsafe(need)
              window.copy(grown, 0, pos - windowStart, windowEnd - windowStart)
              window = grown
            } else window.copy(window, 0, pos - windowStart, windowEnd - windowStart)
          } else window.copy(window, 0, pos - windowStart, windowEnd - windowStart)
          windowStart = pos
          windowEnd = pos + held
          const got = fs.readSync(fd, window, held, Math.min(window.length - held, size - windowEnd), windowEnd)
          windowEnd += got
          if (got > 0) continue
        }
        problem = check.reason
        break
      }
      if (problem !== undefined) {
        const lost = size - pos
        if (i === lastNonEmpty) {
          logger.warn({ segment: path, offset: pos, bytes: lost, reason: problem },
            `file store: torn record at the end of the log (${problem}); truncating ${lost} bytes, everything before it is kept`)
          fs.ftruncateSync(fd, pos)
          report.truncatedBytes += lost
        } else {
          logger.error({ segment: path, offset: pos, bytes: lost, reason: problem },
            `file store: corrupt record inside the log (${problem}); skipping the last ${lost} bytes of this segment`)
        }
      }
      report.segments.push({ id, size: pos })
      report.bytes += pos
    } finally {
      fs.closeSync(fd)
    }
  }
  return report
}
