/**
 * `mysql://` — messages in MySQL/MariaDB (InnoDB), in KiteQ's sharded layout (store/mysql/sharding.ts,
 * schema.ts; URI and defaults in store/mysql/options.ts).
 *
 * Writes are group-committed (store/mysql/write-batcher.ts): a save resolves once the transaction
 * holding its INSERT has committed, which with InnoDB's default innodb_flush_log_at_trx_commit=1 means
 * it is on disk (start() warns when the server is configured otherwise). `writers` batchers commit side
 * by side, each owning the hash digits d with d % writers = its number, so the writes of one message
 * stay in order. Deletes, commits and rollbacks of one table in a batch share one statement
 * (store/mysql/batch.ts), and deletes gather for a few milliseconds while a batcher is busy
 * (held-operations.ts); every result stays exact. Rows this store saved are deleted by primary
 * key (row-ids.ts). Sessions run READ COMMITTED: under REPEATABLE READ a delete of a missing row
 * takes a gap lock, and two batches inserting into each other's gaps deadlock. Reads go straight to
 * the pool as prepared statements.
 *
 * Ownership: every row carries the `kite_server` of the broker that saved it (options.ts explains the
 * identity). The time index (dueBetween) and the pending counts of stats() only see this broker's
 * rows, so brokers sharing one database each schedule their own messages, as in KiteQ. Lookups by key
 * or id, dead letters (and their count in stats()) and client bindings are shared; stat snapshots are
 * per broker. A re-driven dead letter becomes the re-driving broker's.
 *
 * When MySQL goes away every operation fails with a retriable StoreError (after at most
 * queryTimeoutMs); broken connections are dropped and the pool dials fresh ones, so the store works
 * again as soon as MySQL is back, without a restart.
 */
import mysql, { type Pool, type RowDataPacket } from 'mysql2/promise'
import { decodeHeader, encodeHeader } from '../protocol/header.ts'
import { silentLogger, type Logger } from '../protocol/logger.ts'
import {
  StoreError, dueOnArrival, messageKey, type DeadLetter, type DeadLetterQuery, type DeliveryUpdate, type DueEntry, type MessageStore,
  type StatSnapshot, type StoreStats, type StoredBindings, type StoredMessage,
} from './message-store.ts'
import { isDuplicateKey, storeErrorFrom, withConnection } from './mysql/connection.ts'
import type { MysqlStoreOptions } from './mysql/options.ts'
import { RowIds } from './mysql/row-ids.ts'
import { createSchema, verifySchema } from './mysql/schema.ts'
import { hashDigit, ShardLayout } from './mysql/sharding.ts'
import { MysqlStatements, clampMs, escapeSql, messageFromRow, messageRowSql, passRenderedSql, type MessageRow } from './mysql/sql.ts'
import { WriteBatcher, type KeyedStatement, type Statement } from './mysql/write-batcher.ts'

export { brokerIdentity, mysqlOptionsFromUrl, mysqlStoreDefaults, type MysqlStoreOptions } from './mysql/options.ts'

export interface MysqlStoreConfig extends MysqlStoreOptions {
  logger?: Logger
}

/** Prepared statements cached per connection: maxConn × this must stay far below max_prepared_stmt_count. */
const MAX_PREPARED_STATEMENTS = 64
/** Row ids remembered at most (row-ids.ts): far above the messages in flight at c=1000, ~12 MB. */
const ROW_IDS_REMEMBERED = 100_000
/** A redriven dead letter gets at least this long to live again (the memory store's rule). */
const REDRIVE_MIN_TTL_SECONDS = 7 * 86400


type DeadRow = MessageRow & { dead_reason: string | null; dead_at_ms: number | null }

export class MysqlStore implements MessageStore {
  readonly kind = 'mysql'
  readonly layout: ShardLayout
  readonly options: Readonly<MysqlStoreOptions>
  readonly #logger: Logger
  readonly #sql: MysqlStatements
  /** `kite_server` as SQL text, for every saved row. */
  readonly #kiteServerSql: string
  #pool: Pool | undefined
  /** Indexed by hash digit % writers: one message's writes always queue behind each other. */
  #writers: WriteBatcher[] = []
  /** Ids of the rows saved by this store, for deletes by primary key; undefined when the server does not make them predictable. */
  #rowIds: RowIds | undefined
  #stopping = false
  #withdrawnInserts = 0

