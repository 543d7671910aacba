/**
 * `sqlite://path` — the embedded default (better-sqlite3, WAL).
 *
 * better-sqlite3 is synchronous, so nothing runs where it is asked for: every operation, read or
 * write, is queued and the queue is applied in ONE transaction per event-loop turn (group commit),
 * in order, after which all of its promises resolve. Reads queued behind writes see them.
 *
 * Durability (the `fsync` parameter):
 * - `batch`: synchronous=FULL, every transaction is fsynced before its saves resolve. Survives
 *   power loss; costs one fsync per batch (this disk does 4–5 k/s, shared by every batch).
 * - `interval` (default): synchronous=NORMAL plus a WAL checkpoint every `fsyncIntervalMs`
 *   (default 100). A committed transaction is in the OS before its saves resolve, so `kill -9`
 *   loses nothing acknowledged; a power loss or OS crash may lose the last ~interval of writes.
 * - `never`: synchronous=NORMAL, checkpoints left to SQLite. Same process-crash safety.
 *
 * Under `interval` and `batch` the checkpoints (copying the WAL back into the database and syncing
 * both) run on a thread of their own with its own connection (sqlite/checkpointer.ts), every
 * `fsyncIntervalMs` after writes; the broker's connection never checkpoints while that thread works.
 *
 * The WAL is bounded (`walLimitBytes`). SQLite starts a WAL over (writing it again from the
 * file's beginning) only when a transaction begins with every frame of it copied back; the thread's
 * checkpoint copies the frames there were when it began, and under steady writes more always came
 * in meanwhile, so the WAL never started over: 1.5 GB after bench/delay's 100 000 messages, growing
 * for as long as the load lasted. Once the WAL holds more than the limit, transactions wait for
 * one checkpoint (50–150 ms on this machine with ~190 MB/s going into the WAL; the event loop runs
 * on, and reads of messages no held write touches are answered at once), and the next one starts
 * the WAL over. A lower limit bounds the disk closer at the cost of more such waits.
 *
 * One broker per database: `path + '.lock'` holds the owner's pid (lock-file.ts). SQLite's own
 * exclusive locking mode would also keep the checkpoint thread out.
 */
import Database from 'better-sqlite3'
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { silentLogger, type Logger } from '../protocol/logger.ts'
import { lockFile } from './lock-file.ts'
import { Checkpointer } from './sqlite/checkpointer.ts'
import {
  StoreError, encodedHeader, messageKey, redriven, type DeadLetter, type FsyncPolicy, type DeadLetterQuery, type DeliveryUpdate, type DueEntry, type MessageStore,
  type StatSnapshot, type StoreStats, type StoredBindings, type StoredMessage,
} from './message-store.ts'


export interface SqliteStoreOptions {
  path: string
  fsync?: FsyncPolicy
  fsyncIntervalMs?: number
  /** Live plus dead messages held at most (0 = no limit). */
  maxMessages?: number
  /** Mutations applied per transaction at most, so one turn never stalls the loop for long. */
  maxBatch?: number
  /** The WAL is started over once its frames pass this many bytes (see above). */
  walLimitBytes?: number
  logger?: Logger
  /** Replaces the checkpoint thread's script (tests start one that fails). */
  checkpointThreadEntry?: URL
}

export const sqliteStoreDefaults = { fsync: 'interval' as FsyncPolicy, fsyncIntervalMs: 100, maxMessages: 0, maxBatch: 5000, walLimitBytes: 2 * 1024 * 1024 * 1024 }

/** An operation's failure as its caller gets it, queued or not. */
const asStoreError = (err: unknown) => (err instanceof StoreError ? err : new StoreError((err as Error).message, { cause: err }))

const stoppedError = () => new StoreError('sqlite store stopped')

/** Longest wait for the checkpoint that lets the WAL start over. */
const WAL_HOLD_MAX_MS = 5_000

