/**
 * Reading one record from a segment file with synchronous preads: the event loop's read of recent
 * records and the reader thread's (read-worker-thread.ts) are this same read.
 */
import fs from 'node:fs'
import { FRAME_HEADER_BYTES } from './record-codec.ts'

/** What a read says of a record that fails its check, on either thread. */
export const corruptRecord = (path: string, offset: number, reason: string) => `file store: record at ${path}:${offset} is corrupt (${reason})`

/**
 * The record at `offset` (at most `limit` bytes) as a buffer of its own, checked by nobody yet. One
 * read of `scratch`'s size covers any ordinary message; a longer record's length prefix asks for a
 * second read of exactly its size. A copy of just the record: whatever is decoded from it keeps its
 * buffer alive.
 */
export function readRecordSync(fd: number, scratch: Buffer, offset: number, limit: number): Buffer {
  const got = fs.readSync(fd, scratch, 0, Math.min(scratch.length, limit), offset)
  const total = got >= FRAME_HEADER_BYTES ? FRAME_HEADER_BYTES + scratch.readUInt32LE(0) : got
  if (total > got && total <= limit) {
    const whole = Buffer.allocUnsafe(total)
    return whole.subarray(0, fs.readSync(fd, whole, 0, total, offset))
  }
  const length = Math.min(total, got)
  const record = Buffer.allocUnsafe(length)
  scratch.copy(record, 0, 0, length)
  return record
}
