/**
 * Starts a store's helper thread from its entry module, whether the broker runs compiled (the
 * .js beside the caller) or from the .ts sources under tsx (tests, benches): a worker does not
 * inherit tsx's loader, so it registers it before importing the .ts.
 */
import { Worker } from 'node:worker_threads'

/**
 * `entry`: the thread's module as a URL relative to `callerUrl` (the caller's import.meta.url),
 * written with a .ts extension; `replacement` runs another script instead (tests start failing ones).
 */
export function startStoreThread(callerUrl: string, entry: string, replacement?: URL, workerData?: unknown): Worker {
  if (replacement !== undefined) return new Worker(replacement, { workerData })
  if (!callerUrl.endsWith('.ts')) return new Worker(new URL(entry.replace(/\.ts$/, '.js'), callerUrl), { workerData })
  const href = JSON.stringify(new URL(entry, callerUrl).href)
  return new Worker(`import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${href}) })`, { eval: true, workerData })
}