const SCHEMA = `
CREATE TABLE IF NOT EXISTS messages (
  seq INTEGER PRIMARY KEY,
  topic TEXT NOT NULL, message_id TEXT NOT NULL, message_type TEXT NOT NULL, cmd_type INTEGER NOT NULL,
  header BLOB NOT NULL, body BLOB NOT NULL, publish_group TEXT NOT NULL, is_committed INTEGER NOT NULL,
  created_at_ms INTEGER NOT NULL, expired_time INTEGER NOT NULL, deliver_at_ms INTEGER NOT NULL,
  deliver_count INTEGER NOT NULL, deliver_limit INTEGER NOT NULL, next_deliver_at_ms INTEGER NOT NULL,
  succ_groups TEXT NOT NULL, fail_groups TEXT NOT NULL, tx_check_count INTEGER NOT NULL,
  UNIQUE (message_id, topic)
);
CREATE INDEX IF NOT EXISTS messages_due ON messages (next_deliver_at_ms, message_id);
CREATE TABLE IF NOT EXISTS dead_letters (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  topic TEXT NOT NULL, message_id TEXT NOT NULL, message_type TEXT NOT NULL, cmd_type INTEGER NOT NULL,
  header BLOB NOT NULL, body BLOB NOT NULL, publish_group TEXT NOT NULL, is_committed INTEGER NOT NULL,
  created_at_ms INTEGER NOT NULL, expired_time INTEGER NOT NULL, deliver_at_ms INTEGER NOT NULL,
  deliver_count INTEGER NOT NULL, deliver_limit INTEGER NOT NULL, next_deliver_at_ms INTEGER NOT NULL,
  succ_groups TEXT NOT NULL, fail_groups TEXT NOT NULL, tx_check_count INTEGER NOT NULL,
  reason TEXT NOT NULL, dead_at_ms INTEGER NOT NULL,
  UNIQUE (topic, message_id)
);
CREATE INDEX IF NOT EXISTS dead_letters_id ON dead_letters (message_id);
CREATE TABLE IF NOT EXISTS stat_snapshots (at_ms INTEGER NOT NULL, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS stat_snapshots_at ON stat_snapshots (at_ms);
CREATE TABLE IF NOT EXISTS client_bindings (topic TEXT NOT NULL, group_id TEXT NOT NULL, json TEXT NOT NULL, PRIMARY KEY (topic, group_id));
`

/**
 * 1: `messages` became a rowid table (it was WITHOUT ROWID, keyed by (topic, message_id)). With
 * 0.5–2 KiB rows a clustered key puts every save at a random place among the bodies; a rowid table
 * appends them and keeps one small unique index: 2.8× the saves, 4× the commits per second.
 */
const SCHEMA_VERSION = 1

/** Moves the messages of a version-0 database into the rowid table, in one transaction. */
function migrateToRowidMessages(db: Database.Database): void {
  if ((db.pragma('user_version', { simple: true }) as number) >= 1) return
  const old = db.prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'messages'").get() as { sql: string } | undefined
  if (old === undefined || !/WITHOUT ROWID/i.test(old.sql)) return
  db.transaction(() => {
    db.exec('ALTER TABLE messages RENAME TO messages_v0; DROP INDEX IF EXISTS messages_due; DROP INDEX IF EXISTS messages_id;')
    db.exec(SCHEMA)
    db.exec(`INSERT INTO messages (${COLUMNS}) SELECT ${COLUMNS} FROM messages_v0 ORDER BY next_deliver_at_ms; DROP TABLE messages_v0;`)
  })()
}

const COLUMNS = `topic, message_id, message_type, cmd_type, header, body, publish_group, is_committed, created_at_ms,
  expired_time, deliver_at_ms, deliver_count, deliver_limit, next_deliver_at_ms, succ_groups, fail_groups, tx_check_count`

/**
 * A message's row as the statements return it, values in COLUMNS order: better-sqlite3's raw mode
 * (an array per row) instead of an object with a property per column, which took 40 % of a get.
 */
