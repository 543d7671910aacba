import test from 'ava'
import fs, { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { mock } from 'node:test'
import { silentLogger, type Logger } from '../../../protocol/logger.ts'
import { encodeSnapshot } from '../../../store/file/record-codec.ts'
import { SegmentLog, segmentFileName, type SegmentFileOps, type SegmentLogOptions } from '../../../store/file/segment-log.ts'

/** Records of one size; a segment of exactly that size holds one, so every append starts a new segment. */
const record = (i: number) => encodeSnapshot(i, '{"filler":"xxxxxxxxxxxxxxxx"}')
const RECORD_BYTES = record(0).length

function openLog(dir: string, options: Partial<SegmentLogOptions>, existing: { id: number; size: number }[] = []): SegmentLog {
  const log = new SegmentLog({
    dir, segmentBytes: RECORD_BYTES, fsync: 'never', fsyncIntervalMs: 100, syncReadBytes: 1 << 30, readThread: false,
    logger: silentLogger, onNewSegment: () => {}, ...options,
  })
  log.openSync(existing)
  return log
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void
  const promise = new Promise<void>((r) => (resolve = r))
  return { promise, resolve }
}

const realFileOps: SegmentFileOps = {
  fdatasync: (fd) => new Promise((res, rej) => fs.fdatasync(fd, (e) => (e ? rej(e) : res()))),
  unlink: (path) => fs.promises.unlink(path),
}

// serial: it replaces the global setInterval, which the concurrent tests below must not meet
test.serial('a dead segment is unlinked only after a sync that began after the write that made it dead', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kiteq-log-'))
  // segment 1 as start-up finds it: synced, holding the record about to be superseded
  writeFileSync(join(dir, segmentFileName(1)), record(0))
  const events: string[] = []
  const firstSync = deferred()
  const releaseFirstSync = deferred()
  let syncs = 0
  const fileOps: SegmentFileOps = {
    fdatasync: async (fd) => {
      events.push('fdatasync')
      if (++syncs === 1) {
        firstSync.resolve()
        await releaseFirstSync.promise
      }
      await realFileOps.fdatasync(fd)
    },
    unlink: async (path) => {
      events.push(`unlink ${basename(path)}`)
      await realFileOps.unlink(path)
    },
  }
  mock.timers.enable({ apis: ['setInterval'] })
  try {
    const log = openLog(dir, { fsync: 'interval', fsyncIntervalMs: 100, fileOps }, [{ id: 1, size: RECORD_BYTES }])
    log.append(record(1)) // segment 2
    await log.drain()
    mock.timers.tick(100) // the interval's sync begins, and is held in segment 2's fdatasync
    await firstSync.promise
    log.append(record(2)) // segment 3: the record superseding segment 1's, written while that sync is under way
    log.remove(1)
    await log.drain()
    events.push('written')
    releaseFirstSync.resolve()
    await log.close()
  } finally {
    mock.timers.reset()
  }
  const unlinkAt = events.indexOf(`unlink ${segmentFileName(1)}`)
  t.true(unlinkAt > 0, events.join(', '))
  t.deepEqual(events.slice(0, unlinkAt + 1), ['fdatasync', 'written', 'fdatasync', `unlink ${segmentFileName(1)}`],
    'the sync under way when the superseding record was written does not count')
})

test('dead segments are unlinked one at a time, in the order they were named, however slow the first is', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kiteq-log-'))
  const events: string[] = []
  const secondStarted = deferred()
  const fileOps: Partial<SegmentFileOps> = {
    unlink: async (path) => {
      const name = basename(path)
      events.push(`start ${name}`)
      if (name === segmentFileName(1)) {
        // slow, as a busy thread pool would make it: until the next unlink starts, if one would
        await Promise.race([secondStarted.promise, new Promise((resolve) => setTimeout(resolve, 250))])
      } else secondStarted.resolve()
      await realFileOps.unlink(path)
      events.push(`end ${name}`)
    },
  }
  const log = openLog(dir, { fileOps })
  for (let i = 0; i < 3; i++) log.append(record(i))
  await log.drain()
  t.is(log.activeSegment, 3)
  // segment 2 holds tombstones of records in segment 1: SegmentRefs names 1 first
  log.remove(1)
  log.remove(2)
  await log.close()
  const [one, two] = [segmentFileName(1), segmentFileName(2)]
  t.deepEqual(events, [`start ${one}`, `end ${one}`, `start ${two}`, `end ${two}`])
  t.deepEqual(fs.readdirSync(dir), [segmentFileName(3)])
})

test('after a dead segment could not be unlinked, later dead segments are kept too (until start-up decides again)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kiteq-log-'))
  const tried: string[] = []
  const fileOps: Partial<SegmentFileOps> = {
    unlink: async (path) => {
      tried.push(basename(path))
      throw Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' })
    },
  }
  const log = openLog(dir, { fileOps })
  for (let i = 0; i < 3; i++) log.append(record(i))
  await log.drain()
  log.remove(1)
  log.remove(2)
  await log.close()
  t.deepEqual(tried, [segmentFileName(1)])
  t.deepEqual(fs.readdirSync(dir).sort(), [1, 2, 3].map(segmentFileName))
})

test('reader thread dies: its reads and every later one are done on the event loop, with one warning', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kiteq-log-'))
  const entry = join(dir, 'dies.mjs')
  writeFileSync(entry, "import { parentPort } from 'node:worker_threads'\nparentPort.once('message', () => process.exit(3))\n")
  const warnings: string[] = []
  const logger = {
    trace: () => {}, debug: () => {}, info: () => {}, error: () => {},
    warn: (a: object | string, b?: string) => void warnings.push(typeof a === 'string' ? a : b ?? ''),
    child: () => logger,
  } as Logger
  const log = new SegmentLog({
    dir, segmentBytes: 1 << 20, fsync: 'never', fsyncIntervalMs: 100, syncReadBytes: 1 << 30, readThread: true,
    readThreadEntry: new URL(`file://${entry}`), logger, onNewSegment: () => {},
  })
  log.openSync([])
  const records = Array.from({ length: 20 }, (_, i) => encodeSnapshot(i, `{"record":${i}}`))
  const placed = records.map((r) => log.append(r))
  await log.drain()
  // the reader thread is unref'd (it must not keep a broker alive): as a broker's listening socket
  // would, this keeps the process running while the reads are answered
  const alive = setInterval(() => {}, 1000)
  t.teardown(() => clearInterval(alive))
  // the first batch reaches the dying thread; those reads fall back, later ones never go there
  const first = await Promise.all(placed.slice(0, 10).map((p) => log.read(p.segment, p.offset, (record) => record)))
  const later = await Promise.all(placed.slice(10).map((p) => log.read(p.segment, p.offset, (record) => record)))
  for (const [i, { buf, frame }] of [...first, ...later].entries()) {
    t.true(buf.subarray(0, frame.end).equals(records[i]), `record ${i} read whole`)
  }
  t.is(warnings.filter((w) => /reader thread failed/.test(w)).length, 1, warnings.join('; '))
  await log.close()
})
