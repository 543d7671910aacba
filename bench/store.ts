/**
 * One store on its own, through the MessageStore interface: save, commit and delete rates with 100
 * operations in flight and 512 B bodies. Saves are uncommitted (transactional sends), so the commit
 * phase has real work; commit and delete then walk every saved message.
 * Target (issue 5, mysql://): ≥ 20 000 saves/s.
 *   node --import=tsx bench/store.ts -db 'mysql://127.0.0.1:3307?db=kbench&createSchema=true' [--seconds 5] [--concurrency 100] [--body 512]
 * Then, with --pending N (default 1 000 000 for file://, else 0): fills the store with N committed
 * messages due over the next day, stops it, and reopens it in a fresh process: time until start()
 * resolves, until the first due page and get are served, RSS and index bytes per message, and (file
 * store) how many messages are hot: id and time in memory; the rest wait in the far index on disk.
 * Targets (issue 5, file://): ≥ 50 000 saves/s; reopen of 1 000 000 pending within 10 s.
 * Target (issue 6, file://): 10 000 000 pending under 400 MB of RSS.
 *   node --import=tsx bench/store.ts -db file:///tmp/kiteq-bench-empty-dir [--pending 1000000]
 */
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import type { MessageStore, StoredMessage } from '../store/message-store.ts'
import { openStore } from '../store/open-store.ts'
import { formatRate, percentile, printMachine } from './machine.ts'

const arg = (name: string, fallback: string) => {
  const i = process.argv.findIndex((a) => a === `--${name}` || a === `-${name}`)
  return i >= 0 ? process.argv[i + 1] : fallback
}
const uri = arg('db', 'memory://')
const seconds = Number(arg('seconds', '5'))
const concurrency = Number(arg('concurrency', '100'))
const bodyBytes = Number(arg('body', '512'))
const topic = 'bench'
const body = Buffer.alloc(bodyBytes, 'x')

function newMessage(): StoredMessage {
  const messageId = randomBytes(16).toString('hex')
  const nowMs = Date.now()
  return {
    messageId, topic, messageType: 'pay-succ', cmdType: 0x12, body, publishGroup: 'p-bench', commit: false,
    header: {
      messageId, topic, messageType: 'pay-succ', expiredTime: Math.floor(nowMs / 1000) + 86400, deliverLimit: 100,
      groupId: 'p-bench', commit: false, fly: false, properties: [], createTime: Math.floor(nowMs / 1000),
    },
    createdAtMs: nowMs, expiredTime: Math.floor(nowMs / 1000) + 86400, deliverAtMs: 0, deliverCount: 0, deliverLimit: 100,
    nextDeliverAtMs: nowMs + 60_000, succGroups: [], failGroups: [], txCheckCount: 0,
  }
}

interface Row { operation: string; ops: number; seconds: number; rate: number; p50: number; p99: number; cpuUsPerOp: number }

/** `concurrency` workers run `op` until `next` says stop; latency per operation. */
async function closedLoop(operation: string, next: () => boolean, op: () => Promise<unknown>): Promise<Row> {
  const latencies: number[] = []
  const worker = async () => {
    while (next()) {
      const t0 = performance.now()
      await op()
      latencies.push(performance.now() - t0)
    }
  }
  const start = performance.now()
  const cpuStart = process.cpuUsage()
  await Promise.all(Array.from({ length: concurrency }, worker))
  const cpu = process.cpuUsage(cpuStart)
  const elapsed = (performance.now() - start) / 1000
  latencies.sort((a, b) => a - b)
  return {
    operation, ops: latencies.length, seconds: elapsed, rate: latencies.length / elapsed, p50: percentile(latencies, 50),
    p99: percentile(latencies, 99), cpuUsPerOp: (cpu.user + cpu.system) / latencies.length,
  }
}

async function run(store: MessageStore): Promise<Row[]> {
  const saved: StoredMessage[] = []
  // warm-up: connections, prepared statements, JIT
  const warmUntil = performance.now() + 1000
  await closedLoop('warm-up', () => performance.now() < warmUntil, async () => {
    const m = newMessage()
    await store.save(m)
    saved.push(m)
  })
  const deadline = performance.now() + seconds * 1000
  const save = await closedLoop('save', () => performance.now() < deadline, async () => {
    const m = newMessage()
    await store.save(m)
    saved.push(m)
  })
  let c = 0
  const commit = await closedLoop('commit', () => c < saved.length, async () => {
    const m = saved[c++]
    if (!(await store.commit(m.topic, m.messageId))) throw new Error(`commit found no ${m.messageId}`)
  })
  let d = 0
  const del = await closedLoop('delete', () => d < saved.length, async () => {
    const m = saved[d++]
    if (!(await store.delete(m.topic, m.messageId))) throw new Error(`delete found no ${m.messageId}`)
  })
  return [save, commit, del]
}

