/**
 * The file store's reader thread (see read-worker.ts): reads batches of records with pread on its
 * own file descriptors, checks their frames (length and CRC) and answers each batch with one
 * transferred buffer.
 */
import fs from 'node:fs'
import { parentPort } from 'node:worker_threads'
import { READ_FIELDS, type ReadBatch, type ReadBatchResult, type ReaderCommand } from './read-worker.ts'
import { checkFrame } from './record-codec.ts'
import { corruptRecord, readRecordSync } from './record-read.ts'

/** A record's first read: its length prefix tells whether more must be read. */
const FIRST_READ_BYTES = 4096

/** Open descriptors by the file numbers the event loop gave their paths. */
const files = new Map<number, { path: string; fd: number | undefined }>()
const scratch = Buffer.allocUnsafe(FIRST_READ_BYTES)

function fdOf(file: { path: string; fd: number | undefined }): number {
  return (file.fd ??= fs.openSync(file.path, 'r'))
}

function readOne(file: number, offset: number, limit: number): { record: Buffer; error: string | null } {
  const known = files.get(file)
  if (known === undefined) return { record: Buffer.alloc(0), error: `file store: read failed: no file numbered ${file}` }
  try {
    const record = readRecordSync(fdOf(known), scratch, offset, limit)
    // checked here, off the event loop: the caller trusts the CRC of what comes back
    const frame = checkFrame(record, 0, record.length)
    return { record, error: frame.ok ? null : corruptRecord(known.path, offset, frame.reason) }
  } catch (err) {
    return { record: Buffer.alloc(0), error: `file store: read failed: ${(err as Error).message}` }
  }
}

function readBatch(batch: ReadBatch): ReadBatchResult {
  const reads = batch.reads
  const count = reads.length / READ_FIELDS
  const records: Buffer[] = []
  const ends = new Uint32Array(count)
  const errors: (string | null)[] = []
  let bytes = 0
  for (let i = 0; i < count; i++) {
    const at = i * READ_FIELDS
    const { record, error } = readOne(reads[at], reads[at + 1], reads[at + 2])
    errors.push(error)
    records.push(record)
    bytes += record.length
    ends[i] = bytes
  }
  // one buffer of its own (not a slice of Node's pool), so it can be transferred without a copy
  const data = Buffer.allocUnsafeSlow(bytes)
  let at = 0
  for (const r of records) at += r.copy(data, at)
  return { id: batch.id, data: data.buffer as ArrayBuffer, ends, errors: errors.some((e) => e !== null) ? errors : undefined }
}

parentPort!.on('message', (command: ReaderCommand) => {
  switch (command.kind) {
    case 'read': {
      const result = readBatch(command)
      parentPort!.postMessage(result, [result.data])
      break
    }
    case 'open':
      files.set(command.file, { path: command.path, fd: undefined })
      break
    case 'forget': {
      const fd = files.get(command.file)?.fd
      files.delete(command.file)
      if (fd !== undefined) fs.closeSync(fd)
      break
    }
  }
})
