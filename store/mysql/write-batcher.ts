/**
 * Group commit for the `mysql://` store. Writes asked for during one event-loop turn (or `flushMs`)
 * become ONE round trip and ONE transaction: the new messages as one multi-row INSERT per table, then
 * every other statement in the order it was asked for. Each caller's promise settles only after
 * COMMIT returned, so a resolved save is durable (InnoDB, innodb_flush_log_at_trx_commit=1).
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
import { isConnectionBroken, isDuplicateKey, storeErrorFrom } from './connection.ts'
import { insertMessagesSql } from './sql.ts'

export interface Statement {
  sql: string
  values: unknown[]
}

export interface WriteBatcherOptions {
  batchSize: number
  batchBytes: number
  flushMs: number
  queryTimeoutMs: number
  logger: Logger
}

interface QueuedInsert {
  messageId: string
  values: unknown[]
  resolve: () => void
  reject: (err: Error) => void
}

interface QueuedStatements {
  statements: Statement[]
  /** Turns the statements' affected-row counts into the caller's result. */
  settle: (affectedRows: number[]) => unknown
  resolve: (value: unknown) => void
  reject: (err: Error) => void
}

class Batch {
  /** Per qualified table name. */
  readonly inserts = new Map<string, QueuedInsert[]>()
  readonly others: QueuedStatements[] = []
  /** Keys with a non-insert operation here: a save of one of them must not jump ahead of it. */
  readonly mutatedKeys = new Set<string>()
  count = 0
  bytes = 0

  all(): (QueuedInsert | QueuedStatements)[] {
    return [...[...this.inserts.values()].flat(), ...this.others]
  }
}

/** Runs statements as one round trip; more than one go inside a transaction. Returns affected rows per statement. */
export async function runStatements(conn: PoolConnection, statements: Statement[], timeoutMs: number): Promise<number[]> {
  if (statements.length === 1) {
    const [result] = await conn.query<ResultSetHeader>({ sql: statements[0].sql, values: statements[0].values, timeout: timeoutMs })
    return [result.affectedRows]
  }
  const sql = `START TRANSACTION;${statements.map((s) => s.sql).join(';')};COMMIT`
  const [results] = await conn.query<ResultSetHeader[]>({ sql, values: statements.flatMap((s) => s.values), timeout: timeoutMs })
  return results.slice(1, -1).map((r) => r.affectedRows)
}

export class WriteBatcher {
  readonly #pool: Pool
  readonly #options: WriteBatcherOptions
  readonly #queue: Batch[] = []
  #writing = false
  #flushArmed = false
  #idleWaiters: (() => void)[] = []

  constructor(pool: Pool, options: WriteBatcherOptions) {
    this.#pool = pool
    this.#options = options
  }

  /** Queues one message row for `table`'s next multi-row INSERT. */
  insert(table: string, key: string, messageId: string, values: unknown[], bytes: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const batch = this.#batchFor(key, true, bytes)
      let rows = batch.inserts.get(table)
      if (rows === undefined) batch.inserts.set(table, (rows = []))
      rows.push({ messageId, values, resolve, reject })
      this.#armFlush()
    })
  }

  /** Queues statements that run together, in order, inside the next group commit. */
  run<T>(key: string, statements: Statement[], settle: (affectedRows: number[]) => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const batch = this.#batchFor(key, false, statements.reduce((n, s) => n + s.sql.length + 64, 0))
      batch.mutatedKeys.add(key)
      batch.others.push({ statements, settle, resolve: resolve as (v: unknown) => void, reject })
      this.#armFlush()
    })
  }

  /** Resolves once everything queued so far is written (or failed). */
  idle(): Promise<void> {
    if (!this.#writing && this.#queue.length === 0) return Promise.resolve()
    return new Promise((resolve) => this.#idleWaiters.push(resolve))
  }

  #batchFor(key: string, isInsert: boolean, bytes: number): Batch {
    let batch = this.#queue[this.#queue.length - 1]
    const full = batch !== undefined &&
      (batch.count >= this.#options.batchSize || (batch.count > 0 && batch.bytes + bytes > this.#options.batchBytes))
    if (batch === undefined || full || (isInsert && batch.mutatedKeys.has(key))) {
      batch = new Batch()
      this.#queue.push(batch)
    }
    batch.count++
    batch.bytes += bytes
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
      await this.#write(batch)
    } finally {
      this.#writing = false
    }
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
    let broken = false
    try {
      const statements: Statement[] = []
      const insertGroups: QueuedInsert[][] = []
      for (const [table, rows] of batch.inserts) {
        statements.push({ sql: insertMessagesSql(table, rows.length), values: rows.flatMap((r) => r.values) })
        insertGroups.push(rows)
      }
      for (const op of batch.others) statements.push(...op.statements)
      let affected: number[]
      try {
        affected = await runStatements(conn, statements, this.#options.queryTimeoutMs)
      } catch (err) {
        if (isConnectionBroken(err)) {
          broken = true
          return this.#failAll(batch, storeErrorFrom(err, 'group commit'))
        }
        this.#options.logger.debug({ err: (err as Error).message, operations: batch.count }, 'mysql batch rolled back; writing its operations one by one')
        await conn.query({ sql: 'ROLLBACK', timeout: this.#options.queryTimeoutMs })
        broken = await this.#writeOneByOne(conn, batch)
        return
      }
      for (const rows of insertGroups) for (const r of rows) r.resolve()
      let i = insertGroups.length
      for (const op of batch.others) {
        op.resolve(op.settle(affected.slice(i, i + op.statements.length)))
        i += op.statements.length
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
          await runStatements(conn, [{ sql: insertMessagesSql(table, 1), values: r.values }], timeoutMs)
          r.resolve()
        } catch (err) {
          if (isConnectionBroken(err)) brokenBy = storeErrorFrom(err, 'save')
          r.reject(isDuplicateKey(err) ? new StoreError(`message ${r.messageId} is already stored`, { cause: err }) : storeErrorFrom(err, 'save'))
        }
      }
    }
    for (const op of batch.others) {
      if (brokenBy !== undefined) { op.reject(brokenBy); continue }
      try {
        op.resolve(op.settle(await runStatements(conn, op.statements, timeoutMs)))
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
