/**
 * Forwarding into the local single-node Kafka, 512 B bodies. Target (issue 8): ≥ 20 000 msg/s.
 * Rows:
 * - bridge alone: this process calls the Kafka group's deliver() with 20 000 outstanding, as the
 *   broker would, and counts acknowledged records (the ceiling of the bridge + kafkajs on one core);
 * - end to end: TS producer → broker (the kiteq CLI in its own process, memory store, one route)
 *   → Kafka, closed loop at c=100 and at an offered 20 000 and 30 000 msg/s; "forwarded" = records Kafka
 *   received per second, from its partition offsets, until every published message is there.
 *   node --import=tsx bench/kafka.ts [--kafka 127.0.0.1:9093] [--seconds 5]
 */
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { connect } from 'node:net'
import { fileURLToPath } from 'node:url'
import kafkajs, { type Admin } from 'kafkajs'
import { KiteQClient } from '../client/index.ts'
import { KafkaBridge } from '../kafka/bridge.ts'
import { parseKafkaRoutes } from '../kafka/routes.ts'
import type { StoredMessage } from '../store/message-store.ts'
import { freePort } from '../test/helpers/broker-process.ts'
import { formatRate, printMachine } from './machine.ts'

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : fallback
}
const kafkaAddress = arg('kafka', process.env.KITEQ_TEST_KAFKA ?? '127.0.0.1:9093')
const seconds = Number(arg('seconds', '5'))
const bodyText = 'x'.repeat(512)
const body = Buffer.from(bodyText)
const partitions = 3

const kafka = new kafkajs.Kafka({ brokers: [kafkaAddress], clientId: 'kiteq-bench', logLevel: kafkajs.logLevel.NOTHING })
const admin = kafka.admin()
await admin.connect()
const created: string[] = []

async function newTopic(): Promise<string> {
  const topic = `kiteq-bench-${randomBytes(4).toString('hex')}`
  await admin.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }], waitForLeaders: true })
  created.push(topic)
  return topic
}

async function recordsIn(a: Admin, topic: string): Promise<number> {
  return (await a.fetchTopicOffsets(topic)).reduce((n, p) => n + Number(p.high), 0)
}

const until = async (condition: () => boolean | Promise<boolean>, pollMs = 20) => {
  while (!(await condition())) await new Promise((r) => setTimeout(r, pollMs))
}

interface Row { scenario: string; published: number; forwarded: number; note: string }
const rows: Row[] = []

// ------------------------------------------------------------------------------ bridge alone

function stored(): StoredMessage {
  const messageId = randomBytes(16).toString('hex')
  return {
    messageId, topic: 'bench', messageType: 'pay-succ', cmdType: 0x12,
    header: { messageId, topic: 'bench', messageType: 'pay-succ', expiredTime: -1, deliverLimit: 100, groupId: 'p-bench', commit: true, fly: false, properties: [], createTime: Math.floor(Date.now() / 1000) },
    body, publishGroup: 'p-bench', commit: true, createdAtMs: Date.now(), expiredTime: 0, deliverAtMs: 0,
    deliverCount: 0, deliverLimit: 100, nextDeliverAtMs: 0, succGroups: [], failGroups: [], txCheckCount: 0,
  }
}

async function bridgeAlone(): Promise<void> {
  const topic = await newTopic()
  const bridge = new KafkaBridge({ brokers: [kafkaAddress], routes: parseKafkaRoutes(`bench:${topic}`), maxPendingMessages: 20_000 })
  bridge.start()
  await until(() => bridge.connected)
  const target = bridge.deliveryTargets[0].target
  // messages made up front, so the row times the bridge and not the bench
  const pool = Array.from({ length: 20_000 }, stored)
  let ok = 0
  let failed = 0
  const deadline = performance.now() + seconds * 1000
  const start = performance.now()
  await Promise.all(pool.map(async (m) => {
    while (performance.now() < deadline) {
      const busy = target.busyForMs()
      if (busy > 0) {
        await new Promise((r) => setTimeout(r, busy))
        continue
      }
      if (await target.deliver(m)) ok++
      else failed++
    }
  }))
  const elapsed = (performance.now() - start) / 1000
  const c = bridge.counters
  rows.push({ scenario: 'bridge alone, 20 000 outstanding', published: NaN, forwarded: ok / elapsed, note: `${failed} failed, ${Math.round(c.forwarded / c.requests)} records per produce request` })
  await bridge.stop()
}

// ------------------------------------------------------------------------------ end to end

