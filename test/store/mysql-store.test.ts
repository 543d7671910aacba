/**
 * The `mysql://` store against the real MariaDB of scripts/services.sh (KITEQ_TEST_MYSQL). Every open
 * uses fresh databases `kt<random>_{i}`, dropped afterwards. Without KITEQ_TEST_MYSQL every test
 * fails: a silently skipped store is a store nobody tested.
 */
import test from 'ava'
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import mysql, { type RowDataPacket } from 'mysql2/promise'
import { decodeHeader } from '../../protocol/header.ts'
import type { MessageStore } from '../../store/message-store.ts'
import { MysqlStore, brokerIdentity, mysqlOptionsFromUrl } from '../../store/mysql-store.ts'
import { openStore } from '../../store/open-store.ts'
import { eventually } from '../helpers/clients.ts'
import { makeMessage, newId, storeConformance } from './conformance.ts'

function serverAddress(): string {
  const address = process.env.KITEQ_TEST_MYSQL
  if (!address) throw new Error('KITEQ_TEST_MYSQL is not set: run `bash scripts/services.sh start` and load .services/env')
  return address
}

const databasesOf = new WeakMap<MessageStore, string>()

function newDatabaseName(): string {
  return `kt${randomBytes(5).toString('hex')}`
}

async function open(db = newDatabaseName(), params = 'createSchema=true', kiteServer = 'test-broker:1'): Promise<MysqlStore> {
  const url = new URL(`mysql://${serverAddress()}?db=${db}&${params}`)
  const store = new MysqlStore({ ...mysqlOptionsFromUrl(url), kiteServer })
  await store.start()
  databasesOf.set(store, db)
  return store
}

async function admin<T>(work: (conn: mysql.Connection) => Promise<T>): Promise<T> {
  const [host, port] = serverAddress().split(':')
  const conn = await mysql.createConnection({ host, port: Number(port), user: 'root', password: '' })
  try {
    return await work(conn)
  } finally {
    await conn.end()
  }
}

async function dropDatabases(db: string): Promise<void> {
  await admin(async (conn) => {
    const [rows] = await conn.query<RowDataPacket[]>('SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE ?', [`${db}\\_%`])
    for (const r of rows) await conn.query(`DROP DATABASE IF EXISTS \`${r.name as string}\``)
  })
}

async function cleanup(store: MessageStore): Promise<void> {
  const db = databasesOf.get(store)
  if (db !== undefined) await dropDatabases(db)
}

storeConformance(test, {
  name: 'mysql',
  open: () => open(),
  reopen: async (store) => {
    await store.stop()
    // the second start only verifies the schema the first one created
    return open(databasesOf.get(store), 'createSchema=false')
  },
  cleanup,
})

async function tablesOf(db: string): Promise<string[]> {
  return admin(async (conn) => {
    const [rows] = await conn.query<RowDataPacket[]>(
      'SELECT CONCAT(TABLE_SCHEMA, \'.\', TABLE_NAME) AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA LIKE ? ORDER BY name',
      [`${db}\\_%`],
    )
    return rows.map((r) => r.name as string)
  })
}

for (const shardnum of [4, 2]) {
  test.serial(`mysql store: shardnum=${shardnum} creates {db}_i with 16/${shardnum} kite_msg_j tables and a dlq each`, async (t) => {
    const store = await open(undefined, `createSchema=true&shardnum=${shardnum}`)
    const db = databasesOf.get(store)!
    try {
      const expected: string[] = []
      for (let i = 0; i < shardnum; i++) {
        for (let j = 0; j < 16 / shardnum; j++) expected.push(`${db}_${i}.kite_msg_${j}`)
        expected.push(`${db}_${i}.kite_msg_dlq`)
      }
      expected.push(`${db}_0.kite_client_binding`, `${db}_0.kite_stat_snapshot`)
      t.deepEqual(await tablesOf(db), expected.sort())
      const index = await admin(async (conn) => {
        const [rows] = await conn.query<RowDataPacket[]>(
          'SELECT COLUMN_NAME AS col FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND INDEX_NAME = ? ORDER BY SEQ_IN_INDEX',
          [`${db}_1`, 'kite_msg_0', 'idx_recover'],
        )
        return rows.map((r) => r.col as string)
      })
      t.deepEqual(index, ['kite_server', 'next_deliver_time', 'message_id'], 'the index the page query names exists (KiteQ created idx_recover_a)')
    } finally {
      await store.stop()
      await cleanup(store)
    }
  })
}

