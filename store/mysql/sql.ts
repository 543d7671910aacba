/**
 * Every SQL text of the `mysql://` store, built once per layout (so the prepared-statement cache sees
 * a fixed, small set), and the mapping between rows and StoredMessage. Only our own validated table
 * names are spliced in as they are.
 *
 * Reads send their values as prepared-statement parameters. Group-committed writes go as one text
 * query, rendered here value by value with the driver's escaping (`escape`, `format`): a message row
 * is rendered once when it is saved, and the driver does not scan the whole batch text for
 * placeholders again (the pool's `queryFormat`, see `passRenderedSql`). Buffers travel as hex
 * literals, exactly as the driver would write them.
 */
import mysql from 'mysql2/promise'
import { encodedHeader, type StoredMessage } from '../message-store.ts'
import type { KeyedStatement, RowKey } from './batch.ts'
import { REQUIRED_MESSAGE_COLUMNS } from './schema.ts'
import { HASH_DIGITS, type ShardLayout } from './sharding.ts'

/** Insert order: KiteQ's entity order, then our additions. */
export const MESSAGE_COLUMNS = REQUIRED_MESSAGE_COLUMNS
const COLUMN_LIST = MESSAGE_COLUMNS.map((c) => `\`${c}\``).join(', ')
const BY_KEY = 'message_id = ? AND topic = ?'

const { escape, format } = mysql
type SqlValues = Parameters<typeof format>[1]

export { escape as escapeSql }

/** A statement with `?` placeholders and its values. */
export interface Statement {
  sql: string
  values: unknown[]
}

/** The statement as text, values escaped by the driver. */
export function renderStatement(s: Statement): string {
  return format(s.sql, s.values as SqlValues)
}

/**
 * The pool's `queryFormat`: text without values is sent as it is (the driver would only scan it for
 * placeholders it does not have), anything else is formatted as the driver does by default.
 */
export function passRenderedSql(sql: string, values: unknown): string {
  return values === undefined || (Array.isArray(values) && values.length === 0) ? sql : format(sql, values as SqlValues)
}

export interface MessageRow {
  message_id: string
  header: Buffer
  body: Buffer
  msg_type: number
  topic: string
  message_type: string
  publish_group: string
  commit: number
  publish_time: number
  expired_time: number
  deliver_count: number
  deliver_limit: number
  kite_server: string
  fail_groups: string
  succ_groups: string
  next_deliver_time: number
  created_at_ms: number
  deliver_at_ms: number
  tx_check_count: number
}

/** BIGINT cannot hold ±Infinity (the scheduler's "everything" bounds); the safe-integer range covers every real time. */
export function clampMs(ms: number): number {
  return ms < Number.MIN_SAFE_INTEGER ? Number.MIN_SAFE_INTEGER : ms > Number.MAX_SAFE_INTEGER ? Number.MAX_SAFE_INTEGER : ms
}

function groupsFromText(text: string | null): string[] {
  if (text === null || text === '') return []
  const parsed = JSON.parse(text) as string[] | null
  return parsed ?? []
}

const EMPTY_GROUPS = escape('[]')

function groupsSql(groups: string[]): string {
  return groups.length === 0 ? EMPTY_GROUPS : escape(JSON.stringify(groups))
}

/** The driver's rendering of a Buffer, without its pass over the hex digits looking for quotes. */
function hexSql(b: Buffer): string {
  return `X'${b.toString('hex')}'`
}

/**
 * One message as a row of a multi-row INSERT, in MESSAGE_COLUMNS order; `kiteServerSql` is the escaped
 * identity. Text goes through the driver's escape; the numbers are the store's own, written as the
 * driver writes numbers.
 */
export function messageRowSql(m: StoredMessage, kiteServerSql: string): string {
  return `(${escape(m.messageId)},${hexSql(encodedHeader(m))},${hexSql(m.body)},${m.cmdType},${escape(m.topic)},` +
    `${escape(m.messageType)},${escape(m.publishGroup)},${m.commit ? 1 : 0},${Math.floor(m.createdAtMs / 1000)},${m.expiredTime},` +
    `${m.deliverCount},${m.deliverLimit},${kiteServerSql},${groupsSql(m.failGroups)},${groupsSql(m.succGroups)},` +
    `${clampMs(m.nextDeliverAtMs)},${m.createdAtMs},${m.deliverAtMs},${m.txCheckCount})`
}

export function messageFromRow(r: MessageRow): StoredMessage {
  return {
    messageId: r.message_id, topic: r.topic, messageType: r.message_type, cmdType: r.msg_type,
    header: undefined, headerBytes: r.header, body: r.body, publishGroup: r.publish_group,
    commit: r.commit === 1, createdAtMs: r.created_at_ms, expiredTime: r.expired_time, deliverAtMs: r.deliver_at_ms,
    deliverCount: r.deliver_count, deliverLimit: r.deliver_limit, nextDeliverAtMs: r.next_deliver_time,
    succGroups: groupsFromText(r.succ_groups), failGroups: groupsFromText(r.fail_groups), txCheckCount: r.tx_check_count,
  }
}

