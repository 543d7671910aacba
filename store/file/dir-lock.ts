/**
 * One store per directory: two writers appending to the same segments would interleave records
 * and corrupt the log. The lock is a `LOCK` file holding the owner's pid; a lock left by a process
 * that no longer exists (kill -9) is taken over, so a crashed broker restarts without help.
 */
import fs from 'node:fs'
import { join, resolve } from 'node:path'
import { StoreError } from '../message-store.ts'

/** Directories locked by this process (its own pid in a LOCK file proves nothing). */
const lockedHere = new Set<string>()

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Locks `dir` for this process; returns the release function. */
export function lockDirectory(dir: string): () => void {
  const key = resolve(dir)
  const path = join(dir, 'LOCK')
  if (lockedHere.has(key)) throw new StoreError(`file store ${dir} is already open in this process`)
  try {
    fs.writeFileSync(path, String(process.pid), { flag: 'wx' })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new StoreError(`cannot lock ${path}: ${(err as Error).message}`, { cause: err })
    const owner = Number(fs.readFileSync(path, 'utf8').trim())
    if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner)) {
      throw new StoreError(`file store ${dir} is in use by process ${owner} (delete ${path} if that process is not a broker)`)
    }
    fs.writeFileSync(path, String(process.pid))
  }
  lockedHere.add(key)
  return () => {
    lockedHere.delete(key)
    try {
      fs.unlinkSync(path)
    } catch {
      // already gone (the directory was removed): nothing left to release
    }
  }
}
