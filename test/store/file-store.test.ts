import test, { type ExecutionContext } from 'ava'
import { spawn } from 'node:child_process'
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import type { Logger } from '../../protocol/logger.ts'
import { FileStore, type FileStoreOptions } from '../../store/file-store.ts'
import { crc32 } from '../../store/file/crc32.ts'
import { encodeDelete } from '../../store/file/record-codec.ts'
import { listSegments } from '../../store/file/segment-log.ts'
import { MemoryStore } from '../../store/memory-store.ts'
import { compareDue, type MessageStore, type StoredMessage } from '../../store/message-store.ts'
import { openStore } from '../../store/open-store.ts'
import { eventually } from '../helpers/clients.ts'
import { SeededRandom, testSeed } from '../helpers/random.ts'
import { comparable, dueKeys, makeMessage, newId, storeConformance } from './conformance.ts'
import { collidingIds } from './file/colliding-ids.ts'

const freshDir = () => mkdtempSync(join(tmpdir(), 'kiteq-file-'))

async function open(options: Partial<FileStoreOptions> & { dir?: string } = {}): Promise<FileStore> {
  const store = new FileStore({ ...options, dir: options.dir ?? freshDir() })
  await store.start()
  return store
}

async function reopen(store: FileStore, options: Partial<FileStoreOptions> = {}): Promise<FileStore> {
  await store.stop()
  return open({ ...options, dir: store.dir })
}

async function cleanup(store: MessageStore): Promise<void> {
  await store.stop()
  rmSync((store as FileStore).dir, { recursive: true, force: true })
}

storeConformance(test, {
  name: 'file',
  open: () => open(),
  reopen: (store) => reopen(store as FileStore),
  cleanup,
  deadLetterHoldsKey: true,
})

storeConformance(test, {
  name: 'file, every read through the thread pool',
  open: () => open({ syncReadBytes: 0 }),
  reopen: (store) => reopen(store as FileStore, { syncReadBytes: 0 }),
  cleanup,
  deadLetterHoldsKey: true,
})

/** A logger that keeps what was warned about, to assert on. */
function recordingLogger(): Logger & { warnings: string[]; errors: string[] } {
  const warnings: string[] = []
  const errors: string[] = []
  const keep = (into: string[]) => (a: object | string, b?: string) => void into.push(typeof a === 'string' ? a : b ?? '')
  const logger = {
    warnings, errors, trace: () => {}, debug: () => {}, info: () => {}, warn: keep(warnings), error: keep(errors), child: () => logger,
  }
  return logger
}

const segmentFiles = (dir: string) => readdirSync(dir).filter((n) => n.startsWith('segment-')).sort()
const lastSegment = (dir: string) => join(dir, segmentFiles(dir).at(-1)!)

test('file store: the record checksum is CRC-32/IEEE, over a sub-range and continued', (t) => {
  const bytes = Buffer.from('xx123456789yy')
  t.is(crc32(bytes, 2, 11), 0xcbf43926) // the catalogued check value of "123456789"
  t.is(crc32(bytes, 6, 11, crc32(bytes, 2, 6)), 0xcbf43926)
  t.is(crc32(Buffer.from('123456789')), 0xcbf43926)
})

test('file store: a torn last record (garbage, cut short, bad CRC) is truncated with a warning; the rest is recovered', async (t) => {
  let store = await open()
  const kept = Array.from({ length: 20 }, () => makeMessage())
  for (const m of kept) await store.save(m)
  const last = makeMessage()
  await store.save(last)
  await store.stop()
  const path = lastSegment(store.dir)
  const fullSize = statSync(path).size

  // 1. garbage after the last complete record
  appendFileSync(path, Buffer.from('a partial write that never finished'))
  let logger = recordingLogger()
  store = await open({ dir: store.dir, logger })
  t.is(logger.warnings.length, 1)
  t.regex(logger.warnings[0], /torn record at the end of the log/)
  t.is(statSync(path).size, fullSize, 'the garbage is cut off')
  t.is(store.openReport?.truncatedBytes, 35)
  t.deepEqual(comparable(t, await store.get(last.topic, last.messageId)), last)
  t.is((await store.stats()).pendingByTopic.trade, 21)
  await store.stop()

  // 2. the last record cut in half
  truncateSync(path, fullSize - 10)
  logger = recordingLogger()
  store = await open({ dir: store.dir, logger })
  t.is(logger.warnings.length, 1)
  t.is(await store.get(last.topic, last.messageId), undefined, 'the torn record is gone')
  for (const m of kept) t.deepEqual(comparable(t, await store.get(m.topic, m.messageId)), m)
  // appends continue where the valid log ends
  const after = makeMessage()
  await store.save(after)
  await store.stop()

  // 3. a flipped bit inside the last record: its CRC no longer matches
  const bytes = readFileSync(path)
  bytes[bytes.length - 5] ^= 0x40
  writeFileSync(path, bytes)
  logger = recordingLogger()
  store = await open({ dir: store.dir, logger })
  t.regex(logger.warnings.join('\n'), /bad-crc/)
  t.is(await store.get(after.topic, after.messageId), undefined)
  t.is((await store.stats()).pendingByTopic.trade, 20)
  await cleanup(store)
})

