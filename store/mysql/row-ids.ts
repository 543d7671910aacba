/**
 * The AUTO_INCREMENT ids of the message rows this store inserted, by message key, so that a delivered
 * message's delete finds its row by primary key instead of through the unique (message_id, topic) index.
 *
 * Why: deletes were a third of MariaDB's CPU per message end to end (c=100, 512 B). Measured on
 * MariaDB 10.11 with deletes of ~25 keys per statement: by primary key the server spent 12 % less CPU
 * per message (40 against 46 µs end to end), as it skips the unique-index lookups and the range
 * planning over two IN lists.
 *
 * Where the ids come from: a multi-row INSERT reports the id of its first row, and with
 * innodb_autoinc_lock_mode 0 or 1 (MariaDB's and MySQL 5.7's default) the rows of one INSERT get
 * consecutive ids, auto_increment_increment apart. Mode 2 (MySQL 8's default) does not promise that,
 * so the store keeps no ids there (store/mysql-store.ts decides at start).
 *
 * Correctness never rests on these ids: a statement by id also names every key it is meant for
 * (sql.ts), so it can only match those keys' rows; when wrong ids make it miss one, it matches fewer
 * rows than keys and the batch is written again by key (batch.ts).
 *
 * Bounded: past `capacity` remembered rows (messages waiting long, e.g. delayed ones) new rows are not
 * remembered and their deletes go by key, as after a restart.
 */
export class RowIds {
  readonly #ids = new Map<string, number>()

  constructor(readonly increment: number, readonly capacity: number) {}

  get size(): number {
    return this.#ids.size
  }

  /** Records the rows of one INSERT, in VALUES order, from the id the server reported for the first. */
  rememberInserted(keys: readonly string[], firstId: number): void {
    // a server that reports no id (0) has no AUTO_INCREMENT column to find rows by
    if (firstId <= 0) return
    for (let i = 0; i < keys.length && this.#ids.size < this.capacity; i++) this.#ids.set(keys[i], firstId + i * this.increment)
  }

  /** The row id of `key`, forgotten at once: the row is about to go. */
  take(key: string): number | undefined {
    const id = this.#ids.get(key)
    if (id !== undefined) this.#ids.delete(key)
    return id
  }

  /** The row of `key` is gone or moved (rolled back, dead-lettered). */
  forget(key: string): void {
    this.#ids.delete(key)
  }
}
