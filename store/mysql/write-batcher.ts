/**
 * Group commit for the `mysql://` store. Writes asked for during one event-loop turn (or `flushMs`)
 * become ONE transaction (store/mysql/batch.ts says what runs in which order and which keyed
 * operations share a statement). Each caller's promise settles only after COMMIT returned, so a
 * resolved write is durable (InnoDB, innodb_flush_log_at_trx_commit=1).
 *
 * Deletes wait outside the batches while the batcher is busy, to gather (store/mysql/held-operations.ts).
 * INSERTs of messages being delivered meanwhile wait a few milliseconds, so that those acknowledged
 * by then need not be written at all (held-inserts.ts, withdrawInsert).
 *
 * A batch is one round trip with its COMMIT. One with a coalesced statement over several keys is two:
 * the statements, then COMMIT once the counts show exactly which operation matched a row; when they
 * do not, ROLLBACK and the batch again with one statement per operation (in one round trip).
 *
 * One batcher writes its batches one at a time, in order: a later write can never overtake an earlier
 * one, so e.g. a commit() issued right after a save() always finds the row (the store sends every
 * write of one message through the same batcher, and runs several batchers side by side). While one
 * batch is in flight the next one fills up, which is what makes batches grow under load.
 *
 * A statement error inside a batch (a duplicate message id, a value too long) rolls the transaction
 * back and the batch is written again one operation at a time, so only the offending operation fails.
 * A broken connection fails the whole batch with a StoreError: whether its COMMIT happened is unknown,
 * so nothing is retried behind the caller's back.
 */
import type { Pool, PoolConnection, ResultSetHeader } from 'mysql2/promise'
import type { Logger } from '../../protocol/logger.ts'
import { StoreError } from '../message-store.ts'
import { Batch, affectedRows, type KeyedStatement, type RowKey, type Statement, type StatementResult } from './batch.ts'
import { isConnectionBroken, isDuplicateKey, storeErrorFrom } from './connection.ts'
import { HeldInserts, type HeldInsert } from './held-inserts.ts'
import { HeldOperations } from './held-operations.ts'
import type { RowIds } from './row-ids.ts'
import { insertMessagesSql, renderStatement } from './sql.ts'

export type { KeyedStatement, RowKey, Statement } from './batch.ts'

export interface WriteBatcherOptions {
  batchSize: number
  batchBytes: number
  flushMs: number
  /** How long an operation that may wait (a delete) is held to share a statement; 0 = none is held. */
  deleteDelayMs: number
  /** How long the INSERT of a message being delivered is held (held-inserts.ts); 0 = none is held. */
  insertHoldMs: number
  queryTimeoutMs: number
  logger: Logger
  /** Where inserted rows' ids are remembered; none when the server does not promise consecutive ids. */
  rowIds?: RowIds
}

/** SQL text a keyed operation adds to a batch, for the byte cap. */
const KEYED_BYTES = 128

/** Runs rendered statements as one round trip; more than one go inside a transaction. Returns the server's answer per statement. */
async function runStatements(conn: PoolConnection, statements: string[], timeoutMs: number): Promise<StatementResult[]> {
  if (statements.length === 1) {
    const [result] = await conn.query<ResultSetHeader>({ sql: statements[0], timeout: timeoutMs })
    return [result]
  }
  const [results] = await conn.query<ResultSetHeader[]>({ sql: `START TRANSACTION;${statements.join(';')};COMMIT`, timeout: timeoutMs })
  return results.slice(1, results.length - 1)
}

/** Runs rendered statements in a transaction left open (the caller commits or rolls back). Returns the server's answer per statement. */
async function runUncommitted(conn: PoolConnection, statements: string[], timeoutMs: number): Promise<StatementResult[]> {
  const [results] = await conn.query<ResultSetHeader[]>({ sql: `START TRANSACTION;${statements.join(';')}`, timeout: timeoutMs })
  return results.slice(1)
}

export class WriteBatcher {
  readonly #pool: Pool
  readonly #options: WriteBatcherOptions
  readonly #queue: Batch[] = []
  #writing = false
  #flushArmed = false
  #idleWaiters: (() => void)[] = []
  readonly #held: HeldOperations
  readonly #heldInserts: HeldInserts

  constructor(pool: Pool, options: WriteBatcherOptions) {
    this.#pool = pool
    this.#options = options
    this.#held = new HeldOperations(options.deleteDelayMs, options.batchSize, () => this.#releaseHeld())
    this.#heldInserts = new HeldInserts(options.insertHoldMs, options.batchSize, (inserts) => this.#queueInserts(inserts))
  }