type MessageRow = [
  topic: string, messageId: string, messageType: string, cmdType: number, header: Buffer, body: Buffer, publishGroup: string,
  isCommitted: number, createdAtMs: number, expiredTime: number, deliverAtMs: number, deliverCount: number, deliverLimit: number,
  nextDeliverAtMs: number, succGroups: string, failGroups: string, txCheckCount: number,
]
/** A dead letter's row: a message row, then `reason, dead_at_ms`. */
type DeadRow = [...MessageRow, reason: string, deadAtMs: number]
const DEAD_REASON = 17
const DEAD_AT_MS = 18

/**
 * The values of a message's row in `COLUMNS` order. The insert binds them by position: named
 * parameters from an object cost ~2 µs more per save (20 % of a save plus its delete).
 */
function rowValues(m: StoredMessage): unknown[] {
  return [
    m.topic, m.messageId, m.messageType, m.cmdType, encodedHeader(m), m.body, m.publishGroup, m.commit ? 1 : 0,
    m.createdAtMs, m.expiredTime, m.deliverAtMs, m.deliverCount, m.deliverLimit, m.nextDeliverAtMs,
    groupsJson(m.succGroups), groupsJson(m.failGroups), m.txCheckCount,
  ]
}

const groupsJson = (groups: string[]) => (groups.length === 0 ? '[]' : JSON.stringify(groups))

function fromRow(r: MessageRow | DeadRow): StoredMessage {
  return {
    messageId: r[1], topic: r[0], messageType: r[2], cmdType: r[3], header: undefined, headerBytes: r[4], body: r[5], publishGroup: r[6],
    commit: r[7] === 1, createdAtMs: r[8], expiredTime: r[9], deliverAtMs: r[10], deliverCount: r[11], deliverLimit: r[12],
    nextDeliverAtMs: r[13], succGroups: JSON.parse(r[14]) as string[], failGroups: JSON.parse(r[15]) as string[], txCheckCount: r[16],
  }
}

/** SQLite integers cannot hold ±Infinity. */
const clampTime = (ms: number) => Math.max(-Number.MAX_SAFE_INTEGER, Math.min(Number.MAX_SAFE_INTEGER, ms))

/** The time-index page query, for every topic or (with the filter) one. */
const dueSql = (topicFilter: string) => `SELECT topic, message_id, next_deliver_at_ms FROM messages
  WHERE next_deliver_at_ms >= @from AND next_deliver_at_ms < @to
    AND (next_deliver_at_ms > @afterTime OR (next_deliver_at_ms = @afterTime AND message_id > @afterId))${topicFilter}
  ORDER BY next_deliver_at_ms, message_id LIMIT @limit`

