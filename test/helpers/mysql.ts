/**
 * The real MariaDB of scripts/services.sh (KITEQ_TEST_MYSQL) for tests: its address, an admin
 * connection, and dropping the shard databases a test created. The server's data directory lives
 * across runs, so every test drops what it made: hundreds of leftover databases slowed it down.
 */
import mysql, { type RowDataPacket } from 'mysql2/promise'

/** host:port of the test server; a missing service fails the test rather than skipping it. */
export function testMysqlAddress(): string {
  const address = process.env.KITEQ_TEST_MYSQL
  if (!address) throw new Error('KITEQ_TEST_MYSQL is not set: run through scripts/run-tests.mjs (or `bash scripts/services.sh start` and load .services/env)')
  return address
}

/** The test server's address as connection options. */
export function testMysqlEndpoint(): { host: string; port: number } {
  const [host, port] = testMysqlAddress().split(':')
  return { host, port: Number(port) }
}

export function mysqlAdminConnection(): Promise<mysql.Connection> {
  return mysql.createConnection({ ...testMysqlEndpoint(), user: 'root', password: '' })
}

/** Runs `work` on an admin connection of its own, closed afterwards. */
export async function withMysqlAdmin<T>(work: (conn: mysql.Connection) => Promise<T>): Promise<T> {
  const conn = await mysqlAdminConnection()
  try {
    return await work(conn)
  } finally {
    await conn.end()
  }
}

/** Drops the shard databases `{db}_{i}` of base name `db`. */
export async function dropShardDatabases(db: string): Promise<void> {
  await withMysqlAdmin(async (conn) => {
    const [rows] = await conn.query<RowDataPacket[]>('SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE ?', [`${db}\\_%`])
    for (const r of rows) await conn.query(`DROP DATABASE IF EXISTS \`${r.name as string}\``)
  })
}