test.serial('mysql store: a message lands in database d / (16/shardnum), table d % (16/shardnum) of its last hex digit', async (t) => {
  const store = await open(undefined, 'createSchema=true&shardnum=4')
  const db = databasesOf.get(store)!
  try {
    const messages = [...'0123456789abcdef'].map((digit) => makeMessage({ messageId: newId().slice(0, 31) + digit, commit: false }))
    await Promise.all(messages.map((m) => store.save(m)))
    const placed = await admin(async (conn) => {
      const found: Record<string, { table: string; kiteServer: string; header: Buffer; publishTime: number }> = {}
      for (let i = 0; i < 4; i++) {
        for (let j = 0; j < 4; j++) {
          const [rows] = await conn.query<RowDataPacket[]>(`SELECT message_id, kite_server, header, publish_time FROM \`${db}_${i}\`.kite_msg_${j}`)
          for (const r of rows) found[r.message_id as string] = { table: `${i}.${j}`, kiteServer: r.kite_server, header: r.header, publishTime: r.publish_time }
        }
      }
      return found
    })
    t.is(Object.keys(placed).length, 16, 'each message is stored exactly once')
    for (const m of messages) {
      const d = parseInt(m.messageId.at(-1)!, 16)
      t.is(placed[m.messageId].table, `${Math.floor(d / 4)}.${d % 4}`, m.messageId)
      t.is(placed[m.messageId].kiteServer, 'test-broker:1')
      t.deepEqual(decodeHeader(placed[m.messageId].header, 0, placed[m.messageId].header.length), m.header, 'header column holds protobuf Header bytes')
      t.is(placed[m.messageId].publishTime, Math.floor(m.createdAtMs / 1000), 'publish_time stays Unix seconds as in KiteQ')
    }
    // dead letters go to the dlq of the message's own database
    const dead = messages[13]
    t.true(await store.moveToDeadLetter(dead.topic, dead.messageId, 'why', 1))
    const [row] = await admin(async (conn) => (await conn.query<RowDataPacket[]>(`SELECT dead_reason FROM \`${db}_3\`.kite_msg_dlq WHERE message_id = ?`, [dead.messageId]))[0])
    t.is(row?.dead_reason, 'why')
  } finally {
    await store.stop()
    await cleanup(store)
  }
})

test.serial('mysql store: without createSchema, start fails with a StoreError naming what is missing', async (t) => {
  const db = newDatabaseName()
  const store = new MysqlStore(mysqlOptionsFromUrl(new URL(`mysql://${serverAddress()}?db=${db}`)))
  const err = await t.throwsAsync(store.start())
  t.is((err as { code?: string }).code, 'KITEQ_ERR_STORE')
  t.regex(err!.message, new RegExp(`createSchema=true.*\`${db}_0\`\\.\`kite_msg_0\` is missing`))
})

test.serial('mysql store: a duplicate in a group commit fails alone; the rest of the batch is stored', async (t) => {
  const store = await open()
  try {
    const a = makeMessage()
    const b = makeMessage()
    const c = makeMessage({ messageId: a.messageId.slice(0, 31) + (a.messageId.at(-1) === '0' ? '1' : '0') })
    const results = await Promise.allSettled([store.save(a), store.save(b), store.save(a), store.save(c)])
    t.deepEqual(results.map((r) => r.status), ['fulfilled', 'fulfilled', 'rejected', 'fulfilled'])
    t.is(((results[2] as PromiseRejectedResult).reason as { code?: string }).code, 'KITEQ_ERR_STORE')
    for (const m of [a, b, c]) t.truthy(await store.get(m.topic, m.messageId))
    // a commit asked for before its save resolved still finds the row: writes never overtake each other
    const d = makeMessage({ commit: false })
    const [, committed] = await Promise.all([store.save(d), store.commit(d.topic, d.messageId)])
    t.true(committed)
  } finally {
    await store.stop()
    await cleanup(store)
  }
})

test.serial('mysql store: brokers sharing the databases schedule only their own messages (kite_server)', async (t) => {
  const one = await open(undefined, 'createSchema=true', 'host-a:13800')
  const db = databasesOf.get(one)!
  const two = await open(db, 'createSchema=false', 'host-a:13801')
  try {
    const mine = makeMessage({ nextDeliverAtMs: 10 })
    const theirs = makeMessage({ nextDeliverAtMs: 20 })
    await one.save(mine)
    await two.save(theirs)
    t.deepEqual((await one.dueBetween(0, 100, 10)).map((e) => e.messageId), [mine.messageId])
    t.deepEqual((await two.dueBetween(0, 100, 10)).map((e) => e.messageId), [theirs.messageId])
    t.deepEqual((await one.stats()).pendingByTopic, { trade: 1 })
    t.truthy(await one.get(theirs.topic, theirs.messageId), 'lookups by key are shared')
    t.true(await one.delete(theirs.topic, theirs.messageId))
  } finally {
    await one.stop()
    await two.stop()
    await cleanup(one)
  }
})