/** A multi-row INSERT of rows rendered by messageRowSql. */
export function insertMessagesSql(qualifiedTable: string, rows: readonly string[]): string {
  return `INSERT INTO ${qualifiedTable} (${COLUMN_LIST}) VALUES ${rows.join(',')}`
}

/**
 * A keyed statement: `{single} WHERE <key>{tail}` for one key, `{many} WHERE <keys>{tail}` for several.
 *
 * `many` names the unique index. Without it the optimizer takes a full scan as soon as the keys are a
 * good part of the rows it believes the table holds, which is the normal state of a broker keeping
 * up with its load (few live rows per table), and a scan also walks every delete-marked row not
 * purged yet: with purge held back by a long transaction elsewhere (50 000 such rows), a 16-key
 * delete took 8.5 ms as a scan and 0.6 ms through the index. Single-table DELETE takes no index
 * hint, hence the multi-table form `DELETE t FROM t FORCE INDEX (...)` (same rows, same count).
 *
 * The key condition lists the ids alone first: an IN list over the index prefix is a range on every
 * MySQL and MariaDB, while only newer optimizers make ranges of a row-constructor IN by themselves;
 * the pairs then keep it exact when an id exists under another topic.
 *
 * `byRowId` (`DELETE t FROM t FORCE INDEX (PRIMARY)`) is used when every key's row id is known
 * (row-ids.ts): the primary-key range finds the rows, and the pairs, now a plain filter, keep the
 * statement to exactly those keys whatever the ids.
 */
function keyedStatement(id: string, single: string, many: string, tail = '', mayWait = false, byRowId?: string): KeyedStatement {
  return {
    id,
    mayWait,
    one: (key) => `${single} WHERE message_id = ${escape(key.messageId)} AND topic = ${escape(key.topic)}${tail}`,
    many(keys: readonly RowKey[]) {
      let ids = ''
      let pairs = ''
      let rowIds: string | undefined = byRowId === undefined ? undefined : ''
      for (let i = 0; i < keys.length; i++) {
        const id = escape(keys[i].messageId)
        const sep = i === 0 ? '' : ','
        ids += sep + id
        pairs += `${sep}(${id},${escape(keys[i].topic)})`
        if (rowIds !== undefined) rowIds = keys[i].rowId === undefined ? undefined : rowIds + sep + keys[i].rowId
      }
      if (byRowId !== undefined && rowIds !== undefined) return `${byRowId} WHERE id IN (${rowIds}) AND (message_id, topic) IN (${pairs})${tail}`
      return `${many} WHERE message_id IN (${ids}) AND (message_id, topic) IN (${pairs})${tail}`
    },
  }
}

/** Per-table statements, indexed by hash digit; per-shard ones by shard. */
export class MysqlStatements {
  readonly select: string[] = []
  readonly commit: KeyedStatement[] = []
  readonly rollback: KeyedStatement[] = []
  readonly delete: KeyedStatement[] = []
  readonly updateDelivery: string[] = []
  readonly reschedule: string[] = []
  /** Live row then dead row of one id (params: id, id). */
  readonly findById: string[] = []
  /**
   * Three statements (params: key, key; dead reason, dead at, key; key): drop an older dead copy of a
   * message that is live again (only then: a second move must not lose the first), copy, delete.
   */
  readonly moveToDeadLetter: string[][] = []
  readonly selectDeadLetter: string[] = []
  /** Per shard: when a dead message died (params: id), the listing cursor. */
  readonly deadAtOf: string[]
  /** Two statements (params: header, expired_time, kite_server, next_deliver_time, key; key): copy back, delete. */
  readonly redrive: string[][] = []
  /** Params: kite_server, from, to, cursor time, cursor id, limit — per table — then the overall limit. */
  readonly dueBetween: string
  /** dueBetween of one topic: its params with the topic after the cursor id. */
  readonly dueOfTopic: string
  /** Params: topic-or-null, topic-or-null, cursor time, cursor id, limit — per shard — then the overall limit. */
  readonly listDeadLetters: string
  /** Params: kite_server per table. */
  readonly pendingByTopic: string
  readonly deadLetterCount: string
  readonly insertSnapshot: string
  readonly listSnapshots: string
  readonly pruneSnapshots: string
  readonly replaceBindings: string
  readonly deleteBindings: string
  readonly loadBindings: string