/** Twelve messages over three or more 2 KiB segments, the first segment damaged by `damage`, reopened. */
async function reopenedWithDamagedFirstSegment(t: ExecutionContext, damage: (bytes: Buffer) => void) {
  const saved = await open({ segmentBytes: 2048 })
  const messages = Array.from({ length: 12 }, () => makeMessage({ body: Buffer.alloc(300) }))
  for (const m of messages) await saved.save(m)
  await saved.stop()
  const files = segmentFiles(saved.dir)
  t.true(files.length >= 3)
  const first = join(saved.dir, files[0])
  const bytes = readFileSync(first)
  damage(bytes)
  writeFileSync(first, bytes)
  const logger = recordingLogger()
  const store = await open({ dir: saved.dir, segmentBytes: 2048, logger })
  return { store, messages, files, first, bytes, logger }
}

test('file store: corruption inside an older segment is reported as an error, later segments still load', async (t) => {
  const { store, messages, first, bytes, logger } = await reopenedWithDamagedFirstSegment(t, (b) => (b[b.length - 3] ^= 0xff))
  t.is(logger.errors.length, 1)
  t.regex(logger.errors[0], /corrupt record inside the log/)
  t.is(statSync(first).size, bytes.length, 'an older segment is left as it is for inspection')
  t.is((await store.stats()).pendingByTopic.trade, 11, 'only the damaged record is lost')
  t.deepEqual(comparable(t, await store.get(messages[11].topic, messages[11].messageId)), messages[11])
  await cleanup(store)
})

/** Where each record of a segment file starts (walking the frames' lengths). */
function frameOffsets(bytes: Buffer): number[] {
  const offsets: number[] = []
  for (let at = 0; at < bytes.length; at += 8 + bytes.readUInt32LE(at)) offsets.push(at)
  return offsets
}

test('file store: a damaged record in the middle of the last segment costs that record only; replay goes on behind it, nothing is truncated', async (t) => {
  let store = await open()
  const messages = Array.from({ length: 20 }, () => makeMessage())
  for (const m of messages) await store.save(m)
  await store.stop()
  const path = lastSegment(store.dir)
  const pristine = readFileSync(path)
  const offsets = frameOffsets(pristine)
  t.is(offsets.length, 20)
  const damages: [string, (bytes: Buffer) => void, number][] = [
    ['a flipped bit in a payload', (bytes) => void (bytes[offsets[5] + 30] ^= 0x01), 5],
    ['a length past the end of the file', (bytes) => bytes.writeUInt32LE(0x00ffffff, offsets[10]), 10],
    ['a length no record has', (bytes) => bytes.writeUInt32LE(0xffffffff, offsets[15]), 15],
  ]
  for (const [what, damage, lost] of damages) {
    const bytes = Buffer.from(pristine)
    damage(bytes)
    writeFileSync(path, bytes)
    const logger = recordingLogger()
    store = await open({ dir: store.dir, logger })
    t.deepEqual(logger.warnings, [], what)
    t.is(logger.errors.length, 1, what)
    t.regex(logger.errors[0], /corrupt record inside the log/, what)
    t.is(store.openReport?.truncatedBytes, 0, what)
    t.is(statSync(path).size, pristine.length, `${what}: the file is left as it is`)
    for (const [i, m] of messages.entries()) {
      const got = await store.get(m.topic, m.messageId)
      if (i === lost) t.is(got, undefined, what)
      else t.deepEqual(comparable(t, got), m, `${what}: message ${i}`)
    }
    // appends continue at the end of the file, behind the records kept
    const after = makeMessage()
    await store.save(after)
    store = await reopen(store, { logger: recordingLogger() })
    t.deepEqual(comparable(t, await store.get(after.topic, after.messageId)), after, what)
    t.is((await store.stats()).pendingByTopic.trade, 20, what)
    await store.stop()
  }
  rmSync(store.dir, { recursive: true, force: true })
})

test('file store: a damaged first record of an older segment: the rest of it is replayed, and the segment is never deleted', async (t) => {
  const { store, messages, files, first, bytes, logger } = await reopenedWithDamagedFirstSegment(t, (b) => (b[20] ^= 0x01))
  t.is(logger.errors.length, 1)
  t.is(store.openReport?.corruptSegments, 1)
  t.is((await store.stats()).pendingByTopic.trade, 11, 'only the damaged record is lost')
  t.deepEqual(comparable(t, await store.get(messages[1].topic, messages[1].messageId)), messages[1])
  // every message goes, oldest first: the first segment would be the first deleted
  for (const m of messages.slice(1)) await store.delete(m.topic, m.messageId)
  await eventually(() => !segmentFiles(store.dir).includes(files[1]), 5000, 'the second segment deleted')
  t.true(segmentFiles(store.dir).includes(files[0]), 'the damaged segment is kept for inspection')
  t.deepEqual(readFileSync(first), bytes)
  await cleanup(store)
})