/** Prepared statements, made once per open database. */
function prepareStatements(db: Database.Database) {
  const placeholders = COLUMNS.split(',').map(() => '?').join(', ')
  return {
    insert: db.prepare(`INSERT INTO messages (${COLUMNS}) VALUES (${placeholders}) ON CONFLICT DO NOTHING`),
    get: db.prepare(`SELECT ${COLUMNS} FROM messages WHERE topic = ? AND message_id = ?`).raw(),
    exists: db.prepare('SELECT 1 FROM messages WHERE topic = ? AND message_id = ?').pluck(),
    commit: db.prepare('UPDATE messages SET is_committed = 1 WHERE topic = ? AND message_id = ? AND is_committed = 0'),
    rollback: db.prepare('DELETE FROM messages WHERE topic = ? AND message_id = ? AND is_committed = 0'),
    update: db.prepare(`UPDATE messages SET deliver_count = @deliver_count, next_deliver_at_ms = @next_deliver_at_ms,
      succ_groups = @succ_groups, fail_groups = @fail_groups, tx_check_count = @tx_check_count WHERE topic = @topic AND message_id = @message_id`),
    reschedule: db.prepare('UPDATE messages SET deliver_at_ms = ?, next_deliver_at_ms = ? WHERE topic = ? AND message_id = ?'),
    delete: db.prepare('DELETE FROM messages WHERE topic = ? AND message_id = ?'),
    due: db.prepare(dueSql('')).raw(),
    dueOfTopic: db.prepare(dueSql(' AND topic = @topic')).raw(),
    toDead: db.prepare(`INSERT INTO dead_letters (${COLUMNS}, reason, dead_at_ms)
      SELECT ${COLUMNS}, ?, ? FROM messages WHERE topic = ? AND message_id = ?`),
    deadGet: db.prepare(`SELECT ${COLUMNS}, reason, dead_at_ms FROM dead_letters WHERE topic = ? AND message_id = ?`).raw(),
    deadDelete: db.prepare('DELETE FROM dead_letters WHERE topic = ? AND message_id = ?'),
    deadSeq: db.prepare('SELECT seq FROM dead_letters WHERE message_id = ? ORDER BY seq LIMIT 1'),
    deadList: db.prepare(`SELECT ${COLUMNS}, reason, dead_at_ms FROM dead_letters
      WHERE seq > @after AND (@topic IS NULL OR topic = @topic) ORDER BY seq LIMIT @limit`).raw(),
    findLive: db.prepare(`SELECT ${COLUMNS} FROM messages WHERE message_id = ? LIMIT 1`).raw(),
    findDead: db.prepare(`SELECT ${COLUMNS}, reason, dead_at_ms FROM dead_letters WHERE message_id = ? ORDER BY seq DESC LIMIT 1`).raw(),
    pending: db.prepare('SELECT topic, COUNT(*) AS n FROM messages GROUP BY topic'),
    uncommitted: db.prepare('SELECT COUNT(*) AS n FROM messages WHERE is_committed = 0'),
    deadCount: db.prepare('SELECT COUNT(*) AS n FROM dead_letters'),
    snapshotInsert: db.prepare('INSERT INTO stat_snapshots (at_ms, data) VALUES (?, ?)'),
    snapshotList: db.prepare('SELECT at_ms, data FROM stat_snapshots WHERE at_ms >= ? ORDER BY at_ms'),
    snapshotPrune: db.prepare('DELETE FROM stat_snapshots WHERE at_ms < ?'),
    bindingsUpsert: db.prepare(`INSERT INTO client_bindings (topic, group_id, json) VALUES (?, ?, ?)
      ON CONFLICT (topic, group_id) DO UPDATE SET json = excluded.json`),
    bindingsDelete: db.prepare('DELETE FROM client_bindings WHERE topic = ? AND group_id = ?'),
    bindingsAll: db.prepare('SELECT topic, group_id, json FROM client_bindings'),
  }
}

type Statements = ReturnType<typeof prepareStatements>

interface QueuedWrite {
  apply: () => unknown
  resolve: (value: never) => void
  reject: (err: Error) => void
}

export class SqliteStore implements MessageStore {
  readonly kind = 'sqlite'
  readonly path: string
  readonly #options: Required<Omit<SqliteStoreOptions, 'logger' | 'checkpointThreadEntry'>>
  readonly #logger: Logger
  readonly #checkpointThreadEntry: URL | undefined
  #db: Database.Database | undefined
  #statements: Statements | undefined
  #queue: QueuedWrite[] = []
  #flushScheduled = false
  #checkpointTimer: NodeJS.Timeout | undefined
  #checkpointer: Checkpointer | undefined
  /** A transaction ran since the last checkpoint was asked for (one of reads only counts too: an idle store asks for none). */
  #committedSinceCheckpoint = false
  #checkpointsOnEventLoop = 0
  /** Transactions wait for the checkpoint under way, after which the WAL starts over. */
  #walHold = false
  #walHoldTimer: NodeJS.Timeout | undefined
  #walRestarts = 0
  /** A WAL frame: a page and its 24-byte header. */
  #walFrameBytes = 8192 + 24
  /** Messages with writes queued during the hold (see get). */
  readonly #heldKeys = new Set<string>()
  #unlock: (() => void) | undefined
  /** Live + dead messages, kept in memory to enforce maxMessages without a COUNT per save. */
  #count = 0
  /**
   * stop() has begun: operations are refused. Its last flush resolves queued operations, whose
   * callers may queue more from their continuations before the database is closed; those would
   * otherwise wait for a flush that never comes.
   */
  #stopping = false