  constructor(layout: ShardLayout) {
    for (let d = 0; d < HASH_DIGITS; d++) {
      const t = layout.messageTables[d].qualified
      const dlq = layout.deadLetterTableOfDigit(d)
      this.select.push(`SELECT ${COLUMN_LIST} FROM ${t} WHERE ${BY_KEY}`)
      const byIndex = `${t} FORCE INDEX (idx_message_id)`
      this.commit.push(keyedStatement(`commit ${t}`, `UPDATE ${t} SET \`commit\` = 1`, `UPDATE ${byIndex} SET \`commit\` = 1`, ' AND `commit` = 0'))
      this.rollback.push(keyedStatement(`rollback ${t}`, `DELETE FROM ${t}`, `DELETE ${t} FROM ${byIndex}`, ' AND `commit` = 0'))
      this.delete.push(keyedStatement(`delete ${t}`, `DELETE FROM ${t}`, `DELETE ${t} FROM ${byIndex}`, '', true, `DELETE ${t} FROM ${t} FORCE INDEX (PRIMARY)`))
      this.updateDelivery.push(
        `UPDATE ${t} SET deliver_count = ?, next_deliver_time = ?, succ_groups = ?, fail_groups = ?, tx_check_count = ? WHERE ${BY_KEY}`,
      )
      this.reschedule.push(`UPDATE ${t} SET deliver_at_ms = ?, next_deliver_time = ? WHERE ${BY_KEY}`)
      this.findById.push(
        `SELECT ${COLUMN_LIST}, NULL AS dead_reason, NULL AS dead_at_ms FROM ${t} WHERE message_id = ?` +
          ` UNION ALL SELECT ${COLUMN_LIST}, dead_reason, dead_at_ms FROM ${dlq} WHERE message_id = ?`,
      )
      this.moveToDeadLetter.push([
        `DELETE FROM ${dlq} WHERE ${BY_KEY} AND EXISTS (SELECT 1 FROM ${t} WHERE ${BY_KEY})`,
        `INSERT INTO ${dlq} (${COLUMN_LIST}, dead_reason, dead_at_ms) SELECT ${COLUMN_LIST}, ?, ? FROM ${t} WHERE ${BY_KEY}`,
        `DELETE FROM ${t} WHERE ${BY_KEY}`,
      ])
      this.selectDeadLetter.push(`SELECT ${COLUMN_LIST} FROM ${dlq} WHERE ${BY_KEY}`)
      const redriveColumns = MESSAGE_COLUMNS.map((c) => {
        switch (c) {
          case 'header': case 'expired_time': case 'next_deliver_time': case 'kite_server': return '?'
          case 'deliver_count': case 'tx_check_count': return '0'
          case 'fail_groups': return `'[]'`
          default: return `\`${c}\``
        }
      })
      this.redrive.push([
        `INSERT INTO ${t} (${COLUMN_LIST}) SELECT ${redriveColumns.join(', ')} FROM ${dlq} WHERE ${BY_KEY}`,
        `DELETE FROM ${dlq} WHERE ${BY_KEY}`,
      ])
    }
    this.deadAtOf = layout.deadLetterTables.map((t) => `SELECT dead_at_ms FROM ${t} WHERE message_id = ? ORDER BY dead_at_ms LIMIT 1`)
    const due = (topicFilter: string) => layout.messageTables
      .map((t) =>
        `(SELECT topic, message_id, next_deliver_time FROM ${t.qualified} FORCE INDEX (idx_recover)` +
        ` WHERE kite_server = ? AND next_deliver_time >= ? AND next_deliver_time < ? AND (next_deliver_time, message_id) > (?, ?)${topicFilter}` +
        ' ORDER BY next_deliver_time, message_id LIMIT ?)',
      )
      .join(' UNION ALL ') + ' ORDER BY next_deliver_time, message_id LIMIT ?'
    this.dueBetween = due('')
    this.dueOfTopic = due(' AND topic = ?')
    this.listDeadLetters = layout.deadLetterTables
      .map((t) =>
        `(SELECT ${COLUMN_LIST}, dead_reason, dead_at_ms FROM ${t}` +
        ' WHERE (? IS NULL OR topic = ?) AND (dead_at_ms, message_id) > (?, ?) ORDER BY dead_at_ms, message_id LIMIT ?)',
      )
      .join(' UNION ALL ') + ' ORDER BY dead_at_ms, message_id LIMIT ?'
    this.pendingByTopic = layout.messageTables
      .map((t) => `SELECT topic, COUNT(*) AS pending, SUM(\`commit\` = 0) AS uncommitted FROM ${t.qualified} WHERE kite_server = ? GROUP BY topic`)
      .join(' UNION ALL ')
    this.deadLetterCount = `SELECT SUM(n) AS n FROM (${layout.deadLetterTables.map((t) => `SELECT COUNT(*) AS n FROM ${t}`).join(' UNION ALL ')}) c`
    this.insertSnapshot = `INSERT INTO ${layout.snapshotTable} (kite_server, at_ms, data) VALUES (?, ?, ?)`
    this.listSnapshots = `SELECT at_ms, data FROM ${layout.snapshotTable} WHERE kite_server = ? AND at_ms >= ? ORDER BY at_ms, id`
    this.pruneSnapshots = `DELETE FROM ${layout.snapshotTable} WHERE kite_server = ? AND at_ms < ?`
    this.replaceBindings = `REPLACE INTO ${layout.bindingTable} (topic, group_id, json) VALUES (?, ?, ?)`
    this.deleteBindings = `DELETE FROM ${layout.bindingTable} WHERE topic = ? AND group_id = ?`
    this.loadBindings = `SELECT topic, group_id, json FROM ${layout.bindingTable} ORDER BY topic, group_id`
  }
}