test('file store: segments roll at segmentBytes; a segment whose records are all dead is deleted, never the active one', async (t) => {
  const store = await open({ segmentBytes: 4096 })
  const messages = Array.from({ length: 40 }, () => makeMessage({ body: Buffer.alloc(300, 1) }))
  for (const m of messages) await store.save(m)
  const rolled = segmentFiles(store.dir)
  t.true(rolled.length >= 4, `40 × ~480 B in 4 KiB segments: ${rolled.length} files`)
  // everything but the newest message: every older segment becomes dead
  for (const m of messages.slice(0, -1)) await store.delete(m.topic, m.messageId)
  const older = rolled.slice(0, -1)
  await eventually(() => segmentFiles(store.dir).every((f) => !older.includes(f)), 5000, 'dead segments deleted')
  t.true(segmentFiles(store.dir).includes(rolled.at(-1)!), 'the segment of the live message stays')
  const survivor = messages.at(-1)!
  t.deepEqual(comparable(t, await store.get(survivor.topic, survivor.messageId)), survivor)
  await store.delete(survivor.topic, survivor.messageId)
  await eventually(() => segmentFiles(store.dir).length === 1, 5000, 'all but the active segment deleted')
  const active = segmentFiles(store.dir)[0]
  t.true(active > rolled.at(-1)!, 'what is left is the active segment, holding only deletes')
  const again = await reopen(store, { segmentBytes: 4096 })
  t.deepEqual((await again.stats()).pendingByTopic, {})
  await cleanup(again)
})

test('file store: a segment holding a DELETE outlives the segment of the message it deleted (no resurrection)', async (t) => {
  const store = await open({ segmentBytes: 2048 })
  const longLived = makeMessage({ body: Buffer.alloc(200) })
  const deleted = makeMessage({ body: Buffer.alloc(200) })
  await store.save(longLived)
  await store.save(deleted) // same segment as longLived, which keeps it alive
  const firstSegment = segmentFiles(store.dir)[0]
  // fill so that the DELETE lands in a later segment full of otherwise dead records
  const filler = Array.from({ length: 6 }, () => makeMessage({ body: Buffer.alloc(300) }))
  for (const m of filler) await store.save(m)
  await store.delete(deleted.topic, deleted.messageId)
  for (const m of filler) await store.delete(m.topic, m.messageId)
  for (let i = 0; i < 10; i++) {
    const m = makeMessage({ body: Buffer.alloc(300) })
    await store.save(m)
    await store.delete(m.topic, m.messageId)
  }
  const files = segmentFiles(store.dir)
  t.is(files[0], firstSegment, 'the first segment is still needed by longLived')
  const again = await reopen(store, { segmentBytes: 2048 })
  t.is(await again.get(deleted.topic, deleted.messageId), undefined, 'the delete survived its segment being otherwise dead')
  t.deepEqual(comparable(t, await again.get(longLived.topic, longLived.messageId)), longLived)
  t.deepEqual((await again.stats()).pendingByTopic, { trade: 1 })
  // once the first segment goes, the tombstones are no longer needed either
  await again.delete(longLived.topic, longLived.messageId)
  for (let i = 0; i < 8; i++) await again.saveSnapshot({ atMs: i, data: { filler: 'x'.repeat(300) } })
  await again.pruneSnapshots(Infinity)
  await eventually(() => segmentFiles(again.dir).length === 1, 5000, 'every dead segment deleted')
  await cleanup(again)
})

test('file store: saves in the same tick are written with one write', async (t) => {
  const store = await open({ fsync: 'batch' })
  const before = store.io
  const messages = Array.from({ length: 300 }, () => makeMessage({ body: Buffer.alloc(512) }))
  await Promise.all(messages.map((m) => store.save(m)))
  t.is(store.io.writes - before.writes, 1)
  t.is(store.io.fsyncs - before.fsyncs, 1, 'fsync=batch: one fdatasync for the whole batch')
  const updates = messages.map((m) => store.updateDelivery(m.topic, m.messageId, {
    deliverCount: 1, nextDeliverAtMs: 5, succGroups: ['g'], failGroups: [], txCheckCount: 0,
  }))
  const deletes = messages.slice(0, 10).map((m) => store.delete(m.topic, m.messageId))
  await Promise.all([...updates, ...deletes])
  t.is(store.io.writes - before.writes, 2)
  await cleanup(store)
})

/** The types of every record in `dir`'s segments, in log order. */
function recordTypes(dir: string): number[] {
  const types: number[] = []
  for (const name of segmentFiles(dir)) {
    const bytes = readFileSync(join(dir, name))
    for (let at = 0; at + 8 <= bytes.length; at += 8 + bytes.readUInt32LE(at)) types.push(bytes[at + 8])
  }
  return types
}

const DELETE_AT = 7
const DELETES = 8