  constructor(config: MysqlStoreConfig) {
    const { logger, ...options } = config
    this.options = options
    this.#logger = (logger ?? silentLogger).child({ store: 'mysql' })
    this.layout = new ShardLayout(options.database, options.shardCount)
    this.#sql = new MysqlStatements(this.layout)
    this.#kiteServerSql = escapeSql(options.kiteServer)
  }

  /**
   * See MessageStore.deliverWhileSaving: a save has rendered its row before it returns. Only while its
   * INSERT may be withdrawn: a message delivered first and acknowledged only after its commit gains
   * nothing, and costs the broker and its clients a wake-up more (the delivery and the producer's
   * ack no longer leave together): bench/pubsub slow30 −10 to −15 % before this rule.
   */
  deliverWhileSaving(message: StoredMessage): boolean {
    return this.options.deliverWhileSaving && this.#writerFor(message.messageId).mayWithdrawInsertsOf(message.topic)
  }

  /** Messages deleted before their INSERT went out, so never written. */
  get withdrawnInserts(): number {
    return this.#withdrawnInserts
  }

  get kiteServer(): string {
    return this.options.kiteServer
  }

  async start(): Promise<void> {
    if (this.#pool !== undefined) return
    const o = this.options
    // multipleStatements: a group commit is one round trip. Only our own SQL is ever joined; values
    // are always escaped by the driver (sql.ts renders batches with its escape and format, and
    // queryFormat passes that text on without a second scan). The utf8mb4_bin connection collation
    // makes literals compare byte for byte, like the columns. mysql2 sets CLIENT_FOUND_ROWS by
    // default: an UPDATE counts the rows it matched (reschedule of an unchanged time still counts).
    const pool = mysql.createPool({
      host: o.host, port: o.port, user: o.user, password: o.password,
      connectionLimit: o.maxConnections, maxIdle: o.maxConnections, idleTimeout: 60_000, queueLimit: 0,
      connectTimeout: o.connectTimeoutMs, enableKeepAlive: true, multipleStatements: true, queryFormat: passRenderedSql,
      maxPreparedStatements: MAX_PREPARED_STATEMENTS, charset: 'utf8mb4_bin', supportBigNumbers: false, trace: false,
    })
    pool.pool.on('connection', (conn) => {
      conn.query('SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED', (err) => {
        // the connection's next statement fails the same way and is reported there
        if (err) this.#logger.warn({ err: err.message }, 'mysql session setup failed')
      })
    })
    try {
      if (o.createSchema) await createSchema(pool, this.layout)
      await verifySchema(pool, this.layout)
      await this.#checkDurability(pool)
      this.#rowIds = await this.#rowIdsOf(pool)
    } catch (err) {
      await pool.end().catch(() => {})
      throw storeErrorFrom(err, 'start')
    }
    this.#pool = pool
    const batching = {
      batchSize: o.batchSize, batchBytes: o.batchBytes, flushMs: o.flushMs, deleteDelayMs: o.deleteDelayMs,
      insertHoldMs: o.deliverWhileSaving ? o.insertHoldMs : 0, queryTimeoutMs: o.queryTimeoutMs, logger: this.#logger,
      rowIds: this.#rowIds,
    }
    this.#writers = Array.from({ length: o.writers }, () => new WriteBatcher(pool, batching))
    this.#stopping = false
    if (o.ignoredParameters.length > 0) {
      this.#logger.warn({ parameters: o.ignoredParameters }, 'KiteQ -db parameters ignored: every write is group-committed per event-loop turn')
    }
    this.#logger.info({ host: `${o.host}:${o.port}`, databases: this.layout.databases, kiteServer: o.kiteServer }, 'mysql store started')
  }

  async stop(): Promise<void> {
    const pool = this.#pool
    if (pool === undefined || this.#stopping) return
    this.#stopping = true
    await Promise.all(this.#writers.map((w) => w.idle()))
    this.#pool = undefined
    this.#writers = []
    await pool.end().catch((err: Error) => this.#logger.warn({ err: err.message }, 'mysql pool did not close cleanly'))
    this.#stopping = false
  }

  // ---------------------------------------------------------------------------------- writes

  async save(message: StoredMessage): Promise<void> {
    const writer = this.#writerFor(message.messageId)
    const table = this.layout.messageTableFor(message.messageId)
    const key = messageKey(message.topic, message.messageId)
    const row = messageRowSql(message, this.#kiteServerSql)
    return writer.insert(table.qualified, key, message.messageId, row, dueOnArrival(message) ? message.topic : undefined)
  }

  commit(topic: string, messageId: string): Promise<boolean> {
    return this.#keyed(topic, messageId, this.#sql.commit)
  }

  rollback(topic: string, messageId: string): Promise<boolean> {
    this.#rowIds?.forget(messageKey(topic, messageId))
    return this.#keyed(topic, messageId, this.#sql.rollback)
  }

  async updateDelivery(topic: string, messageId: string, u: DeliveryUpdate): Promise<void> {
    const values = [u.deliverCount, clampMs(u.nextDeliverAtMs), JSON.stringify(u.succGroups), JSON.stringify(u.failGroups), u.txCheckCount]
    await this.#changeOne(topic, messageId, this.#sql.updateDelivery, values)
  }

  reschedule(topic: string, messageId: string, deliverAtMs: number): Promise<boolean> {
    return this.#changeOne(topic, messageId, this.#sql.reschedule, [deliverAtMs, clampMs(deliverAtMs)])
  }

  delete(topic: string, messageId: string): Promise<boolean> {
    const key = messageKey(topic, messageId)
    // delivered while its INSERT was still queued (deliverWhileSaving): neither is written
    if (this.#writerFor(messageId).withdrawInsert(key)) {
      this.#withdrawnInserts++
      return Promise.resolve(true)
    }
    return this.#keyed(topic, messageId, this.#sql.delete, true, key)
  }

  async moveToDeadLetter(topic: string, messageId: string, reason: string, atMs: number): Promise<boolean> {
    const [clearOld, copy, remove] = this.#sql.moveToDeadLetter[hashDigit(messageId)]
    const key = [messageId, topic]
    this.#rowIds?.forget(messageKey(topic, messageId))
    return this.#writerFor(messageId).run(
      messageKey(topic, messageId),
      [{ sql: clearOld, values: [...key, ...key] }, { sql: copy, values: [reason, atMs, ...key] }, { sql: remove, values: key }],
      (affected) => affected[1] > 0,
    )
  }

  async redriveDeadLetter(topic: string, messageId: string, atMs: number): Promise<boolean> {
    const d = hashDigit(messageId)
    const [row] = await this.#execute<MessageRow>('redrive', this.#sql.selectDeadLetter[d], [messageId, topic])
    if (row === undefined) return false
    const expiredTime = Math.max(row.expired_time, Math.floor(atMs / 1000) + REDRIVE_MIN_TTL_SECONDS)
    const header = encodeHeader({ ...decodeHeader(row.header, 0, row.header.length), expiredTime })
    const [copyBack, remove] = this.#sql.redrive[d]
    return this.#writerFor(messageId).run(
      messageKey(topic, messageId),
      [
        { sql: copyBack, values: [header, expiredTime, this.options.kiteServer, clampMs(atMs), messageId, topic] },
        { sql: remove, values: [messageId, topic] },
      ],
      (affected) => affected[0] > 0,
    ).catch((err: unknown) => {
      // the key is live again (saved anew after it died): the live message stays, so does the dead letter
      if (err instanceof StoreError && isDuplicateKey(err.cause)) return false
      throw err
    })
  }

  /**
   * A key-only statement through the group commit (coalesced with its kind's others on the table);
   * true when it matched a row. `byRowId`: the statement deletes the row and may find it by its
   * remembered id (row-ids.ts), which is forgotten with it.
   */
  #keyed(topic: string, messageId: string, statements: KeyedStatement[], byRowId = false, key = messageKey(topic, messageId)): Promise<boolean> {
    const rowId = byRowId ? this.#rowIds?.take(key) : undefined
    return this.#writerFor(messageId).runKeyed(statements[hashDigit(messageId)], key, { messageId, topic, rowId })
  }

  /** One keyed statement with values through the group commit; true when it matched a row. */
  async #changeOne(topic: string, messageId: string, statements: string[], values: unknown[]): Promise<boolean> {
    const statement: Statement = { sql: statements[hashDigit(messageId)], values: [...values, messageId, topic] }
    return this.#writerFor(messageId).run(messageKey(topic, messageId), [statement], (affected) => affected[0] > 0)
  }

  // ----------------------------------------------------------------------------------- reads

  async get(topic: string, messageId: string): Promise<StoredMessage | undefined> {
    const [row] = await this.#execute<MessageRow>('get', this.#sql.select[hashDigit(messageId)], [messageId, topic])
    return row === undefined ? undefined : messageFromRow(row)
  }

  async findById(messageId: string): Promise<{ message: StoredMessage; deadLetter?: { reason: string; deadAtMs: number } } | undefined> {
    const rows = await this.#execute<DeadRow>('findById', this.#sql.findById[hashDigit(messageId)], [messageId, messageId])
    const row = rows.find((r) => r.dead_reason === null) ?? rows[0]
    if (row === undefined) return undefined
    const message = messageFromRow(row)
    return row.dead_reason === null ? { message } : { message, deadLetter: { reason: row.dead_reason, deadAtMs: row.dead_at_ms! } }
  }

  async dueBetween(fromMs: number, toMs: number, limit: number, after?: DueEntry, topic?: string): Promise<DueEntry[]> {
    const from = clampMs(fromMs)
    const to = clampMs(toMs)
    if (limit <= 0 || from >= to) return []
    // without a cursor, (from, '') lets every id at `from` through
    const cursor = after === undefined ? [from, ''] : [clampMs(after.nextDeliverAtMs), after.messageId]
    const perTable = [this.options.kiteServer, from, to, ...cursor, ...(topic === undefined ? [] : [topic]), limit]
    const values: unknown[] = []
    for (let i = 0; i < this.layout.messageTables.length; i++) values.push(...perTable)
    values.push(limit)
    const sql = topic === undefined ? this.#sql.dueBetween : this.#sql.dueOfTopic
    const rows = await this.#execute<{ topic: string; message_id: string; next_deliver_time: number }>('dueBetween', sql, values)
    return rows.map((r) => ({ topic: r.topic, messageId: r.message_id, nextDeliverAtMs: r.next_deliver_time }))
  }

  async listDeadLetters(query: DeadLetterQuery = {}): Promise<DeadLetter[]> {
    const limit = query.limit ?? 100
    if (limit <= 0) return []
    let cursor: unknown[] = [Number.MIN_SAFE_INTEGER, '']
    if (query.afterMessageId !== undefined) {
      const shard = this.layout.shardOfDigit(hashDigit(query.afterMessageId))
      const [at] = await this.#execute<{ dead_at_ms: number }>('listDeadLetters', this.#sql.deadAtOf[shard], [query.afterMessageId])
      // an unknown cursor lists nothing, as the memory store does
      if (at === undefined) return []
      cursor = [at.dead_at_ms, query.afterMessageId]
    }
    const topic = query.topic ?? null
    const values: unknown[] = []
    for (let i = 0; i < this.layout.shardCount; i++) values.push(topic, topic, ...cursor, limit)
    values.push(limit)
    const rows = await this.#execute<DeadRow>('listDeadLetters', this.#sql.listDeadLetters, values)
    return rows.map((r) => ({ message: messageFromRow(r), reason: r.dead_reason!, deadAtMs: r.dead_at_ms! }))
  }

  async stats(): Promise<StoreStats> {
    const [rows, dead] = await Promise.all([
      this.#execute<{ topic: string; pending: number; uncommitted: string | number }>(
        'stats', this.#sql.pendingByTopic, this.layout.messageTables.map(() => this.options.kiteServer),
      ),
      this.#execute<{ n: string | number | null }>('stats', this.#sql.deadLetterCount, []),
    ])
    const pendingByTopic: Record<string, number> = {}
    let uncommitted = 0
    for (const r of rows) {
      pendingByTopic[r.topic] = (pendingByTopic[r.topic] ?? 0) + Number(r.pending)
      uncommitted += Number(r.uncommitted)
    }
    return { pendingByTopic, uncommitted, deadLetters: Number(dead[0]?.n ?? 0) }
  }

