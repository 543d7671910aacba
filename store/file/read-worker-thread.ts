/**
 * The file store's reader thread (see read-worker.ts): reads batches of records with pread on its
 * own file descriptors and answers each batch with one transferred buffer.
 */
import fs from 'node:fs'
import { parentPort } from 'node:worker_threads'
import type { ReadBatch, ReadBatchResult, ReaderCommand } from './read-worker.ts'
import { readRecordSync } from './record-read.ts'

/** A record's first read: its length prefix tells whether more must be read. */
const FIRST_READ_BYTES = 4096

const fds = new Map<string, number>()
const scratch = Buffer.allocUnsafe(FIRST_READ_BYTES)

function fdOf(path: string): number {
  let fd = fds.get(path)
  if (fd === undefined) fds.set(path, (fd = fs.openSync(path, 'r')))
  return fd
}

function readBatch(batch: ReadBatch): ReadBatchResult {
  const records: Buffer[] = []
  const ends = new Uint32Array(batch.offsets.length)
  const errors: (string | null)[] = []
  let bytes = 0
  for (let i = 0; i < batch.offsets.length; i++) {
    let record: Buffer
    try {
      record = readRecordSync(fdOf(batch.paths[i]), scratch, batch.offsets[i], batch.limits[i])
      errors.push(null)
    } catch (err) {
      record = Buffer.alloc(0)
      errors.push((err as Error).message)
    }
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
    case 'forget': {
      const fd = fds.get(command.path)
      if (fd !== undefined) {
        fds.delete(command.path)
        fs.closeSync(fd)
      }
      break
    }
  }
})