test('file store: the deletes of one batch go to the log as one DELETES record, and a reopen replays them', async (t) => {
  let store = await open()
  const messages = Array.from({ length: 50 }, () => makeMessage())
  await Promise.all(messages.map((m) => store.save(m)))
  const typesBefore = recordTypes(store.dir).length
  const deleted = messages.slice(0, 30)
  t.deepEqual(await Promise.all(deleted.map((m) => store.delete(m.topic, m.messageId))), deleted.map(() => true))
  t.deepEqual(recordTypes(store.dir).slice(typesBefore), [DELETES], 'thirty deletes, one record')
  t.is(await store.get(deleted[0].topic, deleted[0].messageId), undefined)
  store = await reopen(store)
  for (const m of deleted) t.is(await store.get(m.topic, m.messageId), undefined, `${m.messageId} stays deleted`)
  t.deepEqual((await store.stats()).pendingByTopic, { trade: 20 })
  await cleanup(store)
})

test('file store: a delete and a new save of the same key in one batch replay in that order', async (t) => {
  let store = await open()
  const first = makeMessage({ body: Buffer.from('first') })
  await store.save(first)
  const second = { ...first, body: Buffer.from('second') }
  // not awaited in between: both are in the log's pending batch together
  const [deleted] = await Promise.all([store.delete(first.topic, first.messageId), store.save(second)])
  t.true(deleted)
  t.deepEqual(recordTypes(store.dir).slice(-2), [DELETES, 1], 'the tombstone before the new SAVE')
  store = await reopen(store)
  t.deepEqual((await store.get(first.topic, first.messageId))?.body, Buffer.from('second'))
  await cleanup(store)
})

test('file store: DELETE_AT records of the previous version still delete at start-up', async (t) => {
  let store = await open()
  const gone = makeMessage()
  const kept = makeMessage()
  await store.save(gone)
  await store.save(kept)
  const [firstSegment] = listSegments(store.dir)
  await store.stop()
  appendFileSync(lastSegment(store.dir), encodeDelete(gone.topic, gone.messageId, { segment: firstSegment, offset: 0 }))
  t.deepEqual(recordTypes(store.dir).slice(-1), [DELETE_AT])
  store = await open({ dir: store.dir })
  t.is(await store.get(gone.topic, gone.messageId), undefined)
  t.deepEqual(comparable(t, await store.get(kept.topic, kept.messageId)), kept)
  await cleanup(store)
})

test('file store: a torn DELETES record at the tail is truncated; its messages are back (delivered again), the rest recovered', async (t) => {
  let store = await open()
  const messages = Array.from({ length: 10 }, () => makeMessage())
  for (const m of messages) await store.save(m)
  await store.delete(messages[0].topic, messages[0].messageId)
  const torn = messages.slice(1, 6)
  await Promise.all(torn.map((m) => store.delete(m.topic, m.messageId)))
  t.deepEqual(recordTypes(store.dir).slice(-2), [DELETES, DELETES])
  await store.stop()
  truncateSync(lastSegment(store.dir), statSync(lastSegment(store.dir)).size - 3)
  const logger = recordingLogger()
  store = await open({ dir: store.dir, logger })
  t.true(logger.warnings.some((w) => /truncat/i.test(w)), logger.warnings.join('; '))
  t.is(await store.get(messages[0].topic, messages[0].messageId), undefined, 'the delete before the torn record holds')
  for (const m of [...torn, ...messages.slice(6)]) t.deepEqual(comparable(t, await store.get(m.topic, m.messageId)), m)
  await cleanup(store)
})

test('file store: maxMessages refuses with STORE_FULL, counting dead letters', async (t) => {
  const store = await open({ maxMessages: 2 })
  const a = makeMessage()
  await store.save(a)
  await store.save(makeMessage())
  await store.moveToDeadLetter(a.topic, a.messageId, 'why', 1)
  await t.throwsAsync(store.save(makeMessage()), { code: 'KITEQ_ERR_STORE_FULL' } as never)
  await store.delete('trade', (await store.dueBetween(-Infinity, Infinity, 1))[0].messageId)
  await t.notThrowsAsync(store.save(makeMessage()))
  await cleanup(store)
})

test('file store: a save the index has no room for (topics ever seen) is refused before it reaches the log', async (t) => {
  let store = await open({ fsync: 'never' })
  const topics = 65_536
  for (let i = 0; i < topics; i += 4096) {
    await Promise.all(Array.from({ length: Math.min(4096, topics - i) }, (_, j) => store.save(makeMessage({ topic: `t${i + j}` }))))
  }
  const refused = makeMessage({ topic: 'one-too-many' })
  await t.throwsAsync(store.save(refused), { code: 'KITEQ_ERR_STORE', message: /more than 65536 topics/ } as never)
  await t.notThrowsAsync(store.save(makeMessage({ topic: 't0' })), 'a topic already seen still has room')
  store = await reopen(store, { fsync: 'never' })
  t.is(await store.get(refused.topic, refused.messageId), undefined, 'nothing of it was logged')
  t.is(Object.keys((await store.stats()).pendingByTopic).length, topics)
  await cleanup(store)
})

