/**
 * Drives interop/bin/kiteq-interop (the Go harness, see interop/README.md) as a child process and
 * reads its JSON-lines output.
 */
import type { ExecutionContext } from 'ava'
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { runScript } from './scripts.ts'

let built: Promise<string> | undefined
let builtPath: string | undefined

/** The first build on a machine compiles the Go dependencies. */
const BUILD_TIMEOUT_MS = 300_000

/**
 * The `test.before` hook of every test file that runs the harness: builds it once per test process
 * (cached by Go and by build.sh's mtime check). Asynchronous on purpose: the first build on a
 * machine takes tens of seconds, and an event loop blocked that long lets the ZooKeeper sessions of
 * brokers in the same process expire (their registrations vanish while a Go client looks for them).
 */
export async function buildHarness(t: ExecutionContext): Promise<void> {
  t.timeout(BUILD_TIMEOUT_MS)
  built ??= runScript('interop/build.sh', [], BUILD_TIMEOUT_MS).then((stdout) => (builtPath = stdout.trim().split('\n').pop()!))
  await built
}

export interface HarnessRun {
  child: ChildProcess
  events: Record<string, unknown>[]
  stderr: () => string
  /** Resolves with the first event of this name. */
  waitFor(event: string, timeoutMs?: number): Promise<Record<string, unknown>>
  /** Resolves with the exit code. */
  exit: Promise<number | null>
}

/** Starts the harness with `args`; buildHarness must have run (test.before). */
export function runHarness(args: string[]): HarnessRun {
  if (builtPath === undefined) throw new Error('the Go harness is not built: test.before(..., buildHarness)')
  const child = spawn(builtPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  const events: Record<string, unknown>[] = []
  let err = ''
  let pending = ''
  const waiters: { event: string; resolve: (e: Record<string, unknown>) => void }[] = []
  child.stdout!.on('data', (d: Buffer) => {
    pending += d.toString()
    let nl
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl)
      pending = pending.slice(nl + 1)
      if (line.trim() === '') continue
      const e = JSON.parse(line) as Record<string, unknown>
      events.push(e)
      for (const w of [...waiters]) {
        if (w.event === e.event) {
          waiters.splice(waiters.indexOf(w), 1)
          w.resolve(e)
        }
      }
    }
  })
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()))
  // 'close', not 'exit': it waits until stdout is fully read, so no event can arrive after it
  const exit = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
  return {
    child,
    events,
    stderr: () => err,
    exit,
    waitFor(event, timeoutMs = 60_000) {
      const seen = events.find((e) => e.event === event)
      if (seen) return Promise.resolve(seen)
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no '${event}' event within ${timeoutMs} ms; stderr: ${err.slice(-2000)}`)), timeoutMs)
        waiters.push({ event, resolve: (e) => (clearTimeout(timer), resolve(e)) })
        void exit.then((code) => {
          clearTimeout(timer)
          reject(new Error(`harness exited (${code}) before '${event}'; stderr: ${err.slice(-2000)}`))
        })
      })
    },
  }
}

/** Lines of an -ids-out file, split on spaces. */
export function readIds(path: string): string[][] {
  return readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => l.split(' '))
}

/** The body rule shared with the Go harness (interop/README.md). */
export function harnessStringBody(messageId: string, size = 0): string {
  const base = `hello-${messageId}`
  return base.length >= size ? base : base + '.'.repeat(size - base.length)
}

export function harnessBytesBody(messageId: string, size: number): Buffer {
  const out = Buffer.allocUnsafe(size)
  for (let i = 0; i < size; i++) out[i] = messageId.charCodeAt(i % 32)
  return out
}
