/**
 * End to end: TypeScript producer → broker (own process) → TypeScript consumer, 512 B bodies.
 * Prints published and delivered msg/s and publish→deliver latency at producer concurrency 1, 10
 * and 100; latency at an offered 10 000 msg/s; transactional sends and commit→delivery latency; on
 * request (slow<ms>) c=1 with a consumer that answers each message after <ms>, where the published
 * rate shows what a producer waiting for each acknowledgement gets from a store that does not
 * keep its writes back for such consumers (mysql insertHoldMs).
 * Targets (issue 4, memory store): ≥ 100 000 msg/s delivered at c=100; p99 < 10 ms at 10 000 msg/s
 * offered; tx sends ≥ half the plain rate, commit→delivery p99 < 10 ms.
 *   node --import=tsx bench/pubsub.ts [--db memory://] [--seconds 5] [--scenarios c1,c10,c100,offered,offered30000,tx]
 */
import { bindDirect } from '../binding/binding.ts'
import { KiteQClient, messageId, type ReceivedMessage } from '../client/index.ts'
import { startBrokerProcess } from './broker-process.ts'
import { formatRate, percentile, printMachine } from './machine.ts'

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : fallback
}
const db = arg('db', 'memory://')
const seconds = Number(arg('seconds', '5'))
/**
 * Rows to run: c<N> (closed loop at concurrency N), offered (10 000/s) or offered<N> (N/s), tx (c=100),
 * slow<ms> (c=1, the consumer answering after <ms>).
 * A fixed offered rate also compares the broker's CPU per message between two builds on a busy
 * machine: unlike a closed loop, its batching does not change with how much CPU the broker gets.
 */
const scenarios = arg('scenarios', 'c1,c10,c100,offered,tx').split(',')
const topic = 'bench'
const body = 'x'.repeat(512)

const broker = await startBrokerProcess(db, [topic])
const address = broker.address

/**
 * Send times by message: ids are a random prefix of this run and a sequence number in their last 8
 * hex digits, indexing `sentAt`. A Map of id strings cost the bench process ~0.5 µs a message,
 * which on two cores is taken from the broker being measured.
 */
const idPrefix = messageId().slice(0, 24)
let sentAt = new Float64Array(1 << 20).fill(NaN)
let nextSeq = 0
function newMessageId(): { messageId: string; seq: number } {
  const seq = nextSeq++
  if (seq >= sentAt.length) {
    const grown = new Float64Array(sentAt.length * 2).fill(NaN)
    grown.set(sentAt)
    sentAt = grown
  }
  return { messageId: idPrefix + seq.toString(16).padStart(8, '0'), seq }
}
let delivered = 0
let latencies: number[] = []
let onDelivered: (() => void) | undefined
/** How long the consumer takes to answer each message (the slow<ms> rows). */
let consumerDelayMs = 0
const answerLater = (resolve: (ok: boolean) => void) => setTimeout(resolve, consumerDelayMs, true)
const consumer = new KiteQClient({ brokers: [address], groupId: 's-bench', connection: { heartbeat: false } })
consumer.setBindings([bindDirect('s-bench', topic, 'pay-succ', 0, true)])
consumer.setListener({
  onMessage(m: ReceivedMessage) {
    const seq = m.messageId.startsWith(idPrefix) ? parseInt(m.messageId.slice(24), 16) : -1
    const t0 = seq >= 0 ? sentAt[seq] : NaN
    if (!Number.isNaN(t0)) {
      latencies.push(performance.now() - t0)
      sentAt[seq] = NaN
    }
    delivered++
    onDelivered?.()
    return consumerDelayMs === 0 ? true : new Promise<boolean>(answerLater)
  },
})
await consumer.start()
const producer = new KiteQClient({ brokers: [address], groupId: 'p-bench', connection: { heartbeat: false } })
producer.setTopics([topic])
await producer.start()

async function drain(target: number): Promise<void> {
  if (delivered >= target) return
  await new Promise<void>((resolve) => {
    onDelivered = () => {
      if (delivered >= target) {
        onDelivered = undefined
        resolve()
      }
    }
  })
}

interface Row { scenario: string; published: number; deliveredRate: number; p50: number; p99: number; brokerUsPerMessage: number; clientUsPerMessage: number }
const rows: Row[] = []
/** Broker CPU (µs) per delivered message since `cpuBefore`: what the broker's own work costs. */
const brokerUsPerMessage = (cpuBefore: number, messages: number) => ((broker.cpuSeconds() - cpuBefore) * 1e6) / Math.max(1, messages)
/**
 * This process's CPU (µs) per delivered message: both clients plus the bench's bookkeeping. On two
 * cores the broker and this process share the machine, so the sum of the two columns bounds the rate.
 */
