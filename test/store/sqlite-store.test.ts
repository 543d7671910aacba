import test from 'ava'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { MessageStore } from '../../store/message-store.ts'
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

test('sqlite URIs: relative and absolute paths, fsync policy validated', (t) => {
  t.is((openStore('sqlite://./x/k.db') as SqliteStore).path, './x/k.db')
  t.is((openStore('sqlite:///tmp/k.db?fsync=batch') as SqliteStore).path, '/tmp/k.db')
  t.throws(() => openStore('sqlite:///tmp/k.db?fsync=sometimes'), { code: 'KITEQ_ERR_CONFIG' } as never)
  t.throws(() => openStore('sqlite://'), { code: 'KITEQ_ERR_CONFIG' } as never)
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