  constructor(options: SqliteStoreOptions) {
    this.path = options.path
    this.#logger = options.logger ?? silentLogger
    this.#checkpointThreadEntry = options.checkpointThreadEntry
    this.#options = { ...sqliteStoreDefaults, ...options, fsync: options.fsync ?? sqliteStoreDefaults.fsync } as Required<Omit<SqliteStoreOptions, 'logger' | 'checkpointThreadEntry'>>
  }

  async start(): Promise<void> {
    this.#stopping = false
    let db: Database.Database | undefined
    const inMemory = this.path === ':memory:'
    if (!inMemory) {
      mkdirSync(dirname(this.path), { recursive: true })
      this.#unlock = lockFile(`${this.path}.lock`, `sqlite store ${this.path}`)
    }
    try {
      db = new Database(this.path)
      // waits this long for a broker that is still closing the database
      db.pragma('busy_timeout = 5000')
      // 8 KiB pages: fewer WAL frames per group commit for 0.5–2 KiB rows (bench/pubsub sqlite c=100:
      // 17–19 against 19–20.6 µs of broker CPU per message). Takes effect only in a new database.
      db.pragma('page_size = 8192')
      db.pragma('journal_mode = WAL')
      db.pragma(`synchronous = ${this.#options.fsync === 'batch' ? 'FULL' : 'NORMAL'}`)
      migrateToRowidMessages(db)
      db.exec(SCHEMA)
      db.pragma(`user_version = ${SCHEMA_VERSION}`)
      this.#db = db
      this.#statements = prepareStatements(db)
      this.#count = (db.prepare('SELECT (SELECT COUNT(*) FROM messages) + (SELECT COUNT(*) FROM dead_letters) AS n').get() as { n: number }).n
    } catch (err) {
      db?.close()
      this.#releaseLock()
      const reason = (err as { code?: string }).code === 'SQLITE_BUSY' ? 'another broker has it open (one broker per database)' : (err as Error).message
      throw new StoreError(`cannot open sqlite store ${this.path}: ${reason}`, { cause: err })
    }
    if (this.#options.fsync !== 'never' && !inMemory) {
      db.pragma('wal_autocheckpoint = 0')
      this.#walFrameBytes = (db.pragma('page_size', { simple: true }) as number) + 24
      this.#checkpointer = new Checkpointer(this.path, this.#logger, this.#checkpointThreadEntry, (ok, walFrames) => this.#checkpointSettled(ok, walFrames))
      this.#checkpointTimer = setInterval(() => this.#checkpoint(), this.#options.fsyncIntervalMs)
      this.#checkpointTimer.unref()
    }
  }

  async stop(): Promise<void> {
    this.#stopping = true
    clearInterval(this.#checkpointTimer)
    this.#endWalHold()
    // its connection must be gone before the WAL can be truncated
    await this.#checkpointer?.close()
    this.#checkpointer = undefined
    this.#flush()
    this.#rejectQueued(stoppedError())
    if (this.#db !== undefined) {
      this.#db.pragma('wal_checkpoint(TRUNCATE)')
      this.#db.close()
      this.#db = undefined
    }
    this.#releaseLock()
  }

  /** What a flush could not apply (none is coming): its callers hear it now. */
  #rejectQueued(err: StoreError): void {
    for (const w of this.#queue.splice(0)) w.reject(err)
  }

  #releaseLock(): void {
    this.#unlock?.()
    this.#unlock = undefined
  }