// ---- reopen with N pending messages (durable stores) ------------------------------------------
const pending = Number(arg('pending', uri.startsWith('file:') ? '1000000' : '0'))

/** The child's half of the reopen measurement: open, serve one page and one get, report. */
async function measureOpen(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc
  gc?.()
  const rssBefore = process.memoryUsage().rss
  const store = openStore(uri)
  const t0 = performance.now()
  await store.start()
  const openMs = performance.now() - t0
  const page = await store.dueBetween(-Infinity, Infinity, 5000)
  if (page.length > 0) await store.get(page[0].topic, page[0].messageId)
  const servingMs = performance.now() - t0
  gc?.()
  const rssAfter = process.memoryUsage().rss
  const messages = Object.values((await store.stats()).pendingByTopic).reduce((a, b) => a + b, 0)
  const indexBytes = (store as { indexBytes?: number }).indexBytes
  const hot = (store as { indexCounts?: { hot: number } }).indexCounts?.hot
  await store.stop()
  console.log(JSON.stringify({ openMs, servingMs, rssBefore, rssAfter, messages, indexBytes, hot }))
}

async function fillPending(store: MessageStore, n: number): Promise<number> {
  const t0 = performance.now()
  let made = 0
  const dayMs = 86_400_000
  await closedLoop('fill', () => made < n, async () => {
    made++
    const m = newMessage()
    m.commit = true
    m.nextDeliverAtMs = Date.now() + Math.floor(Math.random() * dayMs)
    await store.save(m)
  })
  return n / ((performance.now() - t0) / 1000)
}

async function reopenBench(n: number): Promise<void> {
  const store = openStore(uri)
  await store.start()
  const fillRate = await fillPending(store, n)
  await store.stop()
  const child = spawnSync(process.execPath, ['--expose-gc', '--import=tsx', fileURLToPath(import.meta.url), '-db', uri, '--open-only'], { encoding: 'utf8' })
  if (child.status !== 0) throw new Error(`reopen child failed: ${child.stderr}`)
  const r = JSON.parse(child.stdout.trim().split('\n').at(-1)!) as {
    openMs: number; servingMs: number; rssBefore: number; rssAfter: number; messages: number; indexBytes?: number; hot?: number
  }
  const mib = (b: number) => (b / 2 ** 20).toFixed(0)
  console.log()
  console.log(`| pending | fill saves/s | start() ms | first page + get ms | RSS before → after MiB | RSS bytes/message | index bytes/message | hot |`)
  console.log('|---|---|---|---|---|---|---|---|')
  console.log(`| ${r.messages} | ${formatRate(fillRate)} | ${r.openMs.toFixed(0)} | ${r.servingMs.toFixed(0)} | ${mib(r.rssBefore)} → ${mib(r.rssAfter)} | ` +
    `${((r.rssAfter - r.rssBefore) / r.messages).toFixed(0)} | ${r.indexBytes === undefined ? '—' : (r.indexBytes / r.messages).toFixed(0)} | ${r.hot ?? '—'} |`)
}

if (process.argv.includes('--open-only')) {
  await measureOpen()
  process.exit(0)
}

printMachine(`bench/store — ${uri.replace(/password=[^&]*/, 'password=***')}, concurrency ${concurrency}, ${bodyBytes} B bodies`)
const store = openStore(uri)
await store.start()
try {
  const rows = await run(store)
  // CPU of this process per operation: the store's client-side cost, whatever the server's load
  console.log('| operation | ops | seconds | ops/s | p50 ms | p99 ms | bench process CPU µs/op |')
  console.log('|---|---|---|---|---|---|---|')
  for (const r of rows) {
    console.log(`| ${r.operation} | ${r.ops} | ${r.seconds.toFixed(1)} | ${formatRate(r.rate)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.cpuUsPerOp.toFixed(1)} |`)
  }
} finally {
  await store.stop()
}
if (pending > 0) await reopenBench(pending)
