/**
 * One group commit's worth of queued writes (store/mysql/write-batcher.ts sends it), the rules that
 * let them share one transaction without changing what any of them sees, and the statements that
 * carry them.
 *
 * Three kinds of operation:
 * - inserts: new message rows, one multi-row INSERT per table, run first;
 * - statements: anything else, run in the order asked for (updates, dead-letter moves, ...);
 * - keyed operations: a one-row statement whose only values are the row's key (delete, commit,
 *   rollback). Those of one kind and table run last, as ONE statement over all their keys: the
 *   server parses, plans and acknowledges one statement instead of one per message.
 *
 * Order: a batch runs inserts, then statements, then keyed operations. So that no operation overtakes
 * an earlier one of the same message, one that would have to run after a pending statement or keyed
 * operation of its key starts the next batch instead (batches run one after another): an insert after
 * any other operation of its key, anything after a keyed operation of its key. Keys are distinct
 * within one coalesced statement for the same reason.
 *
 * Exact results: each key matches at most one row (unique (message_id, topic)), so a coalesced
 * statement that matched as many rows as it has keys matched every one of them. So does one that
 * finds its rows by primary key (row-ids.ts): it also names every key, and matches no other row.
 * When it matched fewer, which keys missed is unknown: the write batcher rolls the transaction back
 * and writes the batch again with one statement per keyed operation (`Batch.plan(false)`).
 */
import type { RowIds } from './row-ids.ts'
import { renderStatement, type Statement } from './sql.ts'

export type { Statement } from './sql.ts'

/** The key of one message row. */
export interface RowKey {
  messageId: string
  topic: string
  /** Its AUTO_INCREMENT id when known (row-ids.ts): a statement over several keys may then find the rows by primary key. */
  rowId?: number
}

/** What the server answered for one statement. */
export interface StatementResult {
  affectedRows: number
  /** An INSERT's first AUTO_INCREMENT id (0 for other statements). */
  insertId: number
}

/** A keyed statement of one kind on one table, alone or over many keys at once (rendered SQL). */
export interface KeyedStatement {
  /** Operations with the same id may share one statement: kind and table. */
  readonly id: string
  /** The statement for one key. */
  one(key: RowKey): string
  /** The statement for several distinct keys, matching each of their rows at most once. */
  many(keys: readonly RowKey[]): string
  /** Nothing waits for it promptly (a delivered message's delete): it may be held to share a statement (held-operations.ts). */
  readonly mayWait: boolean
}

/** Keys per coalesced statement at most: below MariaDB's in_predicate_conversion_threshold (1000), where IN lists stop being plain ranges. */
export const MAX_KEYS_PER_STATEMENT = 500

interface Settlement<T> {
  resolve: (value: T) => void
  reject: (err: Error) => void
}

export interface QueuedInsert extends Settlement<void> {
  messageId: string
  /** The message key (store/message-store.ts messageKey), under which its row id is remembered. */
  key: string
  /** The row's text in a multi-row INSERT (sql.ts messageRowSql). */
  row: string
}

export interface QueuedStatements extends Settlement<unknown> {
  statements: Statement[]
  /** Turns the statements' affected-row counts into the caller's result. */
  settle: (affectedRows: number[]) => unknown
}

export interface QueuedKeyed extends Settlement<boolean>, RowKey {}

type OperationKind = 'insert' | 'statements' | 'keyed'

/** The statements of a batch (rendered SQL) and how the server's answers settle its operations. */
export interface BatchPlan {
  statements: string[]
  /**
   * Whether every coalesced statement matched all its keys, i.e. the counts say exactly which
   * operation matched a row. When false nothing is settled: the transaction must be rolled back.
   */
  exact(results: StatementResult[]): boolean
  /** Resolves every operation from the answers, and remembers inserted rows' ids in `rowIds` (call only when `exact`). */
  settle(results: StatementResult[], rowIds?: RowIds): void
  /** True when some coalesced statement covers several keys (its result needs `exact` before COMMIT). */
  needsCheck: boolean
}

export class Batch {
  /** Per qualified table name. */
  readonly inserts = new Map<string, QueuedInsert[]>()
  readonly others: QueuedStatements[] = []
  readonly keyed = new Map<string, { statement: KeyedStatement; operations: QueuedKeyed[] }>()
  /** The table of each key's insert here, to take it out again (withdrawInsert). */
  readonly #insertTables = new Map<string, string>()
  /** Keys with a statement or keyed operation here: their inserts go to a later batch. */
  readonly #mutated = new Set<string>()
  /** Keys with a keyed operation here: every later operation of theirs goes to a later batch. */
  readonly #keyedKeys = new Set<string>()
  count = 0
  bytes = 0