  // ------------------------------------------------------------------ snapshots and bindings

  async saveSnapshot(snapshot: StatSnapshot): Promise<void> {
    await this.#execute('saveSnapshot', this.#sql.insertSnapshot, [this.options.kiteServer, snapshot.atMs, JSON.stringify(snapshot.data)])
  }

  async listSnapshots(sinceMs: number): Promise<StatSnapshot[]> {
    const rows = await this.#execute<{ at_ms: number; data: string }>('listSnapshots', this.#sql.listSnapshots, [this.options.kiteServer, clampMs(sinceMs)])
    return rows.map((r) => ({ atMs: r.at_ms, data: JSON.parse(r.data) as Record<string, unknown> }))
  }

  async pruneSnapshots(beforeMs: number): Promise<void> {
    await this.#execute('pruneSnapshots', this.#sql.pruneSnapshots, [this.options.kiteServer, clampMs(beforeMs)])
  }

  async saveBindings(bindings: StoredBindings): Promise<void> {
    if (bindings.json.trim() === '[]') await this.#execute('saveBindings', this.#sql.deleteBindings, [bindings.topic, bindings.groupId])
    else await this.#execute('saveBindings', this.#sql.replaceBindings, [bindings.topic, bindings.groupId, bindings.json])
  }

  async loadBindings(): Promise<StoredBindings[]> {
    const rows = await this.#execute<{ topic: string; group_id: string; json: string }>('loadBindings', this.#sql.loadBindings, [])
    return rows.map((r) => ({ topic: r.topic, groupId: r.group_id, json: r.json }))
  }