async function endToEnd(): Promise<void> {
  const topic = await newTopic()
  const port = await freePort()
  const prof = process.env.KITEQ_BENCH_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.KITEQ_BENCH_PROF}`] : []
  const broker = spawn(process.execPath, [...prof, '--import=tsx', fileURLToPath(new URL('../kiteq.ts', import.meta.url)),
    `-bind=127.0.0.1:${port}`, '-topics=bench', '-db=memory://?maxMessages=2000000&maxBytes=4000000000', `-kafka=${kafkaAddress}`, `-kafkaRoutes=bench:${topic}`, '-logLevel=warn'], {
    stdio: ['ignore', 'inherit', 'inherit'],
  })
  process.on('exit', () => broker.kill('SIGKILL')) // never leave it behind, whatever happens here
  await until(() => new Promise<boolean>((resolve) => {
    const s = connect({ host: '127.0.0.1', port })
    s.once('connect', () => (s.destroy(), resolve(true)))
    s.once('error', () => resolve(false))
  }), 100)
  const producer = new KiteQClient({ brokers: [`127.0.0.1:${port}`], groupId: 'p-bench', connection: { heartbeat: false } })
  producer.setTopics(['bench'])
  await producer.start()
  let total = 0
  let failed = 0

  const measure = async (scenario: string, publish: () => Promise<number>) => {
    const before = await recordsIn(admin, topic)
    failed = 0
    const start = performance.now()
    const published = await publish()
    const publishSeconds = (performance.now() - start) / 1000
    total += published
    let lastLog = 0
    await until(async () => {
      const n = await recordsIn(admin, topic)
      if (process.env.KITEQ_BENCH_DEBUG && performance.now() - lastLog > 2000) (lastLog = performance.now(), console.error(scenario, n, total))
      return n >= total
    }, 50)
    const forwardSeconds = (performance.now() - start) / 1000
    const forwarded = (await recordsIn(admin, topic)) - before
    const refused = failed > 0 ? ` (${failed} more not acknowledged within the publish timeout)` : ''
    rows.push({ scenario, published: published / publishSeconds, forwarded: forwarded / forwardSeconds, note: `${published} published${refused}; all in Kafka ${(forwardSeconds - publishSeconds).toFixed(1)} s after the last publish` })
  }

  const closedLoop = (concurrency: number) => async () => {
    let n = 0
    const deadline = performance.now() + seconds * 1000
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        await producer.sendStringMessage({ topic: 'bench', messageType: 'pay-succ', body: bodyText })
        n++
      }
    }))
    return n
  }

  const offered = (ratePerSecond: number) => async () => {
    const count = ratePerSecond * seconds
    const start = performance.now()
    const inflight = new Set<Promise<unknown>>()
    let sent = 0
    let acked = 0
    while (sent < count) {
      const due = Math.min(count, Math.floor(((performance.now() - start) * ratePerSecond) / 1000))
      for (; sent < due; sent++) {
        // an overloaded broker answers late: a timed-out publish is counted, not fatal
        const p = producer.sendStringMessage({ topic: 'bench', messageType: 'pay-succ', body: bodyText }).then(() => acked++, () => failed++)
        inflight.add(p)
        void p.finally(() => inflight.delete(p))
      }
      await new Promise((r) => setTimeout(r, 1))
    }
    await Promise.all(inflight)
    return acked
  }

  total = await closedLoop(50)() // warm-up
  await until(async () => (await recordsIn(admin, topic)) >= total, 50)
  await measure('end to end, producer c=100', closedLoop(100))
  await measure('end to end, offered 20 000/s', offered(20_000))
  // beyond what one broker process forwards: the backlog waits in the store, the outbox stays full
  await measure('end to end, offered 30 000/s (overload)', offered(30_000))
  await producer.close()
  broker.kill('SIGTERM')
  await new Promise((r) => broker.once('exit', r))
}

await bridgeAlone()
await endToEnd()
await admin.deleteTopics({ topics: created }).catch(() => {})
await admin.disconnect()

printMachine(`bench/kafka: forwarding into Kafka ${kafkaAddress} (single node, ${partitions} partitions, acks=all, idempotent), 512 B bodies, ${seconds} s per row`)
console.log('| scenario | published msg/s | forwarded msg/s | note |')
console.log('|---|---|---|---|')
for (const r of rows) console.log(`| ${r.scenario} | ${Number.isNaN(r.published) ? '—' : formatRate(r.published)} | ${formatRate(r.forwarded)} | ${r.note} |`)
