import test from 'ava'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Logger } from '../../protocol/logger.ts'
import type { MessageStore, StoreError } from '../../store/message-store.ts'
import { openStore } from '../../store/open-store.ts'
import { SqliteStore } from '../../store/sqlite-store.ts'
import { makeMessage, storeConformance } from './conformance.ts'

const paths = new WeakMap<MessageStore, string>()

async function open(path = join(mkdtempSync(join(tmpdir(), 'kiteq-sqlite-')), 'kiteq.db')): Promise<MessageStore> {
  const store = new SqliteStore({ path, fsync: 'batch' })
  await store.start()
  paths.set(store, path)
  return store
}

storeConformance(test, {
  name: 'sqlite',
  open: () => open(),
  reopen: async (store) => {
    await store.stop()
    return open(paths.get(store))
  },
})

test('sqlite store: a group commit resolves many concurrent saves from one transaction, in order', async (t) => {
  const store = await open()
  const messages = Array.from({ length: 2000 }, () => makeMessage())
  const order: number[] = []
  await Promise.all(messages.map((m, i) => store.save(m).then(() => order.push(i))))
  t.deepEqual(order, messages.map((_, i) => i))
  t.is((await store.stats()).pendingByTopic.trade, 2000)
  await store.stop()
})

test('sqlite store: a duplicate in a batch fails alone, the rest of the batch is stored', async (t) => {
  const store = await open()
  const a = makeMessage()
  const b = makeMessage()
  const results = await Promise.allSettled([store.save(a), store.save(a), store.save(b)])
  t.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled'])
  t.truthy(await store.get(b.topic, b.messageId))
  await store.stop()
})

test('sqlite store: maxMessages refuses with STORE_FULL', async (t) => {
  const store = new SqliteStore({ path: join(mkdtempSync(join(tmpdir(), 'kiteq-sqlite-')), 'k.db'), maxMessages: 2 })
  await store.start()
  await store.save(makeMessage())
  await store.save(makeMessage())
  await t.throwsAsync(store.save(makeMessage()), { code: 'KITEQ_ERR_STORE_FULL' } as never)
  await store.stop()
})

test('sqlite store: an operation issued while stop() runs (from a continuation of a write it flushed) is refused, never left pending', async (t) => {
  for (const fsync of ['never', 'interval', 'batch'] as const) {
    const path = join(mkdtempSync(join(tmpdir(), 'kiteq-sqlite-')), 'k.db')
    const store = new SqliteStore({ path, fsync })
    await store.start()
    const m = makeMessage()
    let outcome = 'pending'
    void store.save(m)
      .then(() => store.updateDelivery(m.topic, m.messageId, { deliverCount: 1, nextDeliverAtMs: 5, succGroups: [], failGroups: [], txCheckCount: 0 }))
      .then(() => (outcome = 'resolved'), (err: StoreError) => (outcome = `${err.code}: ${err.message}`))
    await store.stop()
    // past stop(): a write left in the queue would have had its flush by now (and none would apply it)
    await new Promise((resolve) => setImmediate(resolve))
    t.is(outcome, 'KITEQ_ERR_STORE: sqlite store stopped', fsync)
    const again = new SqliteStore({ path, fsync })
    await again.start()
    t.is((await again.get(m.topic, m.messageId))?.deliverCount, 0, 'the save queued before stop() was committed, the refused update not')
    await again.stop()
  }
})

test('sqlite store: a dead letter replaced by the same key dying again is no longer counted against maxMessages', async (t) => {
  const store = new SqliteStore({ path: join(mkdtempSync(join(tmpdir(), 'kiteq-sqlite-')), 'k.db'), maxMessages: 2 })
  await store.start()
  const m = makeMessage()
  await store.save(m)
  t.true(await store.moveToDeadLetter(m.topic, m.messageId, 'expired', 1))
  await store.save({ ...m }) // the producer sent the key again: live and dead side by side
  t.false(await store.redriveDeadLetter(m.topic, m.messageId, 2), 'the key is live: the dead letter stays')
  t.true(await store.moveToDeadLetter(m.topic, m.messageId, 'expired', 3))
  t.is((await store.stats()).deadLetters, 1)
  await t.notThrowsAsync(store.save(makeMessage()), 'one dead letter held: room for one more message')
  await store.stop()
})

test('sqlite URIs: relative and absolute paths, fsync policy and WAL limit validated', (t) => {
  t.is((openStore('sqlite://./x/k.db') as SqliteStore).path, './x/k.db')
  t.is((openStore('sqlite:///tmp/k.db?fsync=batch') as SqliteStore).path, '/tmp/k.db')
  t.throws(() => openStore('sqlite:///tmp/k.db?fsync=sometimes'), { code: 'KITEQ_ERR_CONFIG' } as never)
  t.throws(() => openStore('sqlite://'), { code: 'KITEQ_ERR_CONFIG' } as never)
  t.throws(() => openStore('sqlite:///tmp/k.db?walLimitBytes=lots'), { code: 'KITEQ_ERR_CONFIG' } as never)
})

