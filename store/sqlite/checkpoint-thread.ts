/**
 * The sqlite store's checkpoint thread (see checkpointer.ts): its own connection to the database,
 * copying the WAL back into it when asked. A checkpoint also syncs the WAL and the database file,
 * which is what bounds a power loss under `fsync=interval`.
 */
import Database from 'better-sqlite3'
import { parentPort, workerData } from 'node:worker_threads'
import type { CheckpointAnswer, CheckpointerCommand } from './checkpointer.ts'

const { path } = workerData as { path: string }
const db = new Database(path)
// the broker's connection is writing all the while: wait for it rather than fail
db.pragma('busy_timeout = 5000')

parentPort!.on('message', (command: CheckpointerCommand) => {
  if (command === 'close') {
    db.close()
    parentPort!.close()
    return
  }
  let answer: CheckpointAnswer
  try {
    // PASSIVE: copies what it can without waiting for or blocking the writer
    const [result] = db.pragma('wal_checkpoint(PASSIVE)') as { log: number }[]
    answer = { ok: true, walFrames: result?.log ?? 0 }
  } catch (err) {
    answer = { ok: false, error: (err as Error).message }
  }
  parentPort!.postMessage(answer)
})
