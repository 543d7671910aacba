/**
 * Delayed messages, modelled on RocketMQ's TimerProducer/TimerConsumer. The broker runs in its own
 * process; its RSS is read from /proc.
 *   --mode lateness --rate 10000 --slots 10   N = rate × slots messages spread over S one-second
 *        slots, sent shuffled, then lateness (arrival − deliverAt) p50/p99/max
 *        [--timeline] also prints p99 and max lateness per due second, with its clock time
 *   --mode backlog --pending 1000000          N messages due a day ahead: send rate and broker RSS
 *   --mode burst --count 500000               all due in the same second: time until the last arrives
 *        [--warmup 20000] messages due 3 s earlier, not measured (0: the burst meets cold code)
 *        [--timeline] also prints the burst's deliveries per 250 ms
 *   --db URI (default sqlite in a temp dir)
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { bindDirect } from '../binding/binding.ts'
import { KiteQClient } from '../client/index.ts'
import { startBrokerProcess } from './broker-process.ts'
import { formatRate, percentile, printMachine } from './machine.ts'

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : fallback
}
const mode = arg('mode', 'lateness')
/** The store's dir when this run made one (no --db): removed at the end. */
const ownDir = process.argv.includes('--db') ? undefined : mkdtempSync(join(tmpdir(), 'kiteq-delay-'))
const db = ownDir === undefined ? arg('db', '') : `sqlite://${join(ownDir, 'k.db')}`
const topic = 'delay'
const body = 'x'.repeat(512)

const broker = await startBrokerProcess(db, [topic])
const address = broker.address

const arrivals: number[] = []
/** deliverAt of each arrival, parallel to `arrivals`. */
const arrivalDueAt: number[] = []
let onArrival: (() => void) | undefined
const consumer = new KiteQClient({ brokers: [address], groupId: 's-delay', connection: { heartbeat: false } })
consumer.setBindings([bindDirect('s-delay', topic, 't', 0, true)])
consumer.setListener({
  onMessage(m) {
    arrivals.push(Date.now() - (m.deliverAt ?? 0))
    arrivalDueAt.push(m.deliverAt ?? 0)
    onArrival?.()
    return true
  },
})
await consumer.start()
const producer = new KiteQClient({ brokers: [address], groupId: 'p-delay', connection: { heartbeat: false }, publishTimeoutMs: 30_000 })
producer.setTopics([topic])
await producer.start()

/** Sends every deliverAt in `times` (in the given order) with `concurrency` in flight; returns msg/s. */
async function sendAll(times: number[], concurrency = 200): Promise<number> {
  let next = 0
  const start = performance.now()
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < times.length) {
      const deliverAt = times[next++]
      await producer.sendStringMessage({ topic, messageType: 't', body, deliverAt })
    }
  }))
  return times.length / ((performance.now() - start) / 1000)
}

async function waitArrivals(n: number, timeoutMs: number): Promise<boolean> {
  if (arrivals.length >= n) return true
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs)
    onArrival = () => {
      if (arrivals.length >= n) {
        clearTimeout(timer)
        resolve(true)
      }
    }
  })
}

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[items[i], items[j]] = [items[j], items[i]]
  }
  return items
}