test('sqlite store: a database of the first layout (messages WITHOUT ROWID) is migrated on open, nothing lost', async (t) => {
  const path = join(mkdtempSync(join(tmpdir(), 'kiteq-sqlite-')), 'kiteq.db')
  const store = await open(path)
  const messages = Array.from({ length: 50 }, (_, i) => makeMessage({ nextDeliverAtMs: 1_000 + i }))
  await Promise.all(messages.map((m) => store.save(m)))
  await store.stop()
  // rewrite the file into the version-0 layout: clustered (topic, message_id) key, two indexes
  const { default: Database } = await import('better-sqlite3')
  const db = new Database(path)
  const columns = (db.pragma('table_info(messages)') as { name: string }[]).map((c) => c.name).filter((c) => c !== 'seq').join(', ')
  db.exec(`DROP INDEX messages_due;
    CREATE TABLE messages_v0 AS SELECT ${columns} FROM messages; DROP TABLE messages;
    CREATE TABLE messages (${columns.split(', ').map((c) => `${c} NOT NULL`).join(', ')}, PRIMARY KEY (topic, message_id)) WITHOUT ROWID;
    INSERT INTO messages SELECT * FROM messages_v0; DROP TABLE messages_v0;
    CREATE INDEX messages_due ON messages (next_deliver_at_ms, message_id);
    CREATE INDEX messages_id ON messages (message_id);
    PRAGMA user_version = 0;`)
  db.close()

  const reopened = await open(path)
  for (const m of messages) t.is((await reopened.get(m.topic, m.messageId))?.body.toString(), m.body.toString())
  t.is((await reopened.dueBetween(0, 2_000, 100)).length, 50)
  await reopened.stop()
  const check = new Database(path)
  t.true((check.pragma('table_info(messages)') as { name: string }[]).some((c) => c.name === 'seq'))
  t.is(check.pragma('user_version', { simple: true }), 1)
  check.close()
})

test('sqlite store: a second store on the same database is refused while the first has it open', async (t) => {
  const path = join(mkdtempSync(join(tmpdir(), 'kiteq-sqlite-')), 'kiteq.db')
  const first = await open(path)
  const message = makeMessage()
  await first.save(message)
  const second = new SqliteStore({ path })
  const err = await t.throwsAsync(second.start(), { code: 'KITEQ_ERR_STORE' } as never)
  t.regex(err?.message ?? '', /another broker has it open/)
  await first.stop()
  const reopened = await open(path)
  t.is((await reopened.get(message.topic, message.messageId))?.messageId, message.messageId, 'the next broker opens it once the first is gone')
  await reopened.stop()
})