test('file store: a due entry\'s ref finds its message without a lookup, and a stale ref never finds another', async (t) => {
  const store = await open()
  const first = makeMessage({ nextDeliverAtMs: 5 })
  await store.save(first)
  const [entry] = await store.dueBetween(0, 10, 10)
  t.is(typeof entry.ref, 'number')
  t.is((await store.get(first.topic, first.messageId, entry.ref))?.messageId, first.messageId)
  // a wrong topic or a ref out of range falls back to the lookup, which answers for the id given
  t.is(await store.get('other-topic', first.messageId, entry.ref), undefined)
  t.is((await store.get(first.topic, first.messageId, 1e9))?.messageId, first.messageId)
  // the slot freed and taken by another message: the old entry's ref must not find that one
  await store.delete(first.topic, first.messageId)
  const second = makeMessage({ nextDeliverAtMs: 6 })
  await store.save(second)
  t.is((await store.dueBetween(0, 10, 10))[0].ref, entry.ref, 'the freed slot was reused (else this test shows nothing)')
  t.is(await store.get(first.topic, first.messageId, entry.ref), undefined)
  t.is((await store.get(second.topic, second.messageId, entry.ref))?.messageId, second.messageId)
  await cleanup(store)
})

test('file store: ids other than 32 lowercase hex digits work and sort as strings', async (t) => {
  const store = await open()
  const ids = ['order-17', 'ABCDEF0123456789ABCDEF0123456789', newId(), 'z', '0'.repeat(32), 'é-unicode']
  for (const id of ids) await store.save(makeMessage({ messageId: id, nextDeliverAtMs: 7 }))
  const due = (await store.dueBetween(0, 10, 100)).map((e) => e.messageId)
  t.deepEqual(due, [...ids].sort())
  t.deepEqual(((await store.get('trade', 'order-17'))!).messageId, 'order-17')
  t.is((await store.findById('é-unicode'))?.message.messageId, 'é-unicode')
  const again = await reopen(store)
  t.deepEqual((await again.dueBetween(0, 10, 100)).map((e) => e.messageId), [...ids].sort())
  await cleanup(again)
})

test('file store: one store per directory', async (t) => {
  const store = await open()
  await t.throwsAsync(new FileStore({ dir: store.dir }).start(), { code: 'KITEQ_ERR_STORE' } as never)
  await cleanup(store)
})

/**
 * Random operations on the file store and the memory store must answer alike. `timeBaseMs` places
 * every time: 0 puts them all in the past (hot), a day ahead with small far-index buckets makes most
 * saves cold and due-queries promote bucket after bucket.
 */
async function randomAgainstMemory(t: ExecutionContext, seed: number, timeBaseMs: number, options: Partial<FileStoreOptions> = {}): Promise<void> {
  const random = new SeededRandom(testSeed(seed))
  let file = await open({ segmentBytes: 8192, ...options })
  const memory = new MemoryStore()
  const ids: { topic: string; messageId: string }[] = []
  const topics = ['a', 'b', 'c']
  const time = () => timeBaseMs + random.int(0, 100_000)
  // slots the file store named in due entries (DueEntry.ref), by id and all: get() is also asked
  // with a message's own earlier ref (its slot may have been freed and reused since) or another's
  const refOf = new Map<string, number>()
  const refs: number[] = []
  for (let step = 0; step < 1500; step++) {
    const roll = random.next()
    const target = ids.length > 0 ? random.pick(ids) : undefined
    const both = async (op: (s: MessageStore) => Promise<unknown>) => t.deepEqual(comparable(t, await op(file)), comparable(t, await op(memory)), `step ${step}`)
    if (roll < 0.3 || target === undefined) {
      const m = makeMessage({ topic: random.pick(topics), commit: random.next() < 0.8, nextDeliverAtMs: time(), body: random.bytes(random.int(0, 200)) })
      ids.push({ topic: m.topic, messageId: m.messageId })
      await both((s) => s.save(m))
    } else if (roll < 0.45) {
      const update = {
        deliverCount: random.int(0, 5), nextDeliverAtMs: time(), succGroups: random.next() < 0.5 ? ['s'] : [],
        failGroups: random.next() < 0.5 ? ['f1', 'f2'] : [], txCheckCount: random.int(0, 2),
      }
      await both((s) => s.updateDelivery(target.topic, target.messageId, update))
    } else if (roll < 0.55) await both((s) => s.delete(target.topic, target.messageId))
    else if (roll < 0.6) await both((s) => s.commit(target.topic, target.messageId))
    else if (roll < 0.65) await both((s) => s.rollback(target.topic, target.messageId))
    else if (roll < 0.7) await both((s) => s.moveToDeadLetter(target.topic, target.messageId, `r${step}`, step))
    else if (roll < 0.8) {
      // every random draw happens out here: the operation runs once per store
      const atMs = time()
      await both((s) => (roll < 0.75 ? s.reschedule(target.topic, target.messageId, atMs) : s.redriveDeadLetter(target.topic, target.messageId, atMs)))
    } else if (roll < 0.87) {
      const pick = random.next()
      const ref = pick < 0.4 ? refOf.get(target.messageId) : pick < 0.7 && refs.length > 0 ? random.pick(refs) : undefined
      await both((s) => s.get(target.topic, target.messageId, ref))
    }
    else if (roll < 0.9) await both((s) => s.findById(target.messageId))
    else if (roll < 0.97) {
      const [from, width, limit] = [time(), random.int(0, 30_000), random.int(1, 20)]
      const listed = await file.dueBetween(from, from + width, limit)
      t.deepEqual(dueKeys(listed), await memory.dueBetween(from, from + width, limit), `step ${step}`)
      for (const entry of listed) {
        if (entry.ref === undefined) continue
        refOf.set(entry.messageId, entry.ref)
        refs.push(entry.ref)
      }
    } else {
      file = await reopen(file, { segmentBytes: 8192, ...options })
    }
  }
  t.deepEqual(await file.stats(), await memory.stats())
  t.deepEqual(dueKeys(await file.dueBetween(-Infinity, Infinity, 10_000)), await memory.dueBetween(-Infinity, Infinity, 10_000))
  t.deepEqual(comparable(t, await file.listDeadLetters({ limit: 10_000 })), comparable(t, await memory.listDeadLetters({ limit: 10_000 })))
  file = await reopen(file, { segmentBytes: 8192, ...options })
  t.deepEqual(dueKeys(await file.dueBetween(-Infinity, Infinity, 10_000)), await memory.dueBetween(-Infinity, Infinity, 10_000))
  t.deepEqual(comparable(t, await file.listDeadLetters({ limit: 10_000 })), comparable(t, await memory.listDeadLetters({ limit: 10_000 })))
  await cleanup(file)
}

