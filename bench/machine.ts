/** The machine a benchmark ran on, printed with every result. */
import fs from 'node:fs'
import os from 'node:os'

export function machineDescription(): string {
  const cpus = os.cpus()
  const model = cpus[0]?.model.trim() ?? 'unknown CPU'
  const memGiB = (os.totalmem() / 2 ** 30).toFixed(0)
  return `${model}, ${cpus.length} cores, ${memGiB} GiB, ${os.type()} ${os.release()}, Node ${process.version}`
}

export function printMachine(title: string): void {
  console.log(`# ${title}`)
  console.log(`machine: ${machineDescription()}`)
  console.log(`phase: ${formatPhase(measurePhase())}`)
  console.log(`date: ${new Date().toISOString()}`)
}

/**
 * How fast this (virtual) machine is right now. The same build's figures on this VM have spread by
 * a factor of two from one hour to the next (its neighbours share the caches and memory bus), so
 * each result carries three small measurements taken just before it, and results of different days
 * can be compared by them: a JS integer loop (ns per step), dependent random reads in 64 MiB (ns per
 * read: what a hash probe into a big index pays) and a one-byte write to /dev/null (µs per system
 * call through Node's fs binding). About a second.
 */
export interface MachinePhase {
  jsNsPerStep: number
  randomReadNs: number
  syscallUs: number
}

export function measurePhase(): MachinePhase {
  return { jsNsPerStep: jsLoopNs(), randomReadNs: randomReadNs(), syscallUs: syscallUs() }
}

export function formatPhase(p: MachinePhase): string {
  return `js ${p.jsNsPerStep.toFixed(2)} ns/step, random read ${p.randomReadNs.toFixed(0)} ns (64 MiB), syscall ${p.syscallUs.toFixed(2)} µs`
}

const elapsedNs = (since: bigint) => Number(process.hrtime.bigint() - since)

function jsLoopNs(): number {
  const steps = 20_000_000
  let h = 1
  const start = process.hrtime.bigint()
  for (let i = 0; i < steps; i++) h = (Math.imul(h ^ i, 0x9e3779b1) + 7) | 0
  const ns = elapsedNs(start) / steps
  // used, so that the loop cannot be dropped
  return h === 0.5 ? 0 : ns
}

function randomReadNs(): number {
  // one cycle through every element in random order (Sattolo's shuffle): each read depends on the
  // last, and no short cycle can keep the walk in the cache
  const n = 16 * 1024 * 1024
  const next = new Int32Array(n)
  for (let i = 0; i < n; i++) next[i] = i
  let seed = 0x2545f491
  for (let i = n - 1; i > 0; i--) {
    seed ^= seed << 13
    seed ^= seed >>> 17
    seed ^= seed << 5
    const j = (seed >>> 0) % i
    const t = next[i]
    next[i] = next[j]
    next[j] = t
  }
  const reads = 2_000_000
  let at = 0
  const start = process.hrtime.bigint()
  for (let i = 0; i < reads; i++) at = next[at]
  const ns = elapsedNs(start) / reads
  return at === -1 ? 0 : ns
}

function syscallUs(): number {
  const fd = fs.openSync('/dev/null', 'w')
  const byte = Buffer.alloc(1)
  const calls = 100_000
  const start = process.hrtime.bigint()
  for (let i = 0; i < calls; i++) fs.writeSync(fd, byte)
  const us = elapsedNs(start) / calls / 1000
  fs.closeSync(fd)
  return us
}

/** Runs `fn` repeatedly for about `ms` milliseconds (after a warm-up) and returns operations per second. */
export function opsPerSecond(fn: () => void, ms = 2000, batch = 1000): number {
  const warmUntil = performance.now() + Math.min(500, ms / 4)
  while (performance.now() < warmUntil) for (let i = 0; i < batch; i++) fn()
  let ops = 0
  const start = performance.now()
  let now = start
  while (now - start < ms) {
    for (let i = 0; i < batch; i++) fn()
    ops += batch
    now = performance.now()
  }
  return (ops * 1000) / (now - start)
}

export function formatRate(perSecond: number): string {
  return Math.round(perSecond).toLocaleString('en-US')
}

export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]
}
