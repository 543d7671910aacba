import test from 'ava'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Logger } from '../../../protocol/logger.ts'
import { encodeSnapshot } from '../../../store/file/record-codec.ts'
import { SegmentLog } from '../../../store/file/segment-log.ts'

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
