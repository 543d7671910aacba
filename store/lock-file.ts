/**
 * One broker per store: two brokers writing the same segments or database would interleave their
 * writes and deliver the same messages. The lock is a file holding the owner's pid; a lock left by
 * a process that no longer exists (kill -9) is taken over, so a crashed broker restarts without help.
 */
import fs from 'node:fs'
import { resolve } from 'node:path'
import { StoreError } from './message-store.ts'

/** Lock files held by this process (its own pid in a lock file proves nothing). */
const lockedHere = new Set<string>()

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Takes the lock file at `path` for this process, or throws naming `store`; returns the release function. */
export function lockFile(path: string, store: string): () => void {
  const key = resolve(path)
  if (lockedHere.has(key)) throw new StoreError(`${store} is in use: another broker has it open in this process`)
  try {
    fs.writeFileSync(path, String(process.pid), { flag: 'wx' })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new StoreError(`cannot lock ${path}: ${(err as Error).message}`, { cause: err })
    const owner = Number(fs.readFileSync(path, 'utf8').trim())
    if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner)) {
      throw new StoreError(`${store} is in use: another broker has it open (process ${owner}; delete ${path} if that process is not a broker)`)
    }
    fs.writeFileSync(path, String(process.pid))
  }
  lockedHere.add(key)
  return () => {
    lockedHere.delete(key)
    try {
      fs.unlinkSync(path)
    } catch {
      // already gone (its directory was removed): nothing left to release
    }
  }
}