  /**
   * Queues one message row (rendered by sql.ts messageRowSql) for `table`'s next multi-row INSERT.
   * `deliveringTopic`: its message (of that topic) is being delivered meanwhile, so its INSERT may be
   * held first (held-inserts.ts).
   */
  insert(table: string, key: string, messageId: string, row: string, deliveringTopic?: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const insert = { messageId, key, row, resolve, reject }
      // one held key at a time: whatever else comes for it goes through #batchFor, which releases it
      if (deliveringTopic !== undefined && this.#options.insertHoldMs > 0 && !this.#held.holds(key) && !this.#heldInserts.holds(key)) {
        if (this.#heldInserts.paysFor(deliveringTopic)) return this.#heldInserts.hold(deliveringTopic, table, insert, row.length)
        this.#heldInserts.watch(deliveringTopic, key)
        insert.resolve = () => {
          this.#heldInserts.committed(key)
          resolve()
        }
      }
      this.#queueInsert({ table, insert, bytes: row.length })
      this.#armFlush()
    })
  }

  /**
   * Whether the INSERTs of `topic`'s messages being delivered are likely to be withdrawn: always when
   * none is held (those still queued behind a busy writer may be), else while holding pays.
   */
  mayWithdrawInsertsOf(topic: string): boolean {
    return this.#options.insertHoldMs === 0 || this.#heldInserts.paysFor(topic)
  }

  /**
   * Takes back `key`'s insert if no batch holding it has gone to the server yet and nothing else of
   * the key is queued after it, and settles the save as done: its message was delivered and is being
   * deleted (MysqlStore.delete), so neither the row nor its delete need be written. False otherwise.
   * Every delete asks, so a watched INSERT's delete is timed here too (held-inserts.ts).
   */
  withdrawInsert(key: string): boolean {
    const held = this.#heldInserts.withdraw(key)
    if (held !== undefined) {
      held.insert.resolve()
      return true
    }
    this.#heldInserts.deleted(key)
    if (this.#held.holds(key)) return false
    const at = this.#queue.findIndex((batch) => batch.hasInsert(key))
    if (at < 0) return false
    for (let i = at; i < this.#queue.length; i++) if (this.#queue[i].mutates(key)) return false
    this.#queue[at].withdrawInsert(key)!.resolve()
    return true
  }

  /** Queues statements that run together, in order, inside the next group commit. */
  run<T>(key: string, statements: Statement[], settle: (affectedRows: number[]) => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const bytes = statements.reduce((n, s) => n + s.sql.length + 64, 0)
      this.#batchFor('statements', key, bytes).addStatements(key, { statements, settle, resolve: resolve as (v: unknown) => void, reject }, bytes)
      this.#armFlush()
    })
  }

  /**
   * Queues a keyed one-row statement; true when it matched the row. It may share one statement with
   * others of its kind; one that may wait is held while this batcher has other writes to do (at most
   * `deleteDelayMs`), to gather more of them.
   */
  runKeyed(statement: KeyedStatement, key: string, row: RowKey): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      const operation = { messageId: row.messageId, topic: row.topic, rowId: row.rowId, resolve, reject }
      const busy = this.#writing || this.#queue.length > 0
      const mayHold = statement.mayWait && busy && this.#options.deleteDelayMs > 0 && !this.#held.holds(key) && !this.#heldInserts.holds(key)
      if (mayHold) return this.#held.hold(statement, key, operation)
      this.#batchFor('keyed', key, KEYED_BYTES).addKeyed(statement, key, operation, KEYED_BYTES)
      this.#armFlush()
    })
  }

  /** Resolves once everything queued so far, held operations included, is written (or failed). */
  idle(): Promise<void> {
    if (this.#heldInserts.size > 0) this.#queueInserts(this.#heldInserts.takeAll())
    this.#releaseHeld()
    if (!this.#writing && this.#queue.length === 0) return Promise.resolve()
    return new Promise((resolve) => this.#idleWaiters.push(resolve))
  }

  /** Queues every held operation, in the order held. */
  #releaseHeld(): void {
    if (this.#held.size === 0) return
    for (const { statement, key, operation } of this.#held.takeAll()) {
      this.#batchFor('keyed', key, KEYED_BYTES).addKeyed(statement, key, operation, KEYED_BYTES)
    }
    this.#armFlush()
  }

  /** Queues released INSERTs. */
  #queueInserts(inserts: HeldInsert[]): void {
    for (const held of inserts) this.#queueInsert(held)
    this.#armFlush()
  }

  #queueInsert({ table, insert, bytes }: Pick<HeldInsert, 'table' | 'insert' | 'bytes'>): void {
    this.#batchFor('insert', insert.key, bytes).addInsert(table, insert, bytes)
  }

  #batchFor(kind: 'insert' | 'statements' | 'keyed', key: string, bytes: number): Batch {
    // whatever comes after a held operation of its key must also run after it
    const heldInsert = this.#heldInserts.take(key)
    if (heldInsert !== undefined) this.#queueInsert(heldInsert)
    if (this.#held.holds(key)) this.#releaseHeld()
    let batch = this.#queue[this.#queue.length - 1]
    const full = batch !== undefined &&
      (batch.count >= this.#options.batchSize || (batch.count > 0 && batch.bytes + bytes > this.#options.batchBytes))
    if (batch === undefined || full || !batch.accepts(kind, key)) {
      batch = new Batch()
      this.#queue.push(batch)
    }
    return batch
  }

  #armFlush(): void {
    if (this.#writing || this.#flushArmed) return
    this.#flushArmed = true
    const flush = () => {
      this.#flushArmed = false
      void this.#writeNext()
    }
    if (this.#options.flushMs > 0) setTimeout(flush, this.#options.flushMs)
    else setImmediate(flush)
  }

  async #writeNext(): Promise<void> {
    const batch = this.#queue.shift()
    if (batch === undefined) return this.#notifyIdle()
    this.#writing = true
    try {
      // its inserts may all have been withdrawn
      if (batch.count > 0) await this.#write(batch)
    } finally {
      this.#writing = false
    }
    // with nothing else to write, whatever is held would only wait (and perhaps be waited for)
    if (this.#queue.length === 0) this.#releaseHeld()
    // the next batch waits one turn, so callers just resumed by this one can still join it
    if (this.#queue.length > 0) this.#armFlush()
    else this.#notifyIdle()
  }

  #notifyIdle(): void {
    const waiters = this.#idleWaiters
    this.#idleWaiters = []
    for (const w of waiters) w()
  }

  async #write(batch: Batch): Promise<void> {
    let conn: PoolConnection
    try {
      conn = await this.#pool.getConnection()
    } catch (err) {
      return this.#failAll(batch, storeErrorFrom(err, 'connect'))
    }
    const { queryTimeoutMs: timeout, rowIds } = this.#options
    let broken = false
    try {
      try {
        const plan = batch.plan(true, insertMessagesSql)
        if (!plan.needsCheck) return plan.settle(await runStatements(conn, plan.statements, timeout), rowIds)
        const results = await runUncommitted(conn, plan.statements, timeout)
        if (plan.exact(results)) {
          await conn.query({ sql: 'COMMIT', timeout })
          return plan.settle(results, rowIds)
        }
        this.#options.logger.debug({ operations: batch.count }, 'mysql coalesced statement matched fewer rows than keys; writing the batch with one statement per operation')
        await conn.query({ sql: 'ROLLBACK', timeout })
        const exact = batch.plan(false, insertMessagesSql)
        exact.settle(await runStatements(conn, exact.statements, timeout), rowIds)
      } catch (err) {
        if (isConnectionBroken(err)) {
          broken = true
          return this.#failAll(batch, storeErrorFrom(err, 'group commit'))
        }
        this.#options.logger.debug({ err: (err as Error).message, operations: batch.count }, 'mysql batch rolled back; writing its operations one by one')
        await conn.query({ sql: 'ROLLBACK', timeout })
        broken = await this.#writeOneByOne(conn, batch)
      }
    } catch (err) {
      // ROLLBACK itself failed: the connection is unusable, and whoever is still waiting fails
      broken = true
      this.#failAll(batch, storeErrorFrom(err, 'group commit'))
    } finally {
      if (broken) conn.destroy()
      else conn.release()
    }
  }

  /** Each operation in its own transaction; returns whether the connection broke on the way. */
  async #writeOneByOne(conn: PoolConnection, batch: Batch): Promise<boolean> {
    const timeoutMs = this.#options.queryTimeoutMs
    let brokenBy: StoreError | undefined
    for (const [table, rows] of batch.inserts) {
      for (const r of rows) {
        if (brokenBy !== undefined) { r.reject(brokenBy); continue }
        try {
          const [inserted] = await runStatements(conn, [insertMessagesSql(table, [r.row])], timeoutMs)
          this.#options.rowIds?.rememberInserted([r.key], inserted.insertId)
          r.resolve()
        } catch (err) {
          if (isConnectionBroken(err)) brokenBy = storeErrorFrom(err, 'save')
          r.reject(isDuplicateKey(err) ? new StoreError(`message ${r.messageId} is already stored`, { cause: err }) : storeErrorFrom(err, 'save'))
        }
      }
    }
    const operations = [
      ...batch.others.map((op) => ({ statements: op.statements.map(renderStatement), settle: op.settle, resolve: op.resolve, reject: op.reject })),
      ...[...batch.keyed.values()].flatMap(({ statement, operations }) => operations.map((op) => ({
        statements: [statement.one(op)],
        settle: (affected: number[]) => affected[0] > 0,
        resolve: op.resolve as (value: unknown) => void,
        reject: op.reject,
      }))),
    ]
    for (const op of operations) {
      if (brokenBy !== undefined) { op.reject(brokenBy); continue }
      try {
        op.resolve(op.settle(affectedRows(await runStatements(conn, op.statements, timeoutMs))))
      } catch (err) {
        if (isConnectionBroken(err)) brokenBy = storeErrorFrom(err, 'write')
        else if (op.statements.length > 1) await conn.query({ sql: 'ROLLBACK', timeout: this.#options.queryTimeoutMs })
        op.reject(storeErrorFrom(err, 'write'))
      }
    }
    return brokenBy !== undefined
  }

  #failAll(batch: Batch, err: StoreError): void {
    this.#options.logger.warn({ err: err.message, operations: batch.count }, 'mysql group commit failed')
    for (const op of batch.all()) op.reject(err)
  }
}
