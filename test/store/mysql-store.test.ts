/**
 * The `mysql://` store against the real MariaDB of scripts/services.sh (KITEQ_TEST_MYSQL). Every open
 * uses fresh databases `kt<random>_{i}`, dropped afterwards. Without KITEQ_TEST_MYSQL every test
 * fails: a silently skipped store is a store nobody tested.
 */
import test from 'ava'
import { randomBytes } from 'node:crypto'
import mysql, { type RowDataPacket } from 'mysql2/promise'
import { decodeHeader } from '../../protocol/header.ts'
import { silentLogger, type Logger } from '../../protocol/logger.ts'
import { messageKey, type MessageStore, type StoredMessage } from '../../store/message-store.ts'
import { Batch, MAX_KEYS_PER_STATEMENT, type StatementResult } from '../../store/mysql/batch.ts'
import { HeldInserts } from '../../store/mysql/held-inserts.ts'
import { HeldOperations } from '../../store/mysql/held-operations.ts'
import { RowIds } from '../../store/mysql/row-ids.ts'
import { ShardLayout } from '../../store/mysql/sharding.ts'
import { MysqlStatements, escapeSql, insertMessagesSql, messageRowSql, passRenderedSql } from '../../store/mysql/sql.ts'
import { WriteBatcher } from '../../store/mysql/write-batcher.ts'
import { MysqlStore, brokerIdentity, mysqlOptionsFromUrl } from '../../store/mysql-store.ts'
import { openStore } from '../../store/open-store.ts'
import { bindDirect } from '../../binding/binding.ts'
import { randomName, startBroker } from '../helpers/broker.ts'
import { eventually, startConsumer, startProducer } from '../helpers/clients.ts'
import { debugRecorder } from '../helpers/logger.ts'
import { dropShardDatabases, mysqlAdminConnection, testMysqlAddress, testMysqlEndpoint, withMysqlAdmin } from '../helpers/mysql.ts'
import { runScript } from '../helpers/scripts.ts'
import { comparable, makeMessage, newId, storeConformance } from './conformance.ts'

const databasesOf = new WeakMap<MessageStore, string>()

function newDatabaseName(): string {
  return `kt${randomBytes(5).toString('hex')}`
}

async function open(db = newDatabaseName(), params = 'createSchema=true', kiteServer = 'test-broker:1', logger?: Logger): Promise<MysqlStore> {
  const url = new URL(`mysql://${testMysqlAddress()}?db=${db}&${params}`)
  const store = new MysqlStore({ ...mysqlOptionsFromUrl(url), kiteServer, logger })
  await store.start()
  databasesOf.set(store, db)
  return store
}