  // -------------------------------------------------------------------------------- plumbing

  /** One prepared statement outside the group commit: reads, and the rare writes no message operation depends on. */
  async #execute<T>(doing: string, sql: string, values: unknown[]): Promise<T[]> {
    const pool = this.#requirePool()
    return withConnection(pool, doing, async (conn) => {
      const [rows] = await conn.execute<RowDataPacket[]>({ sql, values, timeout: this.options.queryTimeoutMs })
      return rows as unknown as T[]
    })
  }

  #requirePool(): Pool {
    if (this.#pool === undefined) throw new StoreError('mysql store is not started')
    return this.#pool
  }

  #writerFor(messageId: string): WriteBatcher {
    if (this.#writers.length === 0 || this.#stopping) throw new StoreError(this.#stopping ? 'mysql store is stopping' : 'mysql store is not started')
    return this.#writers[hashDigit(messageId) % this.#writers.length]
  }

  /**
   * Row ids to remember when the server gives the rows of one INSERT consecutive ids
   * (innodb_autoinc_lock_mode 0 or 1); with 2 they would often be wrong and every delete by id would
   * be written twice (row-ids.ts).
   */
  async #rowIdsOf(pool: Pool): Promise<RowIds | undefined> {
    const [rows] = await pool.query<RowDataPacket[]>('SELECT @@innodb_autoinc_lock_mode AS mode, @@auto_increment_increment AS increment')
    const { mode, increment } = rows[0] as { mode: number; increment: number }
    if (Number(mode) > 1) {
      this.#logger.info({ innodb_autoinc_lock_mode: mode }, 'deletes go by message key: row ids of a multi-row INSERT are not consecutive in this lock mode')
      return undefined
    }
    return new RowIds(Number(increment), ROW_IDS_REMEMBERED)
  }

  async #checkDurability(pool: Pool): Promise<void> {
    const [rows] = await pool.query<RowDataPacket[]>('SELECT @@innodb_flush_log_at_trx_commit AS flush, @@max_allowed_packet AS packet')
    const { flush, packet } = rows[0] as { flush: number; packet: number }
    if (Number(flush) !== 1) {
      this.#logger.warn({ innodb_flush_log_at_trx_commit: flush }, 'acknowledged saves may be lost on a MySQL crash: innodb_flush_log_at_trx_commit is not 1')
    }
    if (Number(packet) < this.options.batchBytes) {
      this.#logger.warn({ max_allowed_packet: packet, batchBytes: this.options.batchBytes }, 'max_allowed_packet is below batchBytes: large batches will fail')
    }
  }
}
