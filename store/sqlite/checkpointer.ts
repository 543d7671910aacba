/**
 * WAL checkpoints on a thread of their own. A checkpoint copies the pages committed to the WAL back
 * into the database file and syncs both; on the broker's thread it was a quarter of that thread's
 * time while producers sent delayed messages (each insert dirties random pages of the id and time
 * indexes, and each checkpoint copies them again), and every one of them held the event loop.
 * SQLite lets another connection checkpoint while this one keeps writing, so the thread has its
 * own. Should the thread fail, the store checkpoints on its own thread again (`failed`).
 */
import type { Worker } from 'node:worker_threads'
import { silentLogger, type Logger } from '../../protocol/logger.ts'
import { startStoreThread } from '../thread-entry.ts'

export type CheckpointerCommand = 'checkpoint' | 'close'

export type CheckpointAnswer =
  /** walFrames: frames in the WAL when the checkpoint ended (0 once SQLite started it over). */
  | { ok: true; walFrames: number }
  | { ok: false; error: string }

export class Checkpointer {
  readonly #worker: Worker
  readonly #logger: Logger
  #busy = false
  #failed = false
  #closed: Promise<void> | undefined
  #completed = 0

  readonly #onSettled: (ok: boolean, walFrames: number) => void

  /**
   * `threadEntry` replaces the thread's script (tests start one that fails). `onSettled` hears how
   * each requested checkpoint ended (done, failed, or lost with the thread) and the WAL's frames then.
   */
  constructor(databasePath: string, logger: Logger = silentLogger, threadEntry?: URL, onSettled: (ok: boolean, walFrames: number) => void = () => {}) {
    this.#logger = logger
    this.#onSettled = onSettled
    this.#worker = startStoreThread(import.meta.url, './checkpoint-thread.ts', threadEntry, { path: databasePath })
    this.#worker.unref()
    this.#worker.on('message', (answer: CheckpointAnswer) => this.#answered(answer))
    this.#worker.on('error', (err) => this.#fail(err.message))
    this.#worker.on('exit', () => this.#fail('it exited'))
  }

  /** Checkpoints the thread has done. */
  get completed(): number {
    return this.#completed
  }

  /** The thread is gone: whoever relied on it checkpoints by itself now. */
  get failed(): boolean {
    return this.#failed
  }

  /** Asks for a checkpoint; one under way already covers this request as far as it got. */
  request(): void {
    if (this.#busy || this.#failed || this.#closed !== undefined) return
    this.#busy = true
    this.#worker.postMessage('checkpoint' satisfies CheckpointerCommand)
  }

  /** Lets the thread finish its checkpoint and close its connection. */
  close(): Promise<void> {
    if (this.#closed !== undefined) return this.#closed
    if (this.#failed) return (this.#closed = Promise.resolve())
    this.#closed = new Promise<void>((resolve) => this.#worker.once('exit', () => resolve()))
    // held open until it has exited: an unreferenced thread's exit would not keep anyone waiting for it
    this.#worker.ref()
    this.#worker.postMessage('close' satisfies CheckpointerCommand)
    return this.#closed
  }

  #answered(answer: CheckpointAnswer): void {
    this.#busy = false
    if (answer.ok) this.#completed++
    else this.#logger.warn({ err: answer.error }, 'sqlite checkpoint failed (the thread tries again at the next interval)')
    this.#onSettled(answer.ok, answer.ok ? answer.walFrames : 0)
  }

  #fail(reason: string): void {
    if (this.#failed || this.#closed !== undefined) return
    const wasBusy = this.#busy
    this.#failed = true
    this.#busy = false
    this.#logger.warn({ reason }, 'sqlite checkpoint thread failed: checkpoints run on the event loop from now on')
    if (wasBusy) this.#onSettled(false, 0)
  }
}
