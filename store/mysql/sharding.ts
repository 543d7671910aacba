/**
 * KiteQ's modern sharded layout: `shardCount` databases `{db}_{i}`, each holding 16/shardCount message
 * tables `kite_msg_{j}` and one dead-letter table `kite_msg_dlq`. A message lives where the LAST hex
 * digit d of its id says: database d / (16/shardCount), table d % (16/shardCount). Stat snapshots and
 * client bindings are few and not per message: they live in shard 0.
 */

export const HASH_DIGITS = 16

export interface MessageTable {
  database: string
  table: string
  /** `database`.`table`, ready for SQL. */
  qualified: string
  /** The hash digit (0–15) whose messages this table holds. */
  digit: number
}

/** Backquotes a name we built ourselves (validated: letters, digits, '_'). */
export function quoteName(database: string, table?: string): string {
  return table === undefined ? `\`${database}\`` : `\`${database}\`.\`${table}\``
}

/**
 * The hash digit of a message id: its last character read as hex. Ids are 32 hex characters (checked
 * by the broker); anything else still maps to a stable digit.
 */
export function hashDigit(messageId: string): number {
  if (messageId.length === 0) return 0
  const last = messageId.charCodeAt(messageId.length - 1)
  const d = parseInt(messageId[messageId.length - 1], 16)
  return Number.isNaN(d) ? last % HASH_DIGITS : d
}

export class ShardLayout {
  readonly databases: readonly string[]
  /** Indexed by hash digit. */
  readonly messageTables: readonly MessageTable[]
  /** One per database, indexed by shard. */
  readonly deadLetterTables: readonly string[]
  readonly snapshotTable: string
  readonly bindingTable: string
  readonly tablesPerShard: number

  constructor(database: string, readonly shardCount: number) {
    if (HASH_DIGITS % shardCount !== 0) throw new RangeError(`shard count ${shardCount} does not divide ${HASH_DIGITS}`)
    this.tablesPerShard = HASH_DIGITS / shardCount
    this.databases = Array.from({ length: shardCount }, (_, i) => `${database}_${i}`)
    this.messageTables = Array.from({ length: HASH_DIGITS }, (_, d) => {
      const db = this.databases[Math.floor(d / this.tablesPerShard)]
      const table = `kite_msg_${d % this.tablesPerShard}`
      return { database: db, table, qualified: quoteName(db, table), digit: d }
    })
    this.deadLetterTables = this.databases.map((db) => quoteName(db, 'kite_msg_dlq'))
    this.snapshotTable = quoteName(this.databases[0], 'kite_stat_snapshot')
    this.bindingTable = quoteName(this.databases[0], 'kite_client_binding')
  }

  messageTableFor(messageId: string): MessageTable {
    return this.messageTables[hashDigit(messageId)]
  }

  deadLetterTableFor(messageId: string): string {
    return this.deadLetterTableOfDigit(hashDigit(messageId))
  }

  deadLetterTableOfDigit(digit: number): string {
    return this.deadLetterTables[this.shardOfDigit(digit)]
  }

  shardOfDigit(digit: number): number {
    return Math.floor(digit / this.tablesPerShard)
  }
}
