/**
 * A broker in its own process for benchmarks. As a script: `--db URI --topics a,b`; prints
 * {"port":N} on stdout and stops on SIGTERM. `startBrokerProcess` spawns it from a benchmark.
 * KITEQ_BENCH_SERVER='{"dueGroupWindow":1024}' adds server options (JSON) for tuning runs.
 * Diagnostics from the environment: KITEQ_BENCH_PROF=dir writes a CPU profile there;
 * KITEQ_BENCH_ELD=ms prints every second whose event-loop delay exceeded ms, with its clock time (to stderr);
 * KITEQ_BENCH_GC=1 prints the garbage collector's time per kind every 5 s (to stderr);
 * KITEQ_BENCH_ALLOC=dir writes a sampled profile of every allocation there (where garbage comes from),
 * starting KITEQ_BENCH_ALLOC_AFTER ms after start; KITEQ_BENCH_ALLOC_LIVE=1 keeps only objects still
 * alive when it stops (what is retained, not what is churned), KITEQ_BENCH_ALLOC_PROMOTED=1 only
 * those that outlived the young generation (what makes scavenges slow). KITEQ_BENCH_DIST=1 runs the compiled
 * broker from dist/ (run ./build.sh first): profiles then name the lines of the code that ran.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

export interface BrokerProcess {
  child: ChildProcess
  address: string
  rssMb(): number
  /** CPU seconds (user + system, all threads) the broker has used so far. */
  cpuSeconds(): number
  /** CPU seconds of the broker's main thread (its event loop) so far. */
  mainThreadCpuSeconds(): number
  /** SIGTERM (SIGKILL 15 s later); resolves once the broker has exited (after writing any profile asked for). */
  stop(): Promise<void>
}

/** utime + stime of a /proc stat file (fields 14 and 15, in clock ticks of 1/100 s). */
function cpuSecondsIn(statPath: string): number {
  const fields = readFileSync(statPath, 'utf8').split(') ')[1].split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100
}