printMachine(`bench/delay --mode ${mode} (${db})`)
if (mode === 'lateness') {
  const rate = Number(arg('rate', '10000'))
  const slots = Number(arg('slots', '10'))
  const n = rate * slots
  // the first slot starts after the whole load has been sent (measured send rate ≥ 20 k/s)
  const firstSlot = Date.now() + Math.ceil((n + rate) / 15) + 4000
  // one warm-up second before the measured slots (not counted): the fire path's first run is cold code
  const times = shuffle(Array.from({ length: n + rate }, (_, i) => firstSlot - 1000 + Math.floor(i / rate) * 1000 + Math.floor(((i % rate) * 1000) / rate)))
  const sendRate = await sendAll(times)
  const sentBy = Date.now()
  const ok = await waitArrivals(n + rate, firstSlot - Date.now() + slots * 1000 + 30_000)
  const sorted = arrivals.filter((_, i) => arrivalDueAt[i] >= firstSlot).sort((a, b) => a - b)
  console.log('| messages | due per second | send msg/s | sent before first due | lateness p50 ms | p99 ms | max ms | early (<0) | broker RSS MB |')
  console.log('|---|---|---|---|---|---|---|---|---|')
  console.log(`| ${n} | ${rate} | ${formatRate(sendRate)} | ${firstSlot - sentBy} ms | ${percentile(sorted, 50)} | ${percentile(sorted, 99)} | ${sorted[sorted.length - 1]} | ${sorted.filter((x) => x < 0).length} | ${broker.rssMb().toFixed(0)} |`)
  if (!ok) console.log(`only ${arrivals.length} of ${n + rate} arrived`)
  if (process.argv.includes('--timeline')) {
    // which second was late, by the wall clock the broker's KITEQ_BENCH_ELD lines also carry
    const perSlot: number[][] = Array.from({ length: slots }, () => [])
    arrivals.forEach((late, i) => {
      const slot = Math.floor((arrivalDueAt[i] - firstSlot) / 1000)
      if (slot >= 0 && slot < slots) perSlot[slot].push(late)
    })
    for (const [slot, lates] of perSlot.entries()) {
      lates.sort((a, b) => a - b)
      console.log(`due second ${new Date(firstSlot + slot * 1000).toISOString().slice(11, 19)}: p99 ${percentile(lates, 99)} ms, max ${lates[lates.length - 1]} ms`)
    }
  }
} else if (mode === 'backlog') {
  const pending = Number(arg('pending', '1000000'))
  const rssBefore = broker.rssMb()
  const base = Date.now() + 86_400_000
  const sendRate = await sendAll(Array.from({ length: pending }, (_, i) => base + (i % 3_600_000)))
  global.gc?.()
  await new Promise((r) => setTimeout(r, 2000))
  console.log('| pending delayed | send msg/s | broker RSS before MB | after MB |')
  console.log('|---|---|---|---|')
  console.log(`| ${pending} | ${formatRate(sendRate)} | ${rssBefore.toFixed(0)} | ${broker.rssMb().toFixed(0)} |`)
} else if (mode === 'burst') {
  const count = Number(arg('count', '500000'))
  const warmup = Number(arg('warmup', '20000'))
  const dueAt = Date.now() + Math.ceil((count + warmup) / 15) + 3000
  // the warm-up falls due 3 s before the burst, so the fire and delivery path is compiled code by then,
  // as on a broker that has been delivering (a broker that never delivered spends the burst's first
  // second compiling: --warmup 0 shows it)
  const warmupAt = dueAt - 3000
  const times = [...Array.from({ length: warmup }, () => warmupAt), ...Array.from({ length: count }, () => dueAt + Math.floor(Math.random() * 1000))]
  const sendRate = await sendAll(shuffle(times))
  const warmedUp = await waitArrivals(warmup, dueAt - Date.now())
  // the broker's event loop is what drains the burst: its CPU per message is steadier than wall time on a shared machine
  let mainCpuAtDue = NaN
  let brokerCpuAtDue = NaN
  let ownCpuAtDue = process.cpuUsage()
  const atDue = setTimeout(() => {
    mainCpuAtDue = broker.mainThreadCpuSeconds()
    brokerCpuAtDue = broker.cpuSeconds()
    ownCpuAtDue = process.cpuUsage()
  }, dueAt - Date.now())
  const ok = await waitArrivals(warmup + count, dueAt - Date.now() + 120_000)
  clearTimeout(atDue)
  const mainUsPerMessage = ((broker.mainThreadCpuSeconds() - mainCpuAtDue) * 1e6) / count
  // the whole machine's share: the broker's other threads (store reads, GC) and this process (the consumer)
  const brokerUsPerMessage = ((broker.cpuSeconds() - brokerCpuAtDue) * 1e6) / count
  const ownCpu = process.cpuUsage(ownCpuAtDue)
  const consumerUsPerMessage = (ownCpu.user + ownCpu.system) / count
  const burst = arrivals.filter((_, i) => arrivalDueAt[i] >= dueAt)
  const sorted = [...burst].sort((a, b) => a - b)
  console.log('| messages due in one second | warm-up | send msg/s | all delivered | lateness p50 ms | p99 ms | max ms | broker main thread µs/msg | broker µs/msg | consumer µs/msg | broker RSS MB |')
  console.log('|---|---|---|---|---|---|---|---|---|---|---|')
  console.log(`| ${count} | ${warmedUp ? warmup : `${warmup} (not all arrived before the burst)`} | ${formatRate(sendRate)} | ${ok} | ${percentile(sorted, 50)} | ${percentile(sorted, 99)} | ${sorted[sorted.length - 1]} | ${mainUsPerMessage.toFixed(1)} | ${brokerUsPerMessage.toFixed(1)} | ${consumerUsPerMessage.toFixed(1)} | ${broker.rssMb().toFixed(0)} |`)
  if (process.argv.includes('--timeline')) {
    const perQuarter: number[] = []
    for (let i = 0; i < arrivals.length; i++) {
      if (arrivalDueAt[i] < dueAt) continue
      const quarter = Math.max(0, Math.floor((arrivals[i] + arrivalDueAt[i] - dueAt) / 250))
      perQuarter[quarter] = (perQuarter[quarter] ?? 0) + 1
    }
    console.log(`delivered per 250 ms from the burst's second: ${Array.from(perQuarter, (n) => n ?? 0).join(' ')}`)
  }
}
await producer.close()
await consumer.close()
await broker.stop()
if (ownDir !== undefined) rmSync(ownDir, { recursive: true, force: true })
