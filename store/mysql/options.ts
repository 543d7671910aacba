/**
 * The `mysql://` URI and its defaults.
 *
 *   mysql://host[:port]?db=kite&user=root&password=&shardnum=4&createSchema=true
 *
 * | parameter | default | why |
 * |---|---|---|
 * | `db` | `kite` | KiteQ's; the shard databases are `{db}_0 … {db}_{shardnum-1}` |
 * | `user` (KiteQ: `username`) | `root` | also taken from `mysql://user:password@host` |
 * | `password` | empty | |
 * | `shardnum` | 4 | KiteQ's; 1, 2, 4, 8 or 16 databases sharing the 16 tables |
 * | `createSchema` | false | a broker should not need DDL rights in production; without it start() checks the tables exist and names the missing ones |
 * | `maxConn` | 10 | `writers` connections write, reads take the rest; 10 × 64 cached statements per broker stays far below the server's `max_prepared_stmt_count` (16 382) |
 * | `writers` | 2 | group commits in flight at once, each for the messages whose hash digit d has d % writers = its number: one connection keeps one server thread busy at a time. More writers overlap more commits but make each batch smaller (more statements and commits per message): end to end at c=100 on 2 cores, 2 writers delivered as much as 4 with a tenth less CPU per message, and bench/store saves as fast (~30 k/s); a database server with more cores may want more |
 * | `batchSize` | 1000 | operations per group commit at most (a tick with more starts the next batch at once) |
 * | `batchBytes` | 2 MiB | SQL text per group commit at most (bodies travel hex-escaped: twice their size); stays under every server default `max_allowed_packet` (MySQL 5.7: 4 MiB); a single larger message still goes alone |
 * | `flushMs` | 0 | 0 = flush once per event-loop turn; more waits that long for bigger batches (costs every write that latency) |
 * | `deleteDelayMs` | 25 | while their writer is busy, deletes wait up to this long so that those of one table share a statement (held-operations.ts); nothing waits for a delivered message's delete, and a crash meanwhile only redelivers; 0 = with the next batch |
 * | `deliverWhileSaving` | true | a new message due now goes to its consumers while its INSERT waits for the group commit (MessageStore.deliverWhileSaving), on topics whose INSERTs are being withdrawn (see `insertHoldMs`); one delivered and deleted before its INSERT went out is never written. The producer's ack still waits: for the commit, or for the consumers' acks of a message never written. false = deliver only once the row is committed |
 * | `insertHoldMs` | 10 | how long such an INSERT waits for its message's delete before it joins a batch (held-inserts.ts), only on topics whose consumers mostly acknowledge within that time: bench/pubsub c=100 then writes almost no rows (MariaDB's CPU 7 s → 0.2 s, 7 k → 28–30 k msg/s on a slow day) and c=1 gets its acks in 0.14 ms instead of a commit's 2 ms; a message not deleted in time costs its producer this much more latency. 0 = join the next batch at once |
 * | `queryTimeoutMs` | 10 000 | no write or read waits longer for a server that stopped answering; it fails with a StoreError |
 * | `connectTimeoutMs` | 5 000 | |
 * | `kiteServer` | see below | the broker identity written to `kite_server` |
 *
 * KiteQ's `batchUpdateSize`, `batchDelSize`, `flushSeconds` and `flushPeriod` are accepted and ignored
 * (logged at start): KiteQ flushed updates and deletes asynchronously once a second; here every
 * write waits for its group commit (deletes for at most `deleteDelayMs` before it), so those knobs
 * would only add latency. A second address (KiteQ's
 * `master,slave`) is not supported: reads go to the master so they always see acknowledged writes.
 *
 * Broker identity (`kite_server`): KiteQ stamped every row with `os.Hostname()` and each broker only
 * recovered its own rows, so two brokers on one host shared (and double-delivered) each other's
 * messages. Here the identity is, in order: the `kiteServer` parameter; else derived from the broker's
 * bind address (`brokerIdentity`): `host:port`, with the machine's hostname standing in for a
 * wildcard or loopback host (so two machines both binding `0.0.0.0:13800` still differ, and two
 * brokers on one machine differ by port); else the hostname alone (KiteQ's rule).
 */
import { hostname } from 'node:os'
import { ErrorCodes, KiteQError } from '../../protocol/errors.ts'

export interface MysqlConnectionOptions {
  host: string
  port: number
  user: string
  password: string
}

export interface MysqlStoreOptions extends MysqlConnectionOptions {
  /** Base database name: shards are `{database}_{i}`. */
  database: string
  shardCount: number
  createSchema: boolean
  maxConnections: number
  /** Group commits in flight at once (each message id always goes through the same one). */
  writers: number
  batchSize: number
  batchBytes: number
  flushMs: number
  /** Deletes are held up to this long to share one statement per table. */
  deleteDelayMs: number
  /** The broker may deliver a new message while its INSERT waits (MessageStore.deliverWhileSaving). */
  deliverWhileSaving: boolean
  /** How long the INSERT of a message being delivered waits for its acknowledgement (held-inserts.ts). */
  insertHoldMs: number
  queryTimeoutMs: number
  connectTimeoutMs: number
  /** Written to `kite_server`; scopes the time index and stats to this broker. */
  kiteServer: string
  /** KiteQ parameters that were given and are ignored, for the start-up log. */
  ignoredParameters: string[]
}

export const mysqlStoreDefaults = {
  port: 3306,
  database: 'kite',
  user: 'root',
  password: '',
  shardCount: 4,
  createSchema: false,
  maxConnections: 10,
  writers: 2,
  batchSize: 1000,
  batchBytes: 2 * 1024 * 1024,
  flushMs: 0,
  deleteDelayMs: 25,
  deliverWhileSaving: true,
  insertHoldMs: 10,
  queryTimeoutMs: 10_000,
  connectTimeoutMs: 5_000,
} as const