async function cleanup(store: MessageStore): Promise<void> {
  const db = databasesOf.get(store)
  if (db !== undefined) await dropShardDatabases(db)
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
  return withMysqlAdmin(async (conn) => {
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
      const index = await withMysqlAdmin(async (conn) => {
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
    const placed = await withMysqlAdmin(async (conn) => {
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
    const [row] = await withMysqlAdmin(async (conn) => (await conn.query<RowDataPacket[]>(`SELECT dead_reason FROM \`${db}_3\`.kite_msg_dlq WHERE message_id = ?`, [dead.messageId]))[0])
    t.is(row?.dead_reason, 'why')
  } finally {
    await store.stop()
    await cleanup(store)
  }
})

test.serial('mysql store: without createSchema, start fails with a StoreError naming what is missing', async (t) => {
  const db = newDatabaseName()
  const store = new MysqlStore(mysqlOptionsFromUrl(new URL(`mysql://${testMysqlAddress()}?db=${db}`)))
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

/** A fresh id whose last hex digit is `digit`: ids of one digit share a table, so their keyed operations share statements. */
function idInTable(digit: string): string {
  return newId().slice(0, 31) + digit
}

const AMBIGUOUS = /coalesced statement matched fewer rows than keys/

/** The server's answers to statements that inserted nothing, with these affected-row counts. */
function answers(...affected: number[]): StatementResult[] {
  return affected.map((affectedRows) => ({ affectedRows, insertId: 0 }))
}

test('mysql batch: keyed operations of one kind and table become one statement; counts short of the keys are not exact', (t) => {
  const sql = new MysqlStatements(new ShardLayout('kq', 4))
  const batch = new Batch()
  const results: (boolean | string)[] = []
  const keys = ['a', 'b', 'c'].map((c) => ({ messageId: idInTable('5'), topic: `t-${c}` }))
  for (const k of keys) {
    batch.addKeyed(sql.delete[5], `${k.topic}\u0000${k.messageId}`, { ...k, resolve: (v) => results.push(v), reject: (e) => results.push(e.message) }, 1)
  }
  batch.addKeyed(sql.commit[5], 'x', { messageId: idInTable('5'), topic: 'x', resolve: (v) => results.push(v), reject: () => {} }, 1)
  const plan = batch.plan(true, insertMessagesSql)
  t.is(plan.statements.length, 2, 'three deletes in one statement, the lone commit alone')
  const ids = keys.map((k) => `'${k.messageId}'`).join(',')
  const pairs = keys.map((k) => `('${k.messageId}','${k.topic}')`).join(',')
  t.is(plan.statements[0], `DELETE \`kq_1\`.\`kite_msg_1\` FROM \`kq_1\`.\`kite_msg_1\` FORCE INDEX (idx_message_id) WHERE message_id IN (${ids}) AND (message_id, topic) IN (${pairs})`)
  t.regex(plan.statements[1], /^UPDATE `kq_1`\.`kite_msg_1` SET `commit` = 1 WHERE message_id = '[0-9a-f]{31}5' AND topic = 'x' AND `commit` = 0$/)
  t.true(plan.needsCheck)
  t.false(plan.exact(answers(2, 1)), 'two rows for three keys: which one missed is unknown')
  t.true(plan.exact(answers(3, 0)), 'a one-key statement is always exact')
  plan.settle(answers(3, 0))
  t.deepEqual(results, [true, true, true, false])
  const single = batch.plan(false, insertMessagesSql)
  t.is(single.statements.length, 4)
  t.false(single.needsCheck)

  t.false(batch.accepts('insert', `${keys[0].topic}\u0000${keys[0].messageId}`), 'nothing of a key may follow its keyed operation in the same batch')
  t.false(batch.accepts('keyed', `${keys[0].topic}\u0000${keys[0].messageId}`))
  t.true(batch.accepts('keyed', 'another key'))
})

test('mysql batch: deletes whose row ids are all known go by primary key, still naming every key', (t) => {
  const sql = new MysqlStatements(new ShardLayout('kq', 4))
  const keys = [{ messageId: idInTable('5'), topic: 'a', rowId: 17 }, { messageId: idInTable('5'), topic: 'b', rowId: 9 }]
  const pairs = keys.map((k) => `('${k.messageId}','${k.topic}')`).join(',')
  t.is(sql.delete[5].many(keys), `DELETE \`kq_1\`.\`kite_msg_1\` FROM \`kq_1\`.\`kite_msg_1\` FORCE INDEX (PRIMARY) WHERE id IN (17,9) AND (message_id, topic) IN (${pairs})`)
  t.regex(sql.delete[5].many([keys[0], { ...keys[1], rowId: undefined }]), /FORCE INDEX \(idx_message_id\) WHERE message_id IN/, 'one unknown id: by key')
  t.regex(sql.commit[5].many(keys), /^UPDATE .* FORCE INDEX \(idx_message_id\) SET/, 'only deletes go by row id')

  const batch = new Batch()
  const ids = ['1', '2', '3'].map(() => idInTable('5'))
  for (const [i, id] of ids.entries()) batch.addInsert(i < 2 ? 'first' : 'second', { messageId: id, key: `k${i}`, row: '()', resolve: () => {}, reject: () => {} }, 2)
  const rowIds = new RowIds(5, 100)
  batch.plan(true, insertMessagesSql).settle([{ affectedRows: 2, insertId: 40 }, { affectedRows: 1, insertId: 7 }], rowIds)
  t.deepEqual(['k0', 'k1', 'k2'].map((k) => rowIds.take(k)), [40, 45, 7], 'consecutive ids, auto_increment_increment (5) apart')
  t.is(rowIds.take('k0'), undefined, 'taken once')
})

test('mysql row ids: bounded, forgotten when the row goes, none from a server that reports none', (t) => {
  const rowIds = new RowIds(1, 3)
  rowIds.rememberInserted(['a', 'b'], 10)
  rowIds.rememberInserted(['c', 'd'], 20)
  t.is(rowIds.size, 3, 'd is past the capacity: its delete goes by key')
  t.is(rowIds.take('d'), undefined)
  rowIds.forget('a')
  t.is(rowIds.take('a'), undefined)
  t.is(rowIds.take('c'), 20)
  rowIds.rememberInserted(['e'], 0)
  t.is(rowIds.take('e'), undefined)
})

interface RowIdBatcher {
  store: MysqlStore
  batcher: WriteBatcher
  rowIds: RowIds
  pool: mysql.Pool
  /** Inserts the messages through `batcher`, in one group commit. */
  insert: (messages: StoredMessage[]) => Promise<unknown>
}

/** Runs `work` with a fresh store and a write batcher of its own on its databases, remembering row ids. */
async function withRowIdBatcher(work: (b: RowIdBatcher) => Promise<void>, logger: Logger = silentLogger): Promise<void> {
  const store = await open(undefined, 'createSchema=true&writers=1')
  const pool = mysql.createPool({ ...testMysqlEndpoint(), user: 'root', multipleStatements: true, queryFormat: passRenderedSql, connectionLimit: 2 })
  const rowIds = new RowIds(1, 1000)
  const batcher = new WriteBatcher(pool, { batchSize: 1000, batchBytes: 1 << 20, flushMs: 0, deleteDelayMs: 0, insertHoldMs: 0, queryTimeoutMs: 10_000, logger, rowIds })
  const kiteServer = escapeSql('test-broker:1')
  const insert = (messages: StoredMessage[]) => Promise.all(messages.map((m) =>
    batcher.insert(store.layout.messageTableFor(m.messageId).qualified, messageKey(m.topic, m.messageId), m.messageId, messageRowSql(m, kiteServer))))
  try {
    await work({ store, batcher, rowIds, pool, insert })
  } finally {
    await pool.end()
    await store.stop()
    await cleanup(store)
  }
}

test.serial('mysql store: the row ids remembered from a group commit are the rows\' ids on the server', (t) =>
  withRowIdBatcher(async ({ store, rowIds, pool, insert }) => {
    const messages = [...Array.from({ length: 5 }, () => makeMessage({ messageId: idInTable('7') })), ...Array.from({ length: 3 }, () => makeMessage({ messageId: idInTable('3') }))]
    await insert(messages)
    for (const m of messages) {
      const [rows] = await pool.query<RowDataPacket[]>(`SELECT id FROM ${store.layout.messageTableFor(m.messageId).qualified} WHERE message_id = '${m.messageId}'`)
      t.is(rowIds.take(messageKey(m.topic, m.messageId)), Number(rows[0].id), m.messageId)
    }
  }))

test.serial('mysql store: deletes by row id stay exact when the ids are wrong', (t) => {
  const { logger, lines } = debugRecorder()
  return withRowIdBatcher(async ({ store, batcher, rowIds, insert }) => {
    const [a, b, c, d] = [1, 2, 3, 4].map(() => makeMessage({ messageId: idInTable('9') }))
    await insert([a, b, c, d])
    const [idA, idB, idC, idD] = [a, b, c, d].map((m) => rowIds.take(messageKey(m.topic, m.messageId))!)
    const statement = new MysqlStatements(store.layout).delete[9]
    const del = (m: StoredMessage, rowId: number) => batcher.runKeyed(statement, messageKey(m.topic, m.messageId), { messageId: m.messageId, topic: m.topic, rowId })

    t.deepEqual(await Promise.all([del(a, idB), del(b, idA)]), [true, true], 'swapped ids: the same two rows, each deleted once')
    t.deepEqual(lines.filter((l) => AMBIGUOUS.test(l)), [])
    const missing = makeMessage({ messageId: idInTable('9') })
    t.deepEqual(await Promise.all([del(c, idD), del(missing, idC)]), [true, false], 'd\'s id matches no key of the statement: written again by key')
    t.true(lines.some((l) => AMBIGUOUS.test(l)))
    t.truthy(await store.get(d.topic, d.messageId), 'a row named only by a wrong id stays')
    t.is(await store.get(c.topic, c.messageId), undefined)
  }, logger)
})

test.serial('mysql store: deletes sharing a statement report each id exactly, missing ids included', async (t) => {
  const { logger, lines } = debugRecorder()
  const store = await open(undefined, 'createSchema=true&writers=1', 'test-broker:1', logger)
  try {
    const present = Array.from({ length: 6 }, () => makeMessage({ messageId: idInTable('7') }))
    const elsewhere = makeMessage({ messageId: present[5].messageId, topic: 'other' })
    await Promise.all([...present, elsewhere].map((m) => store.save(m)))

    t.deepEqual(await Promise.all(present.slice(0, 3).map((m) => store.delete(m.topic, m.messageId))), [true, true, true])
    t.deepEqual(lines.filter((l) => AMBIGUOUS.test(l)), [], 'every key matched: the one statement was exact')

    const results = await Promise.all([
      store.delete(present[3].topic, present[3].messageId),
      store.delete('third-topic', present[4].messageId), // the id exists, under another topic
      store.delete(present[4].topic, present[4].messageId),
      store.delete('trade', idInTable('7')),
      store.delete(present[3].topic, present[3].messageId), // a repeat: runs after the first, in the next batch
    ])
    t.deepEqual(results, [true, false, true, false, false])
    t.true(lines.some((l) => AMBIGUOUS.test(l)), 'the shared statement came up short and the batch was written again')

    t.deepEqual(await Promise.all([store.delete('other', elsewhere.messageId), store.delete('trade', present[5].messageId)]), [true, true],
      'one id under two topics: both rows matched, each exactly once')
    for (const m of [...present, elsewhere]) t.is(await store.get(m.topic, m.messageId), undefined)
  } finally {
    await store.stop()
    await cleanup(store)
  }
})

test.serial('mysql store: commits and rollbacks sharing a statement: each reported exactly, committed is neither committed again nor rolled back', async (t) => {
  const { logger, lines } = debugRecorder()
  const store = await open(undefined, 'createSchema=true&writers=1', 'test-broker:1', logger)
  try {
    const committed = Array.from({ length: 3 }, () => makeMessage({ messageId: idInTable('2'), commit: true }))
    const toCommit = Array.from({ length: 2 }, () => makeMessage({ messageId: idInTable('2'), commit: false }))
    const open_ = Array.from({ length: 3 }, () => makeMessage({ messageId: idInTable('2'), commit: false }))
    await Promise.all([...committed, ...toCommit, ...open_].map((m) => store.save(m)))
    t.deepEqual(await Promise.all(toCommit.map((m) => store.commit(m.topic, m.messageId))), [true, true])
    t.deepEqual(lines.filter((l) => AMBIGUOUS.test(l)), [], 'every key matched: the one statement was exact')
    t.deepEqual(await Promise.all([...committed, ...toCommit].map((m) => store.commit(m.topic, m.messageId))), [false, false, false, false, false],
      'already committed rows do not match')
    t.deepEqual(await Promise.all([...open_, committed[0], toCommit[0]].map((m) => store.rollback(m.topic, m.messageId))), [true, true, true, false, false])
    for (const m of open_) t.is(await store.get(m.topic, m.messageId), undefined)
    t.truthy(await store.get(committed[0].topic, committed[0].messageId))
  } finally {
    await store.stop()
    await cleanup(store)
  }
})

test.serial('mysql store: one batch mixing saves, updates, commits and deletes of one message keeps their order', async (t) => {
  const store = await open(undefined, 'createSchema=true&writers=1')
  try {
    const m = makeMessage({ messageId: idInTable('3'), commit: false })
    const neighbour = makeMessage({ messageId: idInTable('3') })
    await store.save(neighbour)
    const update = { deliverCount: 1, nextDeliverAtMs: 7, succGroups: ['g'], failGroups: [], txCheckCount: 0 }
    // asked for in one turn: each result must be what running them one after another gives
    const results = await Promise.all([
      store.save(m).then(() => 'saved'),
      store.commit(m.topic, m.messageId),
      store.delete(neighbour.topic, neighbour.messageId),
      store.delete(m.topic, m.messageId),
      store.reschedule(m.topic, m.messageId, 5),
      store.save({ ...m, commit: false }).then(() => 'saved again'),
      store.updateDelivery(m.topic, m.messageId, update).then(() => 'updated'),
      store.rollback(m.topic, m.messageId),
      store.commit(m.topic, m.messageId),
      store.save(m).then(() => 'saved a third time'),
      store.commit(m.topic, m.messageId),
      store.delete(m.topic, m.messageId),
      store.delete(m.topic, m.messageId),
    ])
    t.deepEqual(results, ['saved', true, true, true, false, 'saved again', 'updated', true, false, 'saved a third time', true, true, false])
    t.is(await store.get(m.topic, m.messageId), undefined)
    t.is(await store.get(neighbour.topic, neighbour.messageId), undefined)
  } finally {
    await store.stop()
    await cleanup(store)
  }
})

test.serial('mysql store: statements over many keys use the unique index (or the primary key) even on a nearly empty table', async (t) => {
  const store = await open(undefined, 'createSchema=true&shardnum=1')
  const db = databasesOf.get(store)!
  try {
    const messages = Array.from({ length: 12 }, () => makeMessage({ messageId: idInTable('a') }))
    await Promise.all(messages.map((m) => store.save(m)))
    const sql = new MysqlStatements(new ShardLayout(db, 1))
    const keys = messages.slice(0, 8)
    const plans = await withMysqlAdmin(async (conn) => {
      const found: Record<string, { type: string; key: string | null }> = {}
      for (const kind of ['delete', 'commit', 'rollback'] as const) {
        const [rows] = await conn.query<RowDataPacket[]>(`EXPLAIN ${sql[kind][10].many(keys)}`)
        found[kind] = { type: rows[0].type as string, key: rows[0].key as string | null }
      }
      const [ids] = await conn.query<RowDataPacket[]>(`SELECT message_id, id FROM \`${db}_0\`.kite_msg_10`)
      const rowIdOf = new Map(ids.map((r) => [r.message_id as string, Number(r.id)]))
      const [rows] = await conn.query<RowDataPacket[]>(`EXPLAIN ${sql.delete[10].many(keys.map((m) => ({ ...m, rowId: rowIdOf.get(m.messageId) })))}`)
      found.deleteByRowId = { type: rows[0].type as string, key: rows[0].key as string | null }
      return found
    })
    for (const kind of ['delete', 'commit', 'rollback']) t.deepEqual(plans[kind], { type: 'range', key: 'idx_message_id' }, kind)
    t.deepEqual(plans.deleteByRowId, { type: 'range', key: 'PRIMARY' })
  } finally {
    await store.stop()
    await cleanup(store)
  }
})

test.serial('mysql store: quotes, backslashes, non-ASCII text and every byte value survive the rendered batch text', async (t) => {
  const store = await open(undefined, 'createSchema=true&writers=1')
  try {
    const awkward = `it's a \\ "topic" ; -- é 💥 ?`
    const body = Buffer.from(Array.from({ length: 256 }, (_, i) => i))
    const messages = [1, 2, 3].map(() => makeMessage({
      messageId: idInTable('e'), topic: awkward, messageType: `type '); DROP TABLE x; --`, publishGroup: 'g\\\\\'', body,
      succGroups: [`g'1`, 'g\\2'], failGroups: ['"'],
    }))
    await Promise.all(messages.map((m) => store.save(m)))
    for (const m of messages) t.deepEqual(comparable(t, await store.get(m.topic, m.messageId)), m)
    t.deepEqual(await Promise.all([...messages.map((m) => store.delete(m.topic, m.messageId)), store.delete(`it's a`, messages[0].messageId)]), [true, true, true, false])
    t.deepEqual((await store.stats()).pendingByTopic, {})
  } finally {
    await store.stop()
    await cleanup(store)
  }
})

test.serial(`mysql store: more keyed operations than one statement takes (${MAX_KEYS_PER_STATEMENT}) are split, results exact`, async (t) => {
  const store = await open(undefined, 'createSchema=true&writers=1')
  try {
    const messages = Array.from({ length: MAX_KEYS_PER_STATEMENT + 100 }, () => makeMessage({ messageId: idInTable('c') }))
    await Promise.all(messages.map((m) => store.save(m)))
    const missing = [idInTable('c'), idInTable('c')]
    const results = await Promise.all([
      ...messages.map((m) => store.delete(m.topic, m.messageId)),
      ...missing.map((id) => store.delete('trade', id)),
    ])
    t.is(results.filter((r) => r).length, messages.length)
    t.deepEqual(results.slice(messages.length), [false, false])
    t.is((await store.stats()).pendingByTopic.trade ?? 0, 0)
  } finally {
    await store.stop()
    await cleanup(store)
  }
})

/**
 * Keeps the store's only writer busy: an admin transaction locks `m`'s row, and the store's commit of
 * it waits for that lock inside a batch. Resolves once that batch is being written; `unlock` lets it finish.
 */
async function busyWriter(store: MysqlStore, m: StoredMessage): Promise<{ unlock: () => Promise<void>; committed: Promise<boolean> }> {
  const conn = await mysqlAdminConnection()
  const table = store.layout.messageTableFor(m.messageId).qualified
  await conn.query('SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED')
  await conn.query('START TRANSACTION')
  await conn.query(`SELECT message_id FROM ${table} WHERE message_id = ? AND topic = ? FOR UPDATE`, [m.messageId, m.topic])
  const committed = store.commit(m.topic, m.messageId)
  // the batch is flushed on the next turn (setImmediate), and is being written from then on
  await new Promise((resolve) => setImmediate(resolve))
  let unlocked: Promise<void> | undefined
  const unlock = () => (unlocked ??= conn.query('COMMIT').then(() => conn.end()))
  return { committed, unlock }
}

// deleteDelayMs=60000: a held delete written before the test times out was released by a rule, not by its timer
test.serial('mysql store: deletes held while the writer is busy; anything later of a held key runs after them', async (t) => {
  const { logger, lines } = debugRecorder()
  const store = await open(undefined, 'createSchema=true&writers=1&deleteDelayMs=60000', 'test-broker:1', logger)
  try {
    const [a, b, c] = [1, 2, 3].map(() => makeMessage({ messageId: idInTable('4') }))
    const blocker = makeMessage({ commit: false })
    await Promise.all([a, b, c, blocker].map((m) => store.save(m)))
    t.true(await store.delete(c.topic, c.messageId), 'an idle writer holds nothing: this would wait a minute otherwise')

    const { unlock, committed } = await busyWriter(store, blocker)
    const deleted = [store.delete(a.topic, a.messageId), store.delete(b.topic, b.messageId), store.delete('trade', idInTable('4'))]
    // b's delete is held: its reschedule must release it first and then find b gone
    const rescheduled = store.reschedule(b.topic, b.messageId, 5)
    await unlock()
    t.true(await committed)
    t.false(await rescheduled)
    t.deepEqual(await Promise.all(deleted), [true, true, false])
    t.true(lines.some((l) => AMBIGUOUS.test(l)), 'the three held deletes shared one statement')
    for (const m of [a, b, c]) t.is(await store.get(m.topic, m.messageId), undefined)
  } finally {
    await store.stop()
    await cleanup(store)
  }
})

test.serial('mysql store: stop() writes deletes still held', async (t) => {
  const store = await open(undefined, 'createSchema=true&writers=1&deleteDelayMs=60000')
  try {
    const messages = Array.from({ length: 3 }, () => makeMessage())
    const blocker = makeMessage({ commit: false })
    await Promise.all([...messages, blocker].map((m) => store.save(m)))
    const { unlock, committed } = await busyWriter(store, blocker)
    const deleted = messages.map((m) => store.delete(m.topic, m.messageId))
    const stopped = store.stop()
    await unlock()
    await stopped
    t.true(await committed)
    t.deepEqual(await Promise.all(deleted), [true, true, true])
    const reopened = await open(databasesOf.get(store), 'createSchema=false')
    try {
      t.deepEqual((await reopened.stats()).pendingByTopic, { trade: 1 })
    } finally {
      await reopened.stop()
    }
  } finally {
    await store.stop()
    await cleanup(store)
  }
})

async function autoIncrementOf(table: string): Promise<number> {
  const [schema, name] = table.replaceAll('`', '').split('.')
  return withMysqlAdmin(async (conn) => {
    const [rows] = await conn.query<RowDataPacket[]>('SELECT AUTO_INCREMENT AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', [schema, name])
    return Number(rows[0].n)
  })
}

test.serial('mysql store: a message deleted while its INSERT waits behind a busy writer is never written, and its save resolves', async (t) => {
  const store = await open(undefined, 'createSchema=true&writers=1&insertHoldMs=0')
  try {
    const blocker = makeMessage({ commit: false, messageId: idInTable('1') })
    await store.save(blocker)
    const [gone, kept] = [idInTable('5'), idInTable('6')].map((messageId) => makeMessage({ messageId }))
    const table = store.layout.messageTableFor(gone.messageId).qualified
    const idsBefore = await autoIncrementOf(table)
    const { unlock, committed } = await busyWriter(store, blocker)
    // should the delete wait for the writer after all, the test fails instead of waiting for ever
    const fallback = setTimeout(() => void unlock(), 2000)
    const goneSaved = store.save(gone)
    let keptWritten = false
    const keptSaved = store.save(kept).then(() => { keptWritten = true })
    t.true(await store.delete(gone.topic, gone.messageId))
    await goneSaved
    t.false(keptWritten, 'the save resolved while its batch is still waiting for the writer')
    t.is(store.withdrawnInserts, 1)
    clearTimeout(fallback)
    await unlock()
    t.true(await committed)
    await keptSaved
    t.is(await store.get(gone.topic, gone.messageId), undefined)
    t.truthy(await store.get(kept.topic, kept.messageId), 'the rest of its batch is written')
    t.is(await autoIncrementOf(table), idsBefore, 'no INSERT reached its table, not even one rolled back')
  } finally {
    await store.stop()
    await cleanup(store)
  }
})

test.serial('mysql store: an INSERT with a later write of its key queued, or already sent, is not withdrawn: the delete is written', async (t) => {
  const store = await open(undefined, 'createSchema=true&writers=1&insertHoldMs=0')
  try {
    const blocker = makeMessage({ commit: false })
    await store.save(blocker)
    const [updated, sent] = [makeMessage(), makeMessage()]
    const sentSaved = store.save(sent)
    // sent's batch goes out on the next turn; the writer then blocks on the one after
    await new Promise((resolve) => setImmediate(resolve))
    const { unlock, committed } = await busyWriter(store, blocker)
    const updatedSaved = store.save(updated)
    const update = store.updateDelivery(updated.topic, updated.messageId, { deliverCount: 1, nextDeliverAtMs: 9, succGroups: ['g'], failGroups: [], txCheckCount: 0 })
    const deletes = [store.delete(updated.topic, updated.messageId), store.delete(sent.topic, sent.messageId)]
    await unlock()
    t.true(await committed)
    await Promise.all([sentSaved, updatedSaved, update])
    t.deepEqual(await Promise.all(deletes), [true, true])
    t.is(store.withdrawnInserts, 0)
    for (const m of [updated, sent]) t.is(await store.get(m.topic, m.messageId), undefined)
  } finally {
    await store.stop()
    await cleanup(store)
  }
})

test.serial('mysql store: the INSERT of a message due on arrival is held insertHoldMs; deleted meanwhile it is never written, else written then', async (t) => {
  const holdMs = 300
  // one writer: its batches commit in the order they were queued
  const store = await open(undefined, `createSchema=true&writers=1&insertHoldMs=${holdMs}`)
  try {
    const now = Date.now()
    const [gone, kept] = [idInTable('7'), idInTable('8')].map((messageId) => makeMessage({ messageId, createdAtMs: now, nextDeliverAtMs: now }))
    // every message in a table of its own: the withdrawn one's table must see no INSERT at all
    const delayed = makeMessage({ messageId: idInTable('9'), createdAtMs: now, nextDeliverAtMs: now + 60_000 })
    const table = store.layout.messageTableFor(gone.messageId).qualified
    const idsBefore = await autoIncrementOf(table)
    const started = performance.now()
    const settled: string[] = []
    const goneSaved = store.save(gone)
    const keptSaved = store.save(kept).then(() => { settled.push('kept'); return performance.now() - started })
    const delayedSaved = store.save(delayed).then(() => settled.push('delayed'))
    t.true(await store.delete(gone.topic, gone.messageId))
    await goneSaved
    t.is(store.withdrawnInserts, 1)
    t.true(await keptSaved >= holdMs - 1, 'held for insertHoldMs, then written')
    await delayedSaved
    t.deepEqual(settled, ['delayed', 'kept'], 'a message not due on arrival is not being delivered: its INSERT went ahead, not held')
    t.truthy(await store.get(kept.topic, kept.messageId))
    t.is(await store.get(gone.topic, gone.messageId), undefined)
    t.is(await autoIncrementOf(table), idsBefore, 'no INSERT reached the table of the withdrawn one')
  } finally {
    await store.stop()
    await cleanup(store)
  }
})

test.serial('mysql store: a topic whose held INSERTs mostly outlive the hold is no longer delivered while saving, nor held', async (t) => {
  const store = await open(undefined, 'createSchema=true&writers=1&insertHoldMs=20')
  try {
    const now = Date.now()
    const due = (topic: string) => makeMessage({ topic, createdAtMs: now, nextDeliverAtMs: now })
    t.true(store.deliverWhileSaving(due('slow')))
    // nobody deletes them: each outlives the hold; more than half a window (32) over at least 100 ms decides
    let saves = 0
    while (saves < 40 && store.deliverWhileSaving(due('slow'))) {
      await store.save(due('slow'))
      saves++
    }
    t.false(store.deliverWhileSaving(due('slow')), `still holding after ${saves} saves`)
    t.true(store.deliverWhileSaving(due('fast')), 'per topic')
    // held, it would still be withdrawable after a turn; not held, its batch has gone out by then
    const next = due('slow')
    const saved = store.save(next)
    await new Promise((resolve) => setImmediate(resolve))
    t.true(await store.delete(next.topic, next.messageId))
    await saved
    t.is(store.withdrawnInserts, 0, 'written at once, not held')
  } finally {
    await store.stop()
    await cleanup(store)
  }
})

test.serial('mysql store: any other write of a key whose INSERT is held releases the INSERT first', async (t) => {
  const store = await open(undefined, 'createSchema=true&insertHoldMs=60000')
  try {
    const now = Date.now()
    const [updated, committedTx, stopped] = [1, 2, 3].map(() => makeMessage({ createdAtMs: now, nextDeliverAtMs: now }))
    const saves = [updated, committedTx, stopped].map((m) => store.save(m))
    const update = { deliverCount: 1, nextDeliverAtMs: now + 5000, succGroups: ['g'], failGroups: ['h'], txCheckCount: 0 }
    // the hold is a minute: each of these would time the test out if it waited for it, or miss its row
    await store.updateDelivery(updated.topic, updated.messageId, update)
    t.true(await store.reschedule(committedTx.topic, committedTx.messageId, now + 9000))
    await Promise.all(saves.slice(0, 2))
    t.like(await store.get(updated.topic, updated.messageId), update)
    t.like(await store.get(committedTx.topic, committedTx.messageId), { deliverAtMs: now + 9000 })
    // stop() writes what is still held
    await store.stop()
    await saves[2]
    const reopened = await open(databasesOf.get(store), 'createSchema=false')
    try {
      t.truthy(await reopened.get(stopped.topic, stopped.messageId))
    } finally {
      await reopened.stop()
    }
  } finally {
    await store.stop()
    await cleanup(store)
  }
})

test('mysql held inserts: released oldest first after the hold or beyond the most held; a topic whose inserts are seldom withdrawn is watched instead, from their commits, until holding would pay', async (t) => {
  const insert = (key: string) => ({ messageId: key, key, row: '(…)', resolve: () => {}, reject: () => {} })
  const released: string[][] = []
  const bySize = new HeldInserts(60_000, 2, (inserts) => released.push(inserts.map((h) => h.insert.key)))
  for (const key of ['a', 'b', 'c']) bySize.hold('t', 'tbl', insert(key), 5)
  t.deepEqual(released, [['a']], 'the third one is one more than it holds: the oldest goes')
  t.is(bySize.withdraw('b')?.insert.key, 'b')
  t.false(bySize.holds('b'))
  t.deepEqual(bySize.takeAll().map((h) => h.insert.key), ['c'])

  // y is held a moment after x: when that moment passes a millisecond (a loaded machine) the two are
  // released by two timer runs instead of one, so the keys are gathered until both are out
  const timedOutKeys: string[] = []
  let expired!: (keys: string[]) => void
  const timedOut = new Promise<string[]>((resolve) => { expired = resolve })
  const byTime = new HeldInserts(20, 100, (inserts) => {
    timedOutKeys.push(...inserts.map((h) => h.insert.key))
    if (timedOutKeys.length >= 2) expired(timedOutKeys)
  }, { window: 2, minMs: 0 })
  byTime.hold('slow', 'tbl', insert('x'), 5)
  byTime.hold('slow', 'tbl', insert('y'), 5)
  t.deepEqual(await timedOut, ['x', 'y'])
  t.false(byTime.paysFor('slow'), 'none of a window of two withdrawn: holding stops')
  t.true(byTime.paysFor('fast'), 'per topic')
  // not held now, but watched from their commits: one deleted within the hold, one not (found out when the next comes)
  byTime.watch('slow', 'u')
  byTime.committed('u')
  await new Promise((resolve) => setTimeout(resolve, 30))
  byTime.watch('slow', 'v')
  t.false(byTime.paysFor('slow'), 'u would not have been withdrawn; no verdict yet')
  await new Promise((resolve) => setTimeout(resolve, 30))
  byTime.committed('v')
  byTime.deleted('v')
  t.true(byTime.paysFor('slow'), 'v was deleted within the hold of its commit, however slow that was: holding resumes')
  t.is(byTime.size, 0)

  // one stall: everything held outlives the hold at once; that alone decides nothing
  let stalled!: () => void
  const afterStall = new Promise<void>((resolve) => { stalled = resolve })
  const stall = new HeldInserts(5, 100, () => stalled(), { window: 2, minMs: 60 })
  for (const key of ['s1', 's2', 's3']) stall.hold('busy', 'tbl', insert(key), 5)
  await afterStall
  t.true(stall.paysFor('busy'), 'three released together, a window\'s worth, but within minMs: no verdict')
  const withdrawnOne = (key: string) => {
    stall.hold('busy', 'tbl', insert(key), 5)
    stall.withdraw(key)
  }
  for (const key of ['s4', 's5', 's6', 's7']) withdrawnOne(key)
  await new Promise((resolve) => setTimeout(resolve, 70))
  withdrawnOne('s8')
  t.true(stall.paysFor('busy'), 'decided over minMs by all of it: five withdrawn against three')
  for (const key of ['s9', 's10', 's11']) stall.hold('busy', 'tbl', insert(key), 5)
  await eventually(() => stall.size === 0)
  await new Promise((resolve) => setTimeout(resolve, 70))
  stall.hold('busy', 'tbl', insert('s12'), 5)
  await eventually(() => !stall.paysFor('busy'), 2000, 'four released against none: holding stops')
})

for (const deliverWhileSaving of [true, false]) {
  test.serial(`mysql store, broker: deliverWhileSaving=${deliverWhileSaving} — a new message ${deliverWhileSaving ? 'is delivered, and acknowledged once the consumer has it, while' : 'waits until'} its INSERT ${deliverWhileSaving ? 'waits' : 'is written'}`, async (t) => {
    const store = await open(undefined, `createSchema=true&writers=1&deliverWhileSaving=${deliverWhileSaving}`)
    const topic = randomName('t')
    const broker = await startBroker({ topics: [topic], store })
    const group = randomName('s')
    const consumer = await startConsumer({ address: broker.address, group, bindings: [bindDirect(group, topic, 'm')] })
    const producer = await startProducer(broker.address, randomName('p'), [topic])
    try {
      const blocker = makeMessage({ commit: false })
      await store.save(blocker)
      const { unlock, committed } = await busyWriter(store, blocker)
      const fallback = setTimeout(() => void unlock(), 2000)
      let acknowledged = false
      const sent = producer.sendStringMessage({ topic, messageType: 'm', body: 'x' }).then((r) => { acknowledged = true; return r })
      if (deliverWhileSaving) {
        const { messageId } = await sent
        t.is(consumer.received.length, 1, 'the consumer had it before the producer was answered')
        t.is(consumer.received[0].messageId, messageId)
        t.is(store.withdrawnInserts, 1)
        clearTimeout(fallback)
        await unlock()
      } else {
        // the broker waits for the write: nothing moves until the writer is free
        await t.throwsAsync(consumer.waitFor(1, 300))
        t.false(acknowledged)
        clearTimeout(fallback)
        await unlock()
        await consumer.waitFor(1)
        const { messageId } = await sent
        t.is(consumer.received[0].messageId, messageId)
        await eventually(async () => (await store.get(topic, messageId)) === undefined)
        t.is(store.withdrawnInserts, 0)
      }
      t.true(await committed)
    } finally {
      await Promise.all([consumer.client.close(), producer.close(), broker.server.stop()])
      await cleanup(store)
    }
  })
}

test('mysql held operations: released after the delay, or at once when the most are held, oldest first', async (t) => {
  const sql = new MysqlStatements(new ShardLayout('kq', 4))
  const op = (id: string) => ({ messageId: id, topic: 't', resolve: () => {}, reject: () => {} })
  let releases = 0
  const bySize = new HeldOperations(60_000, 3, () => { releases++ })
  bySize.hold(sql.delete[0], 'k1', op('1'))
  bySize.hold(sql.delete[1], 'k2', op('2'))
  t.is(releases, 0)
  t.true(bySize.holds('k2'))
  bySize.hold(sql.delete[0], 'k3', op('3'))
  t.is(releases, 1, 'the third one is the most it holds')
  t.deepEqual(bySize.takeAll().map((h) => h.key), ['k1', 'k2', 'k3'])
  t.false(bySize.holds('k1'))
  t.is(bySize.size, 0)

  let timedOut!: () => void
  const released = new Promise<void>((resolve) => { timedOut = resolve })
  const byTime = new HeldOperations(5, 100, () => timedOut())
  byTime.hold(sql.delete[0], 'k', op('1'))
  await released
  t.is(byTime.takeAll().length, 1)
})

test('mysql URIs: parameters, KiteQ aliases, defaults and validation', (t) => {
  const store = openStore('mysql://10.0.0.5?db=kq&username=kite&password=s3cret&shardnum=8&batchUpdateSize=100', { bind: '0.0.0.0:13800' }) as MysqlStore
  t.is(store.kind, 'mysql')
  t.like(store.options, {
    host: '10.0.0.5', port: 3306, database: 'kq', user: 'kite', password: 's3cret', shardCount: 8, createSchema: false,
    maxConnections: 10, writers: 2, batchSize: 1000, flushMs: 0, deleteDelayMs: 25, deliverWhileSaving: true, insertHoldMs: 10, ignoredParameters: ['batchUpdateSize'],
  })
  t.is(store.kiteServer, brokerIdentity('0.0.0.0:13800'))
  t.deepEqual(store.layout.databases, ['kq_0', 'kq_1', 'kq_2', 'kq_3', 'kq_4', 'kq_5', 'kq_6', 'kq_7'])
  t.is((openStore('mysql://u:p@h:3307?kiteServer=b1', { bind: '10.1.1.1:1' }) as MysqlStore).kiteServer, 'b1')
  t.like((openStore('mysql://u:p@h:3307') as MysqlStore).options, { user: 'u', password: 'p', port: 3307, database: 'kite', shardCount: 4 })
  t.is((openStore('mysql://h?deleteDelayMs=0') as MysqlStore).options.deleteDelayMs, 0)
  t.false((openStore('mysql://h?deliverWhileSaving=false') as MysqlStore).options.deliverWhileSaving)
  for (const bad of ['mysql://h?shardnum=3', 'mysql://h?db=a-b', 'mysql://h?maxConn=0', 'mysql://h?shardNum=4', 'mysql://h?createSchema=yes', 'mysql://h?deleteDelayMs=-1', 'mysql://h?deliverWhileSaving=soon']) {
    t.throws(() => openStore(bad), { code: 'KITEQ_ERR_CONFIG' } as never, bad)
  }
  t.is(brokerIdentity('10.1.2.3:13800', 'm1'), '10.1.2.3:13800')
  t.is(brokerIdentity('0.0.0.0:13800', 'm1'), 'm1:13800')
  t.is(brokerIdentity('127.0.0.1:13801', 'm1'), 'm1:13801')
  t.is(brokerIdentity('[::]:13800', 'm1'), 'm1:13800')
})

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
    await runScript('scripts/mariadb.sh', ['restart'], 180_000)
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