  /** Whether an operation on `key` may join this batch without running before an earlier one of its key. */
  accepts(kind: OperationKind, key: string): boolean {
    if (this.#keyedKeys.has(key)) return false
    return kind !== 'insert' || !this.#mutated.has(key)
  }

  addInsert(table: string, op: QueuedInsert, bytes: number): void {
    let rows = this.inserts.get(table)
    if (rows === undefined) this.inserts.set(table, (rows = []))
    rows.push(op)
    this.#insertTables.set(op.key, table)
    this.#count(bytes)
  }

  /** Whether a statement or keyed operation of `key` is queued here (all of them run after this batch's inserts). */
  mutates(key: string): boolean {
    return this.#mutated.has(key)
  }

  hasInsert(key: string): boolean {
    return this.#insertTables.has(key)
  }

  /** Takes `key`'s insert out of this batch, unsettled; undefined when it has none. */
  withdrawInsert(key: string): QueuedInsert | undefined {
    const table = this.#insertTables.get(key)
    if (table === undefined) return undefined
    this.#insertTables.delete(key)
    const rows = this.inserts.get(table)!
    const i = rows.findIndex((r) => r.key === key)
    const [op] = rows.splice(i, 1)
    if (rows.length === 0) this.inserts.delete(table)
    this.count--
    this.bytes -= op.row.length
    return op
  }

  addStatements(key: string, op: QueuedStatements, bytes: number): void {
    this.others.push(op)
    this.#mutated.add(key)
    this.#count(bytes)
  }

  addKeyed(statement: KeyedStatement, key: string, op: QueuedKeyed, bytes: number): void {
    let group = this.keyed.get(statement.id)
    if (group === undefined) this.keyed.set(statement.id, (group = { statement, operations: [] }))
    group.operations.push(op)
    this.#mutated.add(key)
    this.#keyedKeys.add(key)
    this.#count(bytes)
  }

  /** Every queued operation, for failing them all. */
  all(): { reject: (err: Error) => void }[] {
    const keyed = [...this.keyed.values()].flatMap((g) => g.operations)
    return [...[...this.inserts.values()].flat(), ...this.others, ...keyed]
  }

  /** The batch as statements: keyed operations coalesced per kind and table, or one statement each. */
  plan(coalesce: boolean, insertSql: (table: string, rows: readonly string[]) => string): BatchPlan {
    const statements: string[] = []
    for (const [table, rows] of this.inserts) statements.push(insertSql(table, rows.map((r) => r.row)))
    for (const op of this.others) for (const s of op.statements) statements.push(renderStatement(s))
    /** Keyed operations in statement order, each with the operations its statement covers. */
    const chunks: QueuedKeyed[][] = []
    for (const { statement, operations } of this.keyed.values()) {
      const size = coalesce ? MAX_KEYS_PER_STATEMENT : 1
      for (let i = 0; i < operations.length; i += size) {
        const chunk = operations.slice(i, i + size)
        statements.push(chunk.length === 1 ? statement.one(chunk[0]) : statement.many(chunk))
        chunks.push(chunk)
      }
    }
    const firstKeyed = statements.length - chunks.length
    return {
      statements,
      needsCheck: chunks.some((c) => c.length > 1),
      exact: (results) => chunks.every((chunk, i) => chunk.length === 1 || results[firstKeyed + i].affectedRows === chunk.length),
      settle: (results, rowIds) => {
        let i = 0
        for (const rows of this.inserts.values()) {
          rowIds?.rememberInserted(rows.map((r) => r.key), results[i++].insertId)
          for (const r of rows) r.resolve()
        }
        for (const op of this.others) {
          op.resolve(op.settle(affectedRows(results, i, i + op.statements.length)))
          i += op.statements.length
        }
        // a chunk of several keys gets here only when exact, i.e. every key matched
        for (const chunk of chunks) {
          const matched = results[i++].affectedRows > 0
          for (const op of chunk) op.resolve(matched)
        }
      },
    }
  }

  #count(bytes: number): void {
    this.count++
    this.bytes += bytes
  }
}

/** The affected-row counts of results [from, to). */
export function affectedRows(results: readonly StatementResult[], from = 0, to = results.length): number[] {
  const counts = new Array<number>(to - from)
  for (let i = from; i < to; i++) counts[i - from] = results[i].affectedRows
  return counts
}
