/** The machine a benchmark ran on, printed with every result. */
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
  console.log(`date: ${new Date().toISOString()}`)
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