test('file store: random operations agree with the memory store, across reopens', (t) => randomAgainstMemory(t, 5, 0))

test('file store: random operations on far-future (cold) messages agree with the memory store, across reopens and promotions', async (t) => {
  const farBucketMs = 10_000
  // a day ahead, on a bucket boundary: ten buckets of times, each promoted when a query first reaches it
  const base = Math.ceil((Date.now() + 86_400_000) / farBucketMs) * farBucketMs
  await randomAgainstMemory(t, 6, base, { farBucketMs })
})

const HOUR_MS = 3_600_000
/** Two days ahead, on a far-index bucket boundary (default buckets: an hour). */
const farBase = () => Math.ceil((Date.now() + 2 * 86_400_000) / HOUR_MS) * HOUR_MS
const due = (messages: StoredMessage[]) =>
  messages.map((m) => ({ topic: m.topic, messageId: m.messageId, nextDeliverAtMs: m.nextDeliverAtMs })).sort(compareDue)

test('file store: committed far-future messages leave memory (their ids and times wait on disk) and come back when due-queries reach their hour', async (t) => {
  const base = farBase()
  const n = 3000
  const messages = Array.from({ length: n }, (_, i) => makeMessage({ nextDeliverAtMs: base + ((i * 7919) % (3 * HOUR_MS)) }))
  let store = await open()
  const near = await open()
  for (const m of messages) {
    await store.save(m)
    await near.save({ ...m, nextDeliverAtMs: Date.now() })
  }
  t.deepEqual(store.indexCounts, { messages: n, hot: 0 })
  t.deepEqual(near.indexCounts, { messages: n, hot: n })
  t.true(store.indexBytes < near.indexBytes * 0.6, `cold ${store.indexBytes} B, hot ${near.indexBytes} B`)
  await cleanup(near)

  // a query over the first hour brings exactly that hour's messages back
  const firstHour = messages.filter((m) => m.nextDeliverAtMs < base + HOUR_MS)
  t.deepEqual(dueKeys(await store.dueBetween(base, base + HOUR_MS, 10_000)), due(firstHour))
  t.is(store.indexCounts.hot, firstHour.length)
  // a message saved into a reached hour is hot at once; one beyond it is cold
  const later = [makeMessage({ nextDeliverAtMs: base + 5 }), makeMessage({ nextDeliverAtMs: base + 2 * HOUR_MS + 5 })]
  for (const m of later) await store.save(m)
  t.is(store.indexCounts.hot, firstHour.length + 1)
  messages.push(...later)

  store = await reopen(store)
  t.is(store.indexCounts.hot, 0, 'start-up leaves them on disk again')
  t.is(store.openReport?.coldMessages, n + 2)
  // the first page promotes only as far as it needs
  t.deepEqual(dueKeys(await store.dueBetween(-Infinity, Infinity, 10)), due(messages).slice(0, 10))
  t.is(store.indexCounts.hot, firstHour.length + 1)
  t.deepEqual(dueKeys(await store.dueBetween(-Infinity, Infinity, 10_000)), due(messages))
  t.is(store.indexCounts.hot, n + 2)
  await cleanup(store)
})

