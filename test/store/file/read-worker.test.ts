import test from 'ava'
import { mkdtempSync, unlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ReadWorker } from '../../../store/file/read-worker.ts'
import { crc32 } from '../../../store/file/crc32.ts'
import { FRAME_HEADER_BYTES } from '../../../store/file/record-codec.ts'
import { SeededRandom, testSeed } from '../../helpers/random.ts'

/** A framed record as the log lays it out: payload length and CRC (little-endian), then the payload. */
function frame(payload: Buffer): Buffer {
  const out = Buffer.alloc(FRAME_HEADER_BYTES + payload.length)
  out.writeUInt32LE(payload.length, 0)
  out.writeUInt32LE(crc32(payload), 4)
  payload.copy(out, FRAME_HEADER_BYTES)
  return out
}

/** A read as a promise of its record. */
const read = (reader: ReadWorker, path: string, offset: number, limit: number) =>
  new Promise<Buffer>((resolve, reject) => reader.read(path, offset, limit, { resolve, reject }))

test('reads asked for in one turn come back whole, checked and in order, small and larger than the first read', async (t) => {
  const rng = new SeededRandom(testSeed(11))
  const records = Array.from({ length: 600 }, (_, i) => frame(rng.bytes(i % 50 === 0 ? 9_000 : rng.int(1, 900))))
  // one record torn after it was written: its CRC no longer matches
  const torn = 333
  records[torn][FRAME_HEADER_BYTES + 3] ^= 0xff
  const path = join(mkdtempSync(join(tmpdir(), 'kiteq-reader-')), 'segment.log')
  writeFileSync(path, Buffer.concat(records))
  const offsets: number[] = []
  let at = 0
  for (const r of records) {
    offsets.push(at)
    at += r.length
  }
  const failures: Error[] = []
  const reader = new ReadWorker((err) => failures.push(err))
  const got = await Promise.all(offsets.map((offset) => read(reader, path, offset, at - offset).catch((err: Error) => err)))
  t.is(got.length, records.length)
  for (let i = 0; i < records.length; i++) {
    const read = got[i]
    if (i === torn) t.is(read instanceof Error ? read.message : 'read', `file store: record at ${path}:${offsets[torn]} is corrupt (bad-crc)`)
    else if (!(read instanceof Buffer) || !read.equals(records[i])) return t.fail(`record ${i} differs (seed ${rng.seed})`)
  }
  const missing = await read(reader, join(path, '..', 'gone.log'), 0, 100).then(() => 'read', (err: Error) => err.message)
  t.regex(missing, /read failed: ENOENT/)
  t.true((await read(reader, path, 0, at)).equals(records[0]), 'a failed read does not hurt the next')
  await reader.close()
  t.deepEqual(failures, [], 'closing is not a failure')
  await t.throwsAsync(read(reader, path, 0, at), { message: /stopped/ })
})

test('a thread that dies fails its reads and says so once', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kiteq-reader-'))
  const entry = join(dir, 'dies.mjs')
  writeFileSync(entry, "import { parentPort } from 'node:worker_threads'\nparentPort.once('message', () => process.exit(3))\n")
  const failures: Error[] = []
  const reader = new ReadWorker((err) => failures.push(err), new URL(`file://${entry}`))
  await t.throwsAsync(read(reader, entry, 0, 10), { message: /reader thread exited/ })
  t.true(reader.failed)
  await t.throwsAsync(read(reader, entry, 0, 10), { message: /reader thread exited/ })
  t.is(failures.length, 1)
  await reader.close()
})

test('a forgotten file is closed on the thread: the same path written anew reads the new records', async (t) => {
  const path = join(mkdtempSync(join(tmpdir(), 'kiteq-reader-')), 'segment.log')
  const first = frame(Buffer.from('first segment'))
  writeFileSync(path, first)
  const reader = new ReadWorker(() => {})
  t.true((await read(reader, path, 0, first.length)).equals(first))
  // reclaiming a segment: forget, delete, and a later segment may take the same name
  reader.forget(path)
  unlinkSync(path)
  const second = frame(Buffer.from('second segment, longer'))
  writeFileSync(path, second)
  t.true((await read(reader, path, 0, second.length)).equals(second), 'read through a descriptor of the deleted file otherwise')
  await reader.close()
})