  /**
   * WAL checkpoints asked for by this store so far: done by its checkpoint thread, or on the event
   * loop once that failed; and how often transactions waited for one to start the WAL over.
   */
  get checkpoints(): { onThread: number; onEventLoop: number; walRestarts: number } {
    return { onThread: this.#checkpointer?.completed ?? 0, onEventLoop: this.#checkpointsOnEventLoop, walRestarts: this.#walRestarts }
  }

  get #s(): Statements {
    if (this.#statements === undefined) throw new StoreError('sqlite store is not started')
    return this.#statements
  }

  // ---------------------------------------------------------------------------------- writes

  /**
   * Queues an operation for the next group commit; resolves with what `apply` returned. `topic` and
   * `messageId`: the message it changes, if one (reads of other messages may pass a WAL hold).
   */
  #write<T>(apply: () => T, topic?: string, messageId?: string): Promise<T> {
    if (this.#stopping) return Promise.reject(stoppedError())
    if (this.#db === undefined) return Promise.reject(new StoreError('sqlite store is not started'))
    if (this.#walHold && topic !== undefined) this.#heldKeys.add(messageKey(topic, messageId!))
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ apply, resolve: resolve as (v: never) => void, reject })
      if (this.#queue.length >= this.#options.maxBatch) this.#flush()
      else if (!this.#flushScheduled) {
        this.#flushScheduled = true
        setImmediate(() => {
          this.#flushScheduled = false
          this.#flush()
        })
      }
    })
  }

