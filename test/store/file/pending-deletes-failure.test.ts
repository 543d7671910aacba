import test from 'ava'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FileStore } from '../../../store/file-store.ts'
import { segmentFileName } from '../../../store/file/segment-log.ts'
import { makeMessage } from '../conformance.ts'

test('a delete waiting for a batch that fails while an earlier one is written: it rejects, it does not hang', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kiteq-file-'))
  const store = new FileStore({ dir, segmentBytes: 4096, readThread: false })
  await store.start()
  const kept = makeMessage()
  await store.save(kept)
  // the next segment's file already exists: creating it (O_EXCL) fails, and the log breaks
  writeFileSync(join(dir, segmentFileName(2)), '')
  const rolling = store.save(makeMessage({ body: Buffer.alloc(5000) })).then(() => 'saved', (err: { code?: string }) => err.code)
  await new Promise((resolve) => setImmediate(resolve)) // that batch is being written now
  const deleted = store.delete(kept.topic, kept.messageId).then(() => 'deleted', (err: { code?: string }) => err.code)
  const hung = new Promise((resolve) => setTimeout(() => resolve('still waiting after 2 s'), 2000))
  t.is(await rolling, 'KITEQ_ERR_STORE')
  t.is(await Promise.race([deleted, hung]), 'KITEQ_ERR_STORE')
  await store.stop().catch(() => {})
})