/** Resolves once `done()` holds, checking each event-loop turn; rejects after `ms`. */
async function until(done: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

const warningsInto = (warnings: string[]): Logger => {
  const logger = {
    trace: () => {}, debug: () => {}, info: () => {}, error: () => {},
    warn: (a: object | string, b?: string) => void warnings.push(typeof a === 'string' ? a : b ?? ''),
    child: () => logger,
  } as Logger
  return logger
}

test('sqlite store: WAL checkpoints run on their own thread, and copy what was committed into the database file', async (t) => {
  const path = join(mkdtempSync(join(tmpdir(), 'kiteq-sqlite-')), 'kiteq.db')
  const warnings: string[] = []
  const store = new SqliteStore({ path, fsyncIntervalMs: 20, logger: warningsInto(warnings) })
  await store.start()
  // until a checkpoint, what is committed is in the WAL only
  const before = statSync(path).size
  await Promise.all(Array.from({ length: 300 }, () => store.save(makeMessage({ body: Buffer.alloc(400, 7) }))))
  await until(() => store.checkpoints.onThread > 0, 5_000, 'a checkpoint on the thread')
  t.true(statSync(path).size >= before + 300 * 400, `database file ${before} → ${statSync(path).size} bytes`)
  t.is(store.checkpoints.onEventLoop, 0, 'none on the event loop')
  t.deepEqual(warnings, [])
  await store.stop()
  t.false(existsSync(`${path}-wal`), 'the WAL is gone once stopped')
})

test('sqlite store: under writes that never pause, the WAL starts over and stays far below what was written', async (t) => {
  t.timeout(60_000)
  const path = join(mkdtempSync(join(tmpdir(), 'kiteq-sqlite-')), 'kiteq.db')
  const walLimitBytes = 1024 * 1024
  const warnings: string[] = []
  const store = new SqliteStore({ path, fsyncIntervalMs: 5, walLimitBytes, logger: warningsInto(warnings) })
  await store.start()
  const body = Buffer.alloc(4000, 7)
  const kept: ReturnType<typeof makeMessage>[] = [makeMessage()]
  await store.save(kept[0])
  // the thread is up once it has checkpointed (starting it takes a while, writes meanwhile pile up)
  await until(() => store.checkpoints.onThread > 0, 10_000, 'the first checkpoint on the thread')
  await store.save(makeMessage())
  let largestWal = 0
  // a transaction in every turn, as under steady load: a checkpoint never finds the WAL still
  for (let round = 0; round < 400; round++) {
    const batch = Array.from({ length: 25 }, () => makeMessage({ body }))
    await Promise.all(batch.map((m) => store.save(m)))
    // half go again, as delivered messages do
    await Promise.all(batch.slice(0, 12).map((m) => store.delete(m.topic, m.messageId)))
    kept.push(...batch.slice(12))
    largestWal = Math.max(largestWal, statSync(`${path}-wal`).size)
  }
  const bodyBytes = 400 * 25 * body.length
  t.log(`WAL at most ${(largestWal / 2 ** 20).toFixed(1)} MiB for ${(bodyBytes / 2 ** 20).toFixed(1)} MiB of bodies; started over ${store.checkpoints.walRestarts} times`)
  t.true(store.checkpoints.walRestarts > 0, 'the WAL was started over')
  // never started over, the WAL holds every body at least once; how far past the limit it gets
  // depends on how long a checkpoint takes on this machine
  t.true(largestWal < bodyBytes / 2, `WAL reached ${largestWal} bytes for ${bodyBytes} bytes of bodies, limit ${walLimitBytes}`)
  for (const m of [kept[0], kept[kept.length >> 1], kept[kept.length - 1]]) t.is((await store.get(m.topic, m.messageId))?.messageId, m.messageId)
  t.is(Object.values((await store.stats()).pendingByTopic).reduce((a, b) => a + b, 0), kept.length + 1)
  t.deepEqual(warnings, [])
  await store.stop()
})

test('sqlite store: while writes wait for the WAL to start over, a read still sees every write queued before it', async (t) => {
  t.timeout(60_000)
  const path = join(mkdtempSync(join(tmpdir(), 'kiteq-sqlite-')), 'kiteq.db')
  // any WAL at all is over this limit: transactions are held around most checkpoints
  const store = new SqliteStore({ path, fsyncIntervalMs: 2, walLimitBytes: 1 })
  await store.start()
  const resident = makeMessage()
  await store.save(resident)
  await until(() => store.checkpoints.onThread > 0, 10_000, 'the first checkpoint on the thread')
  const restartsBefore = store.checkpoints.walRestarts
  let stale = 0
  for (let round = 0; round < 300; round++) {
    const m = makeMessage({ body: Buffer.alloc(2000, round) })
    const saved = store.save(m)
    // asked for in the same turn or a later one (a hold may begin in between): never answered from
    // before the save it was queued after
    if (round % 2 === 1) await new Promise((r) => setImmediate(r))
    const [afterSave, other] = await Promise.all([store.get(m.topic, m.messageId), store.get(resident.topic, resident.messageId), saved])
    if (afterSave?.messageId !== m.messageId || other?.messageId !== resident.messageId) stale++
    const deleted = store.delete(m.topic, m.messageId)
    const [afterDelete] = await Promise.all([store.get(m.topic, m.messageId), deleted])
    if (afterDelete !== undefined) stale++
  }
  t.true(store.checkpoints.walRestarts > restartsBefore, 'writes were held meanwhile')
  t.is(stale, 0)
  await store.stop()
})

test('sqlite store: when the checkpoint thread dies, checkpoints go on on the event loop, with one warning', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kiteq-sqlite-'))
  const entry = join(dir, 'dies.mjs')
  writeFileSync(entry, "import { parentPort } from 'node:worker_threads'\nparentPort.once('message', () => process.exit(3))\n")
  const warnings: string[] = []
  const store = new SqliteStore({ path: join(dir, 'kiteq.db'), fsyncIntervalMs: 20, logger: warningsInto(warnings), checkpointThreadEntry: new URL(`file://${entry}`) })
  await store.start()
  // the thread is unref'd (it must not keep a broker alive): this keeps the process up meanwhile
  const alive = setInterval(() => {}, 1000)
  t.teardown(() => clearInterval(alive))
  const saved = makeMessage()
  await store.save(saved)
  await until(() => warnings.length > 0, 5_000, 'the thread failing')
  await store.save(makeMessage())
  await until(() => store.checkpoints.onEventLoop > 0, 5_000, 'a checkpoint on the event loop')
  t.is(warnings.filter((w) => /checkpoint thread failed/.test(w)).length, 1, warnings.join('; '))
  t.is((await store.get(saved.topic, saved.messageId))?.messageId, saved.messageId)
  await store.stop()
})

test('sqlite store: a lock left by a broker that was killed is taken over', async (t) => {
  const path = join(mkdtempSync(join(tmpdir(), 'kiteq-sqlite-')), 'kiteq.db')
  const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' })
  writeFileSync(`${path}.lock`, gone.stdout)
  const store = await open(path)
  t.is(readFileSync(`${path}.lock`, 'utf8'), String(process.pid))
  await store.stop()
  t.false(existsSync(`${path}.lock`), 'released at stop')
})
