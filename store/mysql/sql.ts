/**
 * Every SQL text of the `mysql://` store, built once per layout (so the prepared-statement cache sees
 * a fixed, small set), and the mapping between rows and StoredMessage. Values always travel as
 * placeholders; only our own validated table names are spliced in.
 */
import { decodeHeader, headerSize, writeHeader, type Header } from '../../protocol/header.ts'
import { ProtoWriter } from '../../protocol/wire.ts'
import type { StoredMessage } from '../message-store.ts'
import { REQUIRED_MESSAGE_COLUMNS } from './schema.ts'
import { HASH_DIGITS, type ShardLayout } from './sharding.ts'

/** Insert order: KiteQ's entity order, then our additions. */
export const MESSAGE_COLUMNS = REQUIRED_MESSAGE_COLUMNS
const COLUMN_LIST = MESSAGE_COLUMNS.map((c) => `\`${c}\``).join(', ')
const ROW_PLACEHOLDERS = `(${MESSAGE_COLUMNS.map(() => '?').join(', ')})`
const BY_KEY = 'message_id = ? AND topic = ?'

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

export function encodeHeader(h: Header): Buffer {
  const buf = Buffer.allocUnsafe(headerSize(h))
  writeHeader(new ProtoWriter(buf), h)
  return buf
}

function groupsFromText(text: string | null): string[] {
  if (text === null || text === '') return []
  const parsed = JSON.parse(text) as string[] | null
  return parsed ?? []
}

/** The values of one message row, in MESSAGE_COLUMNS order. */
export function messageValues(m: StoredMessage, kiteServer: string): unknown[] {
  return [
    m.messageId, encodeHeader(m.header), m.body, m.cmdType, m.topic, m.messageType, m.publishGroup, m.commit ? 1 : 0,
    Math.floor(m.createdAtMs / 1000), m.expiredTime, m.deliverCount, m.deliverLimit, kiteServer,
    JSON.stringify(m.failGroups), JSON.stringify(m.succGroups), clampMs(m.nextDeliverAtMs), m.createdAtMs, m.deliverAtMs,
    m.txCheckCount,
  ]
}

/** Bytes a row adds to a multi-row INSERT's text (buffers travel as hex), for the batch cap. */
export function estimatedSqlBytes(m: StoredMessage): number {
  return 2 * (m.body.length + headerSize(m.header)) + 4 * (m.topic.length + m.messageType.length + m.publishGroup.length) + 300
}

export function messageFromRow(r: MessageRow): StoredMessage {
  return {
    messageId: r.message_id, topic: r.topic, messageType: r.message_type, cmdType: r.msg_type,
    header: decodeHeader(r.header, 0, r.header.length), body: r.body, publishGroup: r.publish_group,
    commit: r.commit === 1, createdAtMs: r.created_at_ms, expiredTime: r.expired_time, deliverAtMs: r.deliver_at_ms,
    deliverCount: r.deliver_count, deliverLimit: r.deliver_limit, nextDeliverAtMs: r.next_deliver_time,
    succGroups: groupsFromText(r.succ_groups), failGroups: groupsFromText(r.fail_groups), txCheckCount: r.tx_check_count,
  }
}

export function insertMessagesSql(qualifiedTable: string, rowCount: number): string {
  return `INSERT INTO ${qualifiedTable} (${COLUMN_LIST}) VALUES ${Array(rowCount).fill(ROW_PLACEHOLDERS).join(',')}`
}

/** Per-table statements, indexed by hash digit; per-shard ones by shard. */
export class MysqlStatements {
  readonly select: string[] = []
  readonly commit: string[] = []
  readonly rollback: string[] = []
  readonly delete: string[] = []
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
      this.commit.push(`UPDATE ${t} SET \`commit\` = 1 WHERE ${BY_KEY}`)
      this.rollback.push(`DELETE FROM ${t} WHERE ${BY_KEY} AND \`commit\` = 0`)
      this.delete.push(`DELETE FROM ${t} WHERE ${BY_KEY}`)
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
    this.dueBetween = layout.messageTables
      .map((t) =>
        `(SELECT topic, message_id, next_deliver_time FROM ${t.qualified} FORCE INDEX (idx_recover)` +
        ' WHERE kite_server = ? AND next_deliver_time >= ? AND next_deliver_time < ? AND (next_deliver_time, message_id) > (?, ?)' +
        ' ORDER BY next_deliver_time, message_id LIMIT ?)',
      )
      .join(' UNION ALL ') + ' ORDER BY next_deliver_time, message_id LIMIT ?'
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