test('file store: once the clock enters an hour no due-query has reached, a message due in it is kept in memory; those saved cold before wait for the query', async (t) => {
  let now = farBase()
  const store = await open({ now: () => now })
  const nextHour = now + HOUR_MS
  const early = makeMessage({ nextDeliverAtMs: nextHour + 30 * 60_000 })
  await store.save(early)
  t.deepEqual(store.indexCounts, { messages: 1, hot: 0 }, 'the next hour is not reached: cold')
  now = nextHour + 1_000
  const dueNow = makeMessage({ nextDeliverAtMs: now })
  const laterThisHour = makeMessage({ nextDeliverAtMs: now + 10 * 60_000 })
  const following = makeMessage({ nextDeliverAtMs: nextHour + HOUR_MS + 5 })
  for (const m of [dueNow, laterThisHour, following]) await store.save(m)
  t.deepEqual(store.indexCounts, { messages: 4, hot: 2 }, 'due in the clock\'s hour: hot, though no query reached it')
  t.deepEqual(dueKeys(await store.dueBetween(-Infinity, nextHour + HOUR_MS, 100)), due([dueNow, laterThisHour, early]))
  t.deepEqual(store.indexCounts, { messages: 4, hot: 3 }, 'the query brought the cold one back; the next hour stays on disk')
  await cleanup(store)
})

test('file store: cold messages whose ids share the index hash are told apart by their SAVE records, before and after a restart', async (t) => {
  const [[a, b], [c, d]] = collidingIds(2)
  const base = farBase()
  let store = await open()
  await store.save(makeMessage({ messageId: a, nextDeliverAtMs: base + 1 }))
  await store.save(makeMessage({ messageId: b, nextDeliverAtMs: base + 2 }))
  await store.save(makeMessage({ messageId: d, topic: 'feed', nextDeliverAtMs: base + 3 }))
  t.is(store.indexCounts.hot, 0)
  t.is((await store.get('trade', a))?.nextDeliverAtMs, base + 1)
  t.is((await store.get('trade', b))?.nextDeliverAtMs, base + 2)
  t.is(await store.get('feed', c), undefined, 'same hash as a stored id, never stored itself')
  t.is(await store.findById(c), undefined)
  t.false(await store.delete('feed', c))
  t.false(await store.reschedule('feed', c, base))
  t.is((await store.findById(d))?.message.topic, 'feed')
  await t.throwsAsync(store.save(makeMessage({ messageId: b, nextDeliverAtMs: base + 9 })), { code: 'KITEQ_ERR_STORE' } as never)
  t.is(store.indexCounts.hot, 0, 'lookups read the candidates on disk and leave them cold')

  t.true(await store.delete('trade', a))
  t.is(await store.get('trade', a), undefined)
  t.is((await store.get('trade', b))?.nextDeliverAtMs, base + 2)
  t.true(await store.reschedule('trade', b, base + 5))
  t.is(store.indexCounts.hot, 1, 'a changed message keeps its state in memory')
  await store.save(makeMessage({ messageId: a, nextDeliverAtMs: base + 7 }))

  store = await reopen(store)
  t.is((await store.get('trade', a))?.nextDeliverAtMs, base + 7, 'the DELETE removed the first a only')
  t.is((await store.get('trade', b))?.nextDeliverAtMs, base + 5)
  t.deepEqual((await store.stats()).pendingByTopic, { trade: 2, feed: 1 })
  await cleanup(store)
})

test('file store: a bucket too big to promote in one go is made hot piece by piece while saves, deletes and reschedules go on', async (t) => {
  const base = farBase()
  const n = 30_000 // several promotion pieces
  const store = await open({ fsync: 'never' })
  const messages = Array.from({ length: n }, (_, i) => makeMessage({ nextDeliverAtMs: base + (i % 1000) }))
  await Promise.all(messages.map((m) => store.save(m)))
  t.is(store.indexCounts.hot, 0)
  const expected = new Map(messages.map((m) => [m.messageId, m]))
  const promoted = store.dueBetween(base, base + HOUR_MS, 10)
  // these run while the promotion is under way, some between its pieces
  const work: Promise<unknown>[] = []
  for (let i = 0; i < 300; i++) {
    const m = messages[i * 97]
    if (i % 3 === 0) {
      work.push(store.delete(m.topic, m.messageId))
      expected.delete(m.messageId)
    } else if (i % 3 === 1) {
      work.push(store.reschedule(m.topic, m.messageId, base + 2000 + i))
      expected.set(m.messageId, { ...m, nextDeliverAtMs: base + 2000 + i })
    } else {
      const added = makeMessage({ nextDeliverAtMs: base + 1500 + i })
      work.push(store.save(added))
      expected.set(added.messageId, added)
    }
    if (i % 50 === 0) work.push(new Promise((resolve) => setImmediate(resolve)))
  }
  await Promise.all(work)
  t.deepEqual(dueKeys(await promoted), due([...expected.values()]).slice(0, 10))
  t.deepEqual(dueKeys(await store.dueBetween(base, base + HOUR_MS, n * 2)), due([...expected.values()]))
  t.is(store.indexCounts.hot, expected.size)
  await cleanup(store)
})

/** A record as the store wrote it before STATE and DELETE named their SAVE's location. */
function legacyRecord(type: 2 | 3, write: (w: { str(s: string): void; raw(b: Buffer): void }) => void): Buffer {
  const parts: Buffer[] = [Buffer.from([type])]
  write({
    str: (s) => {
      const len = Buffer.alloc(4)
      len.writeUInt32LE(Buffer.byteLength(s))
      parts.push(len, Buffer.from(s))
    },
    raw: (b) => parts.push(b),
  })
  const body = Buffer.concat(parts)
  const head = Buffer.alloc(8)
  head.writeUInt32LE(body.length, 0)
  head.writeUInt32LE(crc32(body), 4)
  return Buffer.concat([head, body])
}

