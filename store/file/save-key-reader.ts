/**
 * Start-up's way to learn which message a SAVE record holds, given its location: for STATE and
 * DELETE records written before they named their SAVE's location, when the index only has a hash
 * of a cold message's id. Synchronous like the rest of start-up; rare (old logs only).
 */
import fs from 'node:fs'
import { join } from 'node:path'
import { StoreError } from '../message-store.ts'
import { FRAME_HEADER_BYTES, RecordReader, RecordType, decodeSaveKey } from './record-codec.ts'
import { segmentFileName } from './segment-log.ts'

/** The key fields sit near the start of a SAVE; a longer topic or id reads the whole record. */
const FIRST_READ_BYTES = 512

export class SaveKeyReader {
  readonly #dir: string
  readonly #fds = new Map<number, number>()

  constructor(dir: string) {
    this.#dir = dir
  }

  /** (topic, messageId) of the SAVE record at (segment, offset); the record was checked at replay. */
  keyAt(segment: number, offset: number): { topic: string; messageId: string } {
    let fd = this.#fds.get(segment)
    if (fd === undefined) {
      fd = fs.openSync(join(this.#dir, segmentFileName(segment)), 'r')
      this.#fds.set(segment, fd)
    }
    let buf = Buffer.alloc(FIRST_READ_BYTES)
    let got = fs.readSync(fd, buf, 0, buf.length, offset)
    for (;;) {
      if (got < FRAME_HEADER_BYTES + 1 || buf[FRAME_HEADER_BYTES] !== RecordType.SAVE) {
        throw new StoreError(`file store: no SAVE record at segment ${segment} offset ${offset}`)
      }
      const end = Math.min(got, FRAME_HEADER_BYTES + buf.readUInt32LE(0))
      try {
        return decodeSaveKey(new RecordReader(buf, FRAME_HEADER_BYTES + 1, end))
      } catch (err) {
        const total = FRAME_HEADER_BYTES + buf.readUInt32LE(0)
        if (got >= total) throw err
        buf = Buffer.alloc(total)
        got = fs.readSync(fd, buf, 0, total, offset)
      }
    }
  }

  close(): void {
    for (const fd of this.#fds.values()) fs.closeSync(fd)
    this.#fds.clear()
  }
}