export const VALID_SHARD_COUNTS: readonly number[] = [1, 2, 4, 8, 16]

const KITEQ_IGNORED = ['batchUpdateSize', 'batchDelSize', 'flushSeconds', 'flushPeriod'] as const
const KNOWN = new Set([
  'db', 'user', 'username', 'password', 'shardnum', 'createSchema', 'maxConn', 'writers', 'batchSize', 'batchBytes', 'flushMs',
  'deleteDelayMs', 'deliverWhileSaving', 'insertHoldMs', 'queryTimeoutMs', 'connectTimeoutMs', 'kiteServer', ...KITEQ_IGNORED,
])

/** MySQL identifiers we build names from: no quoting surprises, and room for the `_{i}` suffix. */
const DATABASE_NAME = /^[A-Za-z0-9_]{1,60}$/

const WILDCARD_OR_LOOPBACK = /^(|0\.0\.0\.0|::|\[::\]|localhost|127\.\d+\.\d+\.\d+|::1|\[::1\])$/

/** The `kite_server` identity of a broker listening on `bind` (host:port); see the module comment. */
export function brokerIdentity(bind: string, machine = hostname()): string {
  const i = bind.lastIndexOf(':')
  const host = i >= 0 ? bind.slice(0, i) : bind
  const port = i >= 0 ? bind.slice(i + 1) : ''
  const name = WILDCARD_OR_LOOPBACK.test(host) ? machine : host
  return port === '' ? name : `${name}:${port}`
}

function configError(message: string): KiteQError {
  return new KiteQError(ErrorCodes.CONFIG, `-db mysql: ${message}`)
}

function intParam(url: URL, name: string, fallback: number, min: number): number {
  const raw = url.searchParams.get(name)
  if (raw === null || raw === '') return fallback
  const n = Number(raw)
  if (!Number.isInteger(n) || n < min) throw configError(`${name}=${raw} must be an integer ≥ ${min}`)
  return n
}

function boolParam(url: URL, name: string, fallback: boolean): boolean {
  const raw = url.searchParams.get(name)
  if (raw === null || raw === '') return fallback
  if (raw === 'true' || raw === '1') return true
  if (raw === 'false' || raw === '0') return false
  throw configError(`${name}=${raw} must be true or false`)
}

/**
 * Reads a parsed `mysql://` URL. `bind` is the broker's listen address, from which the default
 * broker identity is derived.
 */
export function mysqlOptionsFromUrl(url: URL, bind?: string): MysqlStoreOptions {
  for (const name of url.searchParams.keys()) {
    if (!KNOWN.has(name)) throw configError(`unknown parameter '${name}' (known: ${[...KNOWN].join(', ')})`)
  }
  if (url.hostname === '') throw configError('needs a host, e.g. mysql://127.0.0.1:3306?db=kite')
  const database = url.searchParams.get('db') || mysqlStoreDefaults.database
  if (!DATABASE_NAME.test(database)) throw configError(`db=${database} must be 1–60 letters, digits or '_'`)
  const shardCount = intParam(url, 'shardnum', mysqlStoreDefaults.shardCount, 1)
  if (!VALID_SHARD_COUNTS.includes(shardCount)) throw configError(`shardnum=${shardCount} must divide 16 (1, 2, 4, 8 or 16)`)
  const user = url.searchParams.get('user') ?? url.searchParams.get('username') ?? (decodeURIComponent(url.username) || mysqlStoreDefaults.user)
  const password = url.searchParams.get('password') ?? decodeURIComponent(url.password)
  const kiteServer = url.searchParams.get('kiteServer') || (bind === undefined ? hostname() : brokerIdentity(bind))
  const maxConnections = intParam(url, 'maxConn', mysqlStoreDefaults.maxConnections, 2)
  const writers = intParam(url, 'writers', mysqlStoreDefaults.writers, 1)
  if (writers > 16 || writers >= maxConnections) throw configError(`writers=${writers} must be at most 16 and below maxConn=${maxConnections} (reads need a connection too)`)
  if (kiteServer.length > 255) throw configError('kiteServer must be at most 255 characters')
  return {
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port === '' ? mysqlStoreDefaults.port : Number(url.port),
    user,
    password,
    database,
    shardCount,
    createSchema: boolParam(url, 'createSchema', mysqlStoreDefaults.createSchema),
    maxConnections,
    writers,
    batchSize: intParam(url, 'batchSize', mysqlStoreDefaults.batchSize, 1),
    batchBytes: intParam(url, 'batchBytes', mysqlStoreDefaults.batchBytes, 64 * 1024),
    flushMs: intParam(url, 'flushMs', mysqlStoreDefaults.flushMs, 0),
    deleteDelayMs: intParam(url, 'deleteDelayMs', mysqlStoreDefaults.deleteDelayMs, 0),
    deliverWhileSaving: boolParam(url, 'deliverWhileSaving', mysqlStoreDefaults.deliverWhileSaving),
    insertHoldMs: intParam(url, 'insertHoldMs', mysqlStoreDefaults.insertHoldMs, 0),
    queryTimeoutMs: intParam(url, 'queryTimeoutMs', mysqlStoreDefaults.queryTimeoutMs, 100),
    connectTimeoutMs: intParam(url, 'connectTimeoutMs', mysqlStoreDefaults.connectTimeoutMs, 100),
    kiteServer,
    ignoredParameters: KITEQ_IGNORED.filter((name) => url.searchParams.has(name)),
  }
}