test('mysql URIs: parameters, KiteQ aliases, defaults and validation', (t) => {
  const store = openStore('mysql://10.0.0.5?db=kq&username=kite&password=s3cret&shardnum=8&batchUpdateSize=100', { bind: '0.0.0.0:13800' }) as MysqlStore
  t.is(store.kind, 'mysql')
  t.like(store.options, {
    host: '10.0.0.5', port: 3306, database: 'kq', user: 'kite', password: 's3cret', shardCount: 8, createSchema: false,
    maxConnections: 10, batchSize: 1000, flushMs: 0, ignoredParameters: ['batchUpdateSize'],
  })
  t.is(store.kiteServer, brokerIdentity('0.0.0.0:13800'))
  t.deepEqual(store.layout.databases, ['kq_0', 'kq_1', 'kq_2', 'kq_3', 'kq_4', 'kq_5', 'kq_6', 'kq_7'])
  t.is((openStore('mysql://u:p@h:3307?kiteServer=b1', { bind: '10.1.1.1:1' }) as MysqlStore).kiteServer, 'b1')
  t.like((openStore('mysql://u:p@h:3307') as MysqlStore).options, { user: 'u', password: 'p', port: 3307, database: 'kite', shardCount: 4 })
  for (const bad of ['mysql://h?shardnum=3', 'mysql://h?db=a-b', 'mysql://h?maxConn=0', 'mysql://h?shardNum=4', 'mysql://h?createSchema=yes']) {
    t.throws(() => openStore(bad), { code: 'KITEQ_ERR_CONFIG' } as never, bad)
  }
  t.is(brokerIdentity('10.1.2.3:13800', 'm1'), '10.1.2.3:13800')
  t.is(brokerIdentity('0.0.0.0:13800', 'm1'), 'm1:13800')
  t.is(brokerIdentity('127.0.0.1:13801', 'm1'), 'm1:13801')
  t.is(brokerIdentity('[::]:13800', 'm1'), 'm1:13800')
})

const run = promisify(execFile)
const mariadbScript = fileURLToPath(new URL('../../scripts/mariadb.sh', import.meta.url))

test.serial('[outage] mysql store: MySQL restarted during load — resolved saves survive, outage saves fail with STORE, then saves succeed again', async (t) => {
  const store = await open(undefined, 'createSchema=true&queryTimeoutMs=5000&connectTimeoutMs=2000')
  try {
    const stored: ReturnType<typeof makeMessage>[] = []
    const failures: { code?: string }[] = []
    let savedAfterRestart = 0
    let restarted = false
    let running = true
    let slowestSaveMs = 0
    const saver = async () => {
      while (running) {
        const m = makeMessage({ body: Buffer.alloc(512, 7) })
        const t0 = performance.now()
        try {
          await store.save(m)
          stored.push(m)
          if (restarted) savedAfterRestart++
        } catch (err) {
          failures.push(err as { code?: string })
          // pacing while MySQL is away, not a wait for a condition
          await new Promise((r) => setTimeout(r, 50))
        }
        slowestSaveMs = Math.max(slowestSaveMs, performance.now() - t0)
      }
    }
    const savers = Array.from({ length: 8 }, saver)
    await eventually(() => stored.length >= 500, 30_000, '500 saves before the restart')
    const beforeRestart = stored.length
    await run('bash', [mariadbScript, 'restart'], { timeout: 180_000 })
    restarted = true
    await eventually(() => savedAfterRestart >= 500, 60_000, '500 saves after MySQL is back')
    running = false
    await Promise.all(savers)

    t.true(failures.length > 0, 'saves during the outage failed')
    t.deepEqual([...new Set(failures.map((f) => f.code))], ['KITEQ_ERR_STORE'])
    t.true(slowestSaveMs < 5000 + 2000 + 1000, `no save hung (slowest ${Math.round(slowestSaveMs)} ms)`)
    t.true(stored.length > beforeRestart)
    let missing = 0
    for (const m of stored) if ((await store.get(m.topic, m.messageId)) === undefined) missing++
    t.is(missing, 0, `every resolved save is readable (${stored.length} saves, ${failures.length} failures)`)
    t.log(`${stored.length} resolved saves, ${failures.length} failed during the outage, slowest ${Math.round(slowestSaveMs)} ms`)
  } finally {
    await store.stop()
    await cleanup(store)
  }
})
