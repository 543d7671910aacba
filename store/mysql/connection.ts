/**
 * Borrowing pool connections safely, and turning mysql2 errors into StoreErrors.
 *
 * A connection that failed at the transport level, or whose query timed out, is destroyed rather than
 * returned: after a timeout the server may still answer the abandoned query, and that late answer
 * would be read as the reply to the next one. The pool opens fresh connections on demand, which is
 * how the store recovers by itself once MySQL is back.
 */
import type { Pool, PoolConnection } from 'mysql2/promise'
import { StoreError } from '../message-store.ts'

interface MysqlDriverError {
  code?: string
  errno?: number
  fatal?: boolean
  message?: string
}

export const ER_DUP_ENTRY = 1062

export function isDuplicateKey(err: unknown): boolean {
  return (err as MysqlDriverError).errno === ER_DUP_ENTRY
}

/** The connection cannot be trusted for another statement. */
export function isConnectionBroken(err: unknown): boolean {
  const e = err as MysqlDriverError
  return e.fatal === true || e.code === 'PROTOCOL_SEQUENCE_TIMEOUT' || e.code === 'ECONNRESET' || e.code === 'EPIPE'
}

export function storeErrorFrom(err: unknown, doing: string): StoreError {
  if (err instanceof StoreError) return err
  const e = err as MysqlDriverError
  const code = e.code === undefined ? '' : ` (${e.code})`
  return new StoreError(`mysql ${doing} failed: ${e.message ?? String(err)}${code}`, { cause: err })
}

/** Runs `work` on one borrowed connection; errors become StoreErrors and broken connections are dropped. */
export async function withConnection<T>(pool: Pool, doing: string, work: (conn: PoolConnection) => Promise<T>): Promise<T> {
  let conn: PoolConnection
  try {
    conn = await pool.getConnection()
  } catch (err) {
    throw storeErrorFrom(err, doing)
  }
  try {
    const result = await work(conn)
    conn.release()
    return result
  } catch (err) {
    if (isConnectionBroken(err)) conn.destroy()
    else conn.release()
    throw storeErrorFrom(err, doing)
  }
}