test('file store: STATE and DELETE records of the older format still find cold messages at start-up (checked against the SAVE on disk)', async (t) => {
  const [[a, b]] = collidingIds(1)
  const base = farBase()
  let store = await open()
  await store.save(makeMessage({ messageId: a, nextDeliverAtMs: base + 1 }))
  await store.save(makeMessage({ messageId: b, nextDeliverAtMs: base + 2 }))
  await store.stop()
  const state = Buffer.alloc(1 + 8 + 4 + 4 + 4 + 4)
  state.writeUInt8(1, 0) // committed
  state.writeDoubleLE(base + 9, 1)
  state.writeInt32LE(1, 9) // deliverCount
  appendFileSync(lastSegment(store.dir), Buffer.concat([
    legacyRecord(3, (w) => {
      w.str('trade')
      w.str(b)
    }),
    legacyRecord(2, (w) => {
      w.str('trade')
      w.str(a)
      w.raw(state) // flags, nextDeliverAtMs, deliverCount, txCheckCount, no groups
    }),
  ]))
  store = await open({ dir: store.dir })
  t.is(await store.get('trade', b), undefined)
  const m = await store.get('trade', a)
  t.is(m?.nextDeliverAtMs, base + 9)
  t.is(m?.deliverCount, 1)
  await cleanup(store)
})

test('file store: killed with SIGKILL, it loses nothing it acknowledged', async (t) => {
  const dir = freshDir()
  const child = spawn(process.execPath, ['--import=tsx', fileURLToPath(new URL('./file-store-crash-child.ts', import.meta.url)), dir], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const acknowledged: string[] = []
  const lines = createInterface({ input: child.stdout! })
  const exited = new Promise((resolve) => child.once('exit', resolve))
  for await (const line of lines) {
    acknowledged.push(line)
    if (acknowledged.length === 2000) {
      child.kill('SIGKILL')
      break
    }
  }
  await exited
  const store = await open({ dir })
  const missing = []
  for (const id of acknowledged) if ((await store.get('crash', id)) === undefined) missing.push(id)
  t.deepEqual(missing, [])
  t.true((await store.stats()).pendingByTopic.crash >= acknowledged.length)
  await cleanup(store)
})

test('file URIs: absolute and relative directories, options validated', (t) => {
  const abs = openStore('file:///tmp/kiteq-x?fsync=batch&segmentBytes=1048576&maxMessages=5') as FileStore
  t.is(abs.kind, 'file')
  t.is(abs.dir, '/tmp/kiteq-x')
  t.is((openStore('file://./data') as FileStore).dir, './data')
  t.is((openStore('file://data/kiteq') as FileStore).dir, 'data/kiteq')
  t.throws(() => openStore('file:///tmp/x?fsync=sometimes'), { code: 'KITEQ_ERR_CONFIG' } as never)
  t.throws(() => openStore('file:///tmp/x?segmentBytes=0'), { code: 'KITEQ_ERR_CONFIG' } as never)
  t.throws(() => openStore('file:///tmp/x?segmentBytes=8589934592'), { code: 'KITEQ_ERR_CONFIG' } as never)
  t.throws(() => openStore('file://'), { code: 'KITEQ_ERR_CONFIG' } as never)
  t.notThrows(() => openStore('file:///tmp/x?syncReadBytes=0'))
  t.throws(() => openStore('file:///tmp/x?syncReadBytes=-1'), { code: 'KITEQ_ERR_CONFIG' } as never)
  t.notThrows(() => openStore('file:///tmp/x?readThread=false'))
  t.throws(() => openStore('file:///tmp/x?readThread=maybe'), { message: /readThread=maybe must be true or false/ })
})

for (const readThread of [true, false]) {
  test(`file store: records read ${readThread ? 'on the reader thread' : 'on the event loop'} (newest segments) and through the thread pool (older ones) come back whole, small and large`, async (t) => {
    // 4 KiB segments, the newest two read apart from the pool: most of these records are in older ones
    const store = await open({ segmentBytes: 4096, syncReadBytes: 8192, readThread })
    const bodies = [Buffer.alloc(10, 1), Buffer.alloc(700, 2), Buffer.alloc(3000, 3), Buffer.alloc(9000, 4)]
    const messages = Array.from({ length: 40 }, (_, i) => makeMessage({ body: bodies[i % bodies.length] }))
    for (const m of messages) await store.save(m)
    for (const m of messages) t.deepEqual((await store.get(m.topic, m.messageId))?.body, m.body, m.messageId)
    // the same reads all at once: nothing mixes up
    const all = await Promise.all(messages.map((m) => store.get(m.topic, m.messageId)))
    t.deepEqual(all.map((m) => m?.body), messages.map((m) => m.body))
    await cleanup(store)
  })
}