export async function startBrokerProcess(db: string, topics: string[]): Promise<BrokerProcess> {
  const prof = [...(process.env.KITEQ_BENCH_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.KITEQ_BENCH_PROF}`] : []), ...(process.env.KITEQ_BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? [])]
  // the young generation ./kiteq gives the broker, KITEQ_SEMI_SPACE_MB included
  const asShipped = `--max-semi-space-size=${process.env.KITEQ_SEMI_SPACE_MB ?? 16}`
  const child = spawn(process.execPath, [asShipped, ...prof, '--import=tsx', fileURLToPath(import.meta.url), '--db', db, '--topics', topics.join(',')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  process.on('exit', () => child.kill('SIGKILL')) // never left behind by a failed benchmark
  // the broker prints {"port":N} once listening; anything else it prints (e.g. V8's --trace-gc-nvp)
  // goes to stderr, so the pipe never fills up and blocks it
  const port = await new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.startsWith('{"port":')) resolve((JSON.parse(line) as { port: number }).port)
      else process.stderr.write(`broker: ${line}\n`)
    })
    child.once('exit', (code) => reject(new Error(`broker exited (${code}) before it listened`)))
  })
  return {
    child,
    address: `127.0.0.1:${port}`,
    rssMb: () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))![1]) / 1024,
    cpuSeconds: () => cpuSecondsIn(`/proc/${child.pid}/stat`),
    mainThreadCpuSeconds: () => cpuSecondsIn(`/proc/${child.pid}/task/${child.pid}/stat`),
    stop: () => {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
      child.kill('SIGTERM')
      // a broker that does not stop in time is killed: a benchmark never leaves one behind
      const kill = setTimeout(() => child.kill('SIGKILL'), 15_000)
      return exited.finally(() => clearTimeout(kill))
    },
  }
}

async function runBroker(): Promise<void> {
  const compiled = process.env.KITEQ_BENCH_DIST === '1'
  const { KiteQServer } = (await import(compiled ? '../dist/server/kiteq-server.js' : '../server/kiteq-server.ts')) as typeof import('../server/kiteq-server.ts')
  const { openStore } = (await import(compiled ? '../dist/store/open-store.js' : '../store/open-store.ts')) as typeof import('../store/open-store.ts')
  const arg = (name: string, fallback: string) => {
    const i = process.argv.indexOf(`--${name}`)
    return i >= 0 ? process.argv[i + 1] : fallback
  }
  const store = openStore(arg('db', 'memory://'))
  const server = new KiteQServer({
    bind: '127.0.0.1:0',
    topics: arg('topics', 'bench').split(','),
    store,
    ...(JSON.parse(process.env.KITEQ_BENCH_SERVER ?? '{}') as object),
  })
  const { port } = await server.start()
  process.stdout.write(JSON.stringify({ port }) + '\n')
  let allocationProfile: (() => Promise<string>) | undefined
  if (process.env.KITEQ_BENCH_ALLOC) {
    // KITEQ_BENCH_ALLOC_AFTER=ms leaves start-up and warm-up out of the profile
    setTimeout(() => void sampleAllocations().then((stop) => (allocationProfile = stop)), Number(process.env.KITEQ_BENCH_ALLOC_AFTER ?? 0))
  }
  process.on('SIGTERM', async () => {
    if (allocationProfile !== undefined) process.stderr.write(`broker allocation profile: ${await allocationProfile()}\n`)
    const withdrawn = (store as { withdrawnInserts?: number }).withdrawnInserts
    if (withdrawn !== undefined) process.stderr.write(`broker: ${withdrawn} messages delivered before their INSERT went out were never written\n`)
    await server.stop()
    process.exit(0)
  })
  const eldMs = Number(process.env.KITEQ_BENCH_ELD ?? 0)
  if (eldMs > 0) {
    const { monitorEventLoopDelay } = await import('node:perf_hooks')
    const delay = monitorEventLoopDelay({ resolution: 1 })
    // V8's --trace-gc lines count milliseconds from about here: this lines them up with the clock
    process.stderr.write(`broker process started at ${new Date(performance.timeOrigin).toISOString().slice(11, 23)}\n`)
    delay.enable()
    setInterval(() => {
      if (delay.max > eldMs * 1e6) process.stderr.write(`${new Date().toISOString().slice(11, 19)} broker event-loop delay: max ${(delay.max / 1e6).toFixed(0)} ms, p99 ${(delay.percentile(99) / 1e6).toFixed(1)} ms\n`)
      delay.reset()
    }, 1000).unref()
  }
}

/**
 * Samples every allocation, including objects the young-generation GC then freed (what --heap-prof
 * leaves out): where the garbage comes from. Returns a function writing the profile to a file.
 */
async function sampleAllocations(): Promise<() => Promise<string>> {
  const { Session } = await import('node:inspector/promises')
  const { writeFileSync } = await import('node:fs')
  const session = new Session()
  session.connect()
  const live = Boolean(process.env.KITEQ_BENCH_ALLOC_LIVE)
  // promoted: objects that outlived the young generation (the ones that make scavenges slow)
  const promoted = Boolean(process.env.KITEQ_BENCH_ALLOC_PROMOTED)
  await session.post('HeapProfiler.startSampling', {
    samplingInterval: 4096, includeObjectsCollectedByMajorGC: !live, includeObjectsCollectedByMinorGC: !live && !promoted,
  })
  return async () => {
    const { profile } = await session.post('HeapProfiler.stopSampling')
    const file = `${process.env.KITEQ_BENCH_ALLOC}/broker-${process.pid}.heapprofile`
    writeFileSync(file, JSON.stringify(profile))
    return file
  }
}

async function reportGc(): Promise<void> {
  const { PerformanceObserver, constants } = await import('node:perf_hooks')
  const kinds: Record<number, string> = {
    [constants.NODE_PERFORMANCE_GC_MINOR]: 'scavenge', [constants.NODE_PERFORMANCE_GC_MAJOR]: 'mark-compact',
    [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental', [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak-callbacks',
  }
  let totals = new Map<string, { ms: number; count: number }>()
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = kinds[(entry as unknown as { detail: { kind: number } }).detail.kind] ?? 'other'
      const t = totals.get(kind) ?? { ms: 0, count: 0 }
      t.ms += entry.duration
      t.count++
      totals.set(kind, t)
    }
  }).observe({ entryTypes: ['gc'] })
  setInterval(() => {
    process.stderr.write(`broker gc (5 s): ${[...totals].map(([k, t]) => `${k} ${t.ms.toFixed(0)} ms/${t.count}`).join(', ')}\n`)
    totals = new Map()
  }, 5000).unref()
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await runBroker()
  if (process.env.KITEQ_BENCH_GC) await reportGc()
}