  #flush(): void {
    while (this.#queue.length > 0 && this.#db !== undefined && !this.#walHold) {
      const batch = this.#queue.splice(0, this.#options.maxBatch)
      const results: unknown[] = new Array(batch.length)
      const failures: (Error | undefined)[] = new Array(batch.length)
      try {
        this.#db.transaction(() => {
          for (let i = 0; i < batch.length; i++) {
            try {
              results[i] = batch[i].apply()
            } catch (err) {
              // one bad operation (a duplicate id) must not sink the batch around it
              failures[i] = asStoreError(err)
            }
          }
        })()
      } catch (err) {
        const failure = new StoreError(`sqlite transaction failed: ${(err as Error).message}`, { cause: err })
        this.#logger.error({ code: failure.code, err: failure.message, batch: batch.length }, 'store batch failed')
        for (const w of batch) w.reject(failure)
        continue
      }
      for (let i = 0; i < batch.length; i++) {
        const failure = failures[i]
        if (failure !== undefined) batch[i].reject(failure)
        else batch[i].resolve(results[i] as never)
      }
      this.#committedSinceCheckpoint = true
    }
  }

  /**
   * A checkpoint of the thread has ended. If transactions were held for it, it has copied the
   * whole WAL (nothing was written meanwhile): release them, and the first starts the WAL over.
   * Otherwise, if the WAL holds more than its limit, hold them for the next checkpoint, asked for
   * now. (The file's size says nothing: SQLite writes a WAL started over from its beginning.)
   */
  #checkpointSettled(ok: boolean, walFrames: number): void {
    if (this.#walHold) {
      if (ok) this.#walRestarts++
      this.#endWalHold()
      return
    }
    if (!ok || this.#db === undefined || walFrames * this.#walFrameBytes <= this.#options.walLimitBytes) return
    // what is queued goes in first: the hold then knows every write its reads must wait for
    this.#flush()
    this.#walHold = true
    // a checkpoint that never answers must not hold the store for good
    this.#walHoldTimer = setTimeout(() => {
      this.#logger.warn({ waitedMs: WAL_HOLD_MAX_MS }, 'sqlite checkpoint did not answer; writes go on without starting the WAL over')
      this.#endWalHold()
    }, WAL_HOLD_MAX_MS)
    this.#checkpointer!.request()
  }

  /** Transactions go on: what was held is committed now. */
  #endWalHold(): void {
    this.#walHold = false
    this.#heldKeys.clear()
    clearTimeout(this.#walHoldTimer)
    this.#walHoldTimer = undefined
    this.#flush()
  }

  #checkpoint(): void {
    if (!this.#committedSinceCheckpoint) return
    this.#committedSinceCheckpoint = false
    const checkpointer = this.#checkpointer
    if (checkpointer !== undefined && !checkpointer.failed) {
      checkpointer.request()
      return
    }
    try {
      this.#db?.pragma('wal_checkpoint(PASSIVE)')
      this.#checkpointsOnEventLoop++
    } catch (err) {
      this.#logger.warn({ err: (err as Error).message }, 'sqlite checkpoint failed')
    }
  }

  save(message: StoredMessage): Promise<void> {
    const values = rowValues(message)
    return this.#write(() => {
      if (this.#options.maxMessages > 0 && this.#count >= this.#options.maxMessages) {
        throw new StoreError(`sqlite store full: ${this.#options.maxMessages} messages`, { full: true })
      }
      if (this.#s.insert.run(values).changes === 0) throw new StoreError(`message ${message.messageId} is already stored`)
      this.#count++
    }, message.topic, message.messageId)
  }

  commit(topic: string, messageId: string): Promise<boolean> {
    return this.#write(() => this.#s.commit.run(topic, messageId).changes > 0, topic, messageId)
  }

  rollback(topic: string, messageId: string): Promise<boolean> {
    return this.#write(() => this.#removed(this.#s.rollback.run(topic, messageId).changes), topic, messageId)
  }

  updateDelivery(topic: string, messageId: string, update: DeliveryUpdate): Promise<void> {
    const params = {
      topic, message_id: messageId, deliver_count: update.deliverCount, next_deliver_at_ms: update.nextDeliverAtMs,
      succ_groups: groupsJson(update.succGroups), fail_groups: groupsJson(update.failGroups), tx_check_count: update.txCheckCount,
    }
    return this.#write(() => void this.#s.update.run(params), topic, messageId)
  }

  reschedule(topic: string, messageId: string, deliverAtMs: number): Promise<boolean> {
    return this.#write(() => this.#s.reschedule.run(deliverAtMs, deliverAtMs, topic, messageId).changes > 0, topic, messageId)
  }

  delete(topic: string, messageId: string): Promise<boolean> {
    return this.#write(() => this.#removed(this.#s.delete.run(topic, messageId).changes), topic, messageId)
  }

  #removed(changes: number): boolean {
    this.#count -= changes
    return changes > 0
  }

  moveToDeadLetter(topic: string, messageId: string, reason: string, atMs: number): Promise<boolean> {
    return this.#write(() => {
      if (this.#s.exists.get(topic, messageId) === undefined) return false
      // a message dead before, re-driven, and dead again replaces its old dead-letter row
      // (possible when the redrive found the key live again and kept both): one row fewer held
      this.#count -= this.#s.deadDelete.run(topic, messageId).changes
      this.#s.toDead.run(reason, atMs, topic, messageId)
      this.#s.delete.run(topic, messageId)
      return true
    }, topic, messageId)
  }

  redriveDeadLetter(topic: string, messageId: string, atMs: number): Promise<boolean> {
    return this.#write(() => {
      const row = this.#s.deadGet.get(topic, messageId) as DeadRow | undefined
      if (row === undefined) return false
      // the key may be live again (a producer re-sent it): keep both as they are
      if (this.#s.insert.run(rowValues(redriven(fromRow(row), atMs))).changes === 0) return false
      this.#s.deadDelete.run(topic, messageId)
      return true
    }, topic, messageId)
  }

  saveSnapshot(snapshot: StatSnapshot): Promise<void> {
    const data = JSON.stringify(snapshot.data)
    return this.#write(() => void this.#s.snapshotInsert.run(snapshot.atMs, data))
  }

  pruneSnapshots(beforeMs: number): Promise<void> {
    return this.#write(() => void this.#s.snapshotPrune.run(beforeMs))
  }

  saveBindings(b: StoredBindings): Promise<void> {
    return this.#write(() => {
      if (b.json.trim() === '[]') this.#s.bindingsDelete.run(b.topic, b.groupId)
      else this.#s.bindingsUpsert.run(b.topic, b.groupId, b.json)
    })
  }

  // ----------------------------------------------------------------------------------- reads

  /** Reads take their turn in the queue: they see every write queued before them. */
  #read<T>(read: () => T): Promise<T> {
    return this.#write(read)
  }

  get(topic: string, messageId: string): Promise<StoredMessage | undefined> {
    const read = () => {
      const row = this.#s.get.get(topic, messageId) as MessageRow | undefined
      return row === undefined ? undefined : fromRow(row)
    }
    // while transactions wait for the WAL to start over, a message no held write touches is read at
    // once: what it reads is what it would see in its turn (fired messages must not wait the hold)
    if (this.#walHold && !this.#heldKeys.has(messageKey(topic, messageId))) {
      try {
        return Promise.resolve(read())
      } catch (err) {
        return Promise.reject(asStoreError(err))
      }
    }
    return this.#read(read)
  }

  dueBetween(fromMs: number, toMs: number, limit: number, after?: DueEntry, topic?: string): Promise<DueEntry[]> {
    return this.#read(() => {
      const rows = (topic === undefined ? this.#s.due : this.#s.dueOfTopic).all({
        ...(topic === undefined ? {} : { topic }),
        from: clampTime(fromMs), to: clampTime(toMs), limit,
        afterTime: after === undefined ? -Number.MAX_SAFE_INTEGER : clampTime(after.nextDeliverAtMs),
        afterId: after === undefined ? '' : after.messageId,
      }) as [topic: string, messageId: string, nextDeliverAtMs: number][]
      // without an after-cursor the first time itself must be included
      return rows.map(([topic, messageId, nextDeliverAtMs]) => ({ topic, messageId, nextDeliverAtMs }))
    })
  }

  listDeadLetters(query: DeadLetterQuery = {}): Promise<DeadLetter[]> {
    return this.#read(() => {
      const afterRow = query.afterMessageId === undefined ? undefined : (this.#s.deadSeq.get(query.afterMessageId) as { seq: number } | undefined)
      const rows = this.#s.deadList.all({ after: afterRow?.seq ?? 0, topic: query.topic ?? null, limit: query.limit ?? 100 }) as DeadRow[]
      return rows.map((r) => ({ message: fromRow(r), reason: r[DEAD_REASON], deadAtMs: r[DEAD_AT_MS] }))
    })
  }

  findById(messageId: string): Promise<{ message: StoredMessage; deadLetter?: { reason: string; deadAtMs: number } } | undefined> {
    return this.#read(() => {
      const live = this.#s.findLive.get(messageId) as MessageRow | undefined
      if (live !== undefined) return { message: fromRow(live) }
      const dead = this.#s.findDead.get(messageId) as DeadRow | undefined
      return dead === undefined ? undefined : { message: fromRow(dead), deadLetter: { reason: dead[DEAD_REASON], deadAtMs: dead[DEAD_AT_MS] } }
    })
  }

  stats(): Promise<StoreStats> {
    return this.#read(() => {
      const pendingByTopic: Record<string, number> = {}
      for (const r of this.#s.pending.all() as { topic: string; n: number }[]) pendingByTopic[r.topic] = r.n
      return {
        pendingByTopic,
        uncommitted: (this.#s.uncommitted.get() as { n: number }).n,
        deadLetters: (this.#s.deadCount.get() as { n: number }).n,
      }
    })
  }

  listSnapshots(sinceMs: number): Promise<StatSnapshot[]> {
    return this.#read(() =>
      (this.#s.snapshotList.all(sinceMs) as { at_ms: number; data: string }[]).map((r) => ({ atMs: r.at_ms, data: JSON.parse(r.data) as Record<string, unknown> })))
  }

  loadBindings(): Promise<StoredBindings[]> {
    return this.#read(() =>
      (this.#s.bindingsAll.all() as { topic: string; group_id: string; json: string }[]).map((r) => ({ topic: r.topic, groupId: r.group_id, json: r.json })))
  }
}