const clientUsPerMessage = (before: NodeJS.CpuUsage, messages: number) => {
  const used = process.cpuUsage(before)
  return (used.user + used.system) / Math.max(1, messages)
}

async function closedLoop(concurrency: number, tx: boolean, label = `${tx ? 'tx' : 'plain'} c=${concurrency}`): Promise<void> {
  latencies = []
  const startDelivered = delivered
  const cpuBefore = broker.cpuSeconds()
  const clientCpuBefore = process.cpuUsage()
  let published = 0
  const deadline = performance.now() + seconds * 1000
  const start = performance.now()
  const worker = async () => {
    while (performance.now() < deadline) {
      const { messageId, seq } = newMessageId()
      if (tx) {
        await producer.sendTxStringMessage({ topic, messageType: 'pay-succ', body, messageId }, () => {
          sentAt[seq] = performance.now() // latency counts from the commit
          return true
        })
      } else {
        sentAt[seq] = performance.now()
        await producer.sendStringMessage({ topic, messageType: 'pay-succ', body, messageId })
      }
      published++
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  const publishSeconds = (performance.now() - start) / 1000
  await drain(startDelivered + published)
  const deliverSeconds = (performance.now() - start) / 1000
  latencies.sort((a, b) => a - b)
  rows.push({
    scenario: label,
    published: published / publishSeconds,
    deliveredRate: (delivered - startDelivered) / deliverSeconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    brokerUsPerMessage: brokerUsPerMessage(cpuBefore, delivered - startDelivered),
    clientUsPerMessage: clientUsPerMessage(clientCpuBefore, delivered - startDelivered),
  })
}

async function offered(ratePerSecond: number): Promise<void> {
  latencies = []
  const startDelivered = delivered
  const cpuBefore = broker.cpuSeconds()
  const clientCpuBefore = process.cpuUsage()
  const total = ratePerSecond * seconds
  const start = performance.now()
  let sent = 0
  const inflight = new Set<Promise<unknown>>()
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - start) * ratePerSecond) / 1000))
    while (sent < due) {
      const { messageId, seq } = newMessageId()
      sentAt[seq] = performance.now()
      const p = producer.sendStringMessage({ topic, messageType: 'pay-succ', body, messageId })
      inflight.add(p)
      void p.finally(() => inflight.delete(p))
      sent++
    }
    await new Promise((r) => setTimeout(r, 1))
  }
  await Promise.all(inflight)
  await drain(startDelivered + total)
  latencies.sort((a, b) => a - b)
  const elapsed = (performance.now() - start) / 1000
  rows.push({ scenario: `offered ${ratePerSecond}/s`, published: total / elapsed, deliveredRate: (delivered - startDelivered) / elapsed, p50: percentile(latencies, 50), p99: percentile(latencies, 99), brokerUsPerMessage: brokerUsPerMessage(cpuBefore, total), clientUsPerMessage: clientUsPerMessage(clientCpuBefore, total) })
}

// warm-up
await closedLoop(50, false)
rows.length = 0
for (const scenario of scenarios) {
  if (scenario.startsWith('offered')) await offered(Number(scenario.slice('offered'.length)) || 10_000)
  else if (scenario === 'tx') await closedLoop(100, true)
  else if (scenario.startsWith('slow')) {
    consumerDelayMs = Number(scenario.slice('slow'.length)) || 30
    await closedLoop(1, false, `plain c=1, consumer ${consumerDelayMs} ms`)
    consumerDelayMs = 0
  }
  else await closedLoop(Number(scenario.slice(1)), false)
}

printMachine(`bench/pubsub: TS producer → broker (${db}, own process) → TS consumer, 512 B, ${seconds} s per row`)
console.log('| scenario | published msg/s | delivered msg/s | publish→deliver p50 ms | p99 ms | broker CPU µs/msg | client CPU µs/msg |')
console.log('|---|---|---|---|---|---|---|')
for (const r of rows) console.log(`| ${r.scenario} | ${formatRate(r.published)} | ${formatRate(r.deliveredRate)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.brokerUsPerMessage.toFixed(1)} | ${r.clientUsPerMessage.toFixed(1)} |`)
console.log('(tx rows: latency is commit → delivery)')
await producer.close()
await consumer.close()
await broker.stop()
