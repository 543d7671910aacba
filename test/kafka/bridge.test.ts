/**
 * The Kafka bridge against the real Kafka of scripts/services.sh (KITEQ_TEST_KAFKA; missing = the
 * tests FAIL). Serial: one test stops Kafka for 30 s, which the others must not run into.
 */
import test, { type ExecutionContext } from 'ava'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import kafkajs, { type Admin, type Kafka } from 'kafkajs'
import { bindDirect } from '../../binding/binding.ts'
import { KiteQClient } from '../../client/index.ts'
import { KafkaBridge } from '../../kafka/bridge.ts'
import { KafkaHeaders } from '../../kafka/record.ts'
import { parseKafkaRoutes } from '../../kafka/routes.ts'
import { randomName, startBroker } from '../helpers/broker.ts'
import { BrokerProcess, freePort } from '../helpers/broker-process.ts'
import { eventually, startConsumer, startProducer } from '../helpers/clients.ts'
import { runScript } from '../helpers/scripts.ts'

function kafkaAddress(): string {
  const address = process.env.KITEQ_TEST_KAFKA
  if (address === undefined || !/^.+:\d+$/.test(address)) {
    throw new Error(`KITEQ_TEST_KAFKA is ${address === undefined ? 'not set' : `malformed (${address})`}: run scripts/services.sh start and pass the lines of .services/env`)
  }
  return address
}

function kafkaClient(): Kafka {
  return new kafkajs.Kafka({ brokers: [kafkaAddress()], clientId: 'kiteq-test', logLevel: kafkajs.logLevel.NOTHING })
}

/** Kafka topic names allow '.', '_' and '-' only. */
const kafkaTopicName = (prefix: string) => randomName(prefix).replace(/[^A-Za-z0-9._-]/g, '-')

async function createTopics(admin: Admin, topics: string[], numPartitions = 3): Promise<void> {
  await admin.createTopics({ topics: topics.map((topic) => ({ topic, numPartitions, replicationFactor: 1 })), waitForLeaders: true })
}

interface ReadRecord {
  key: string
  value: Buffer
  headers: Record<string, string | string[]>
  timestampMs: number
  arrivedAtMs: number
}

/** A fresh Kafka topic for one test and the admin that made it; drop() disconnects it and deletes the topic. */
async function freshKafkaTopic(prefix: string, numPartitions = 3) {
  const kafka = kafkaClient()
  const admin = kafka.admin()
  await admin.connect()
  const kafkaTopic = kafkaTopicName(prefix)
  await createTopics(admin, [kafkaTopic], numPartitions)
  const drop = async () => {
    await admin.disconnect()
    await deleteKafkaTopic(kafkaTopic)
  }
  return { kafka, admin, kafkaTopic, drop }
}

/**
 * Deletes a test's topic with an admin of its own (the outage test's admin is gone by then): the
 * records would otherwise stay in the service's data dir after every run.
 */
async function deleteKafkaTopic(kafkaTopic: string): Promise<void> {
  const admin = kafkaClient().admin()
  await admin.connect()
  await admin.deleteTopics({ topics: [kafkaTopic] }).catch(() => {})
  await admin.disconnect()
}

/** Reads a Kafka topic from the beginning; `seen` counts copies per key. */
async function startReader(kafka: Kafka, topic: string) {
  const consumer = kafka.consumer({ groupId: randomName('reader'), maxWaitTimeInMs: 100 })
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  const records: ReadRecord[] = []
  const seen = new Map<string, number>()
  let missing: Set<string> | undefined
  await consumer.run({
    eachBatch: async ({ batch }) => {
      const now = Date.now()
      for (const m of batch.messages) {
        const headers: Record<string, string | string[]> = {}
        for (const [k, v] of Object.entries(m.headers ?? {})) {
          if (v === undefined) continue
          headers[k] = Array.isArray(v) ? v.map((x) => x.toString()) : v.toString()
        }
        const key = m.key!.toString()
        records.push({ key, value: m.value!, headers, timestampMs: Number(m.timestamp), arrivedAtMs: now })
        seen.set(key, (seen.get(key) ?? 0) + 1)
        missing?.delete(key)
      }
    },
  })
  return {
    records,
    seen,
    /** Resolves once every id has been read at least once. */
    async waitForAll(ids: Iterable<string>, timeoutMs: number): Promise<void> {
      missing = new Set([...ids].filter((id) => !seen.has(id)))
      const set = missing
      await eventually(() => set.size === 0, timeoutMs, `all acknowledged messages in Kafka (still missing ${set.size})`)
    },
    stop: () => consumer.disconnect(),
  }
}

/** Sends messages from `concurrency` workers until `stop()` (or `count`); only acknowledged ids count. */
function publisher(client: KiteQClient, topic: string, opts: { count?: number; ratePerSecond?: number; concurrency?: number; bodyBytes?: number }) {
  const filler = 'x'.repeat(opts.bodyBytes ?? 1000)
  const acked: string[] = []
  let failed = 0
  let next = 0
  let stopped = false
  const startedAt = performance.now()
  const worker = async () => {
    while (!stopped && (opts.count === undefined || next < opts.count)) {
      const i = next++
      if (opts.ratePerSecond !== undefined) {
        const due = startedAt + (i * 1000) / opts.ratePerSecond
        const wait = due - performance.now()
        if (wait > 0) await new Promise((r) => setTimeout(r, wait)) // pacing the load, not waiting for a result
      }
      try {
        const { messageId } = await client.sendStringMessage({ topic, messageType: 'm', body: `m-${i}-${filler}` })
        acked.push(messageId)
      } catch {
        failed++ // not acknowledged: the broker owes nothing for it
        await new Promise((r) => setTimeout(r, 20))
      }
    }
  }
  const done = Promise.all(Array.from({ length: opts.concurrency ?? 20 }, worker))
  return {
    acked,
    get failed() {
      return failed
    },
    async stop() {
      stopped = true
      await done
    },
    done,
  }
}

/** Asynchronous: the publisher and the local consumer live in this process and must keep running while Kafka stops and starts. */
const kafkaScript = (action: 'start' | 'stop') => runScript('scripts/kafka.sh', [action], 180_000)

const quickReconnect = { heartbeat: false as const, reconnect: { initialDelayMs: 50, maxDelayMs: 400 } }

// ------------------------------------------------------------------------------------------ tests

test.serial('10 000 messages arrive in the mapped Kafka topic with key, headers and body intact; routes filter by messageType', async (t) => {
  t.timeout(120_000)
  const { kafka, kafkaTopic, drop } = await freshKafkaTopic('kiteq.pay')
  const topic = randomName('kq')
  // Regx for pay-*, Direct for refund, both into one Kafka topic; 'other' goes nowhere
  const reported = { ok: 0, failed: 0, otherTopic: 0 }
  const bridge = new KafkaBridge({
    brokers: [kafkaAddress()], routes: parseKafkaRoutes(`${topic}/~^pay-:${kafkaTopic},${topic}/=refund:${kafkaTopic}`),
    onForward: (kiteqTopic, ok) => (kiteqTopic !== topic ? reported.otherTopic++ : ok ? reported.ok++ : reported.failed++),
  })
  bridge.start()
  const broker = await startBroker({ topics: [topic], deliveryTargets: bridge.deliveryTargets })
  const publisherGroup = randomName('p')
  const producer = await startProducer(broker.address, publisherGroup, [topic])
  const reader = await startReader(kafka, kafkaTopic)

  const types = ['pay-succ', 'pay-fail', 'refund']
  const sent = new Map<string, { type: string; body: Buffer; isString: boolean; i: number }>()
  const startSec = Math.floor(Date.now() / 1000)
  let next = 0
  let others = 0
  await Promise.all(Array.from({ length: 50 }, async () => {
    while (next < 10_000) {
      const i = next++
      const type = types[i % 3]
      const properties = { seq: String(i), 'note-é': `值-${i}` }
      if (i % 1000 === 7) {
        others++
        await producer.sendStringMessage({ topic, messageType: 'other', body: 'not routed' })
      }
      if (i % 10 === 0) {
        const body = randomBytes(1 + (i % 300))
        const { messageId } = await producer.sendBytesMessage({ topic, messageType: type, body, properties })
        sent.set(messageId, { type, body, isString: false, i })
      } else {
        const body = `body-${i}-${'é'.repeat(i % 40)}`
        const { messageId } = await producer.sendStringMessage({ topic, messageType: type, body, properties })
        sent.set(messageId, { type, body: Buffer.from(body), isString: true, i })
      }
    }
  }))
  t.is(sent.size, 10_000)
  await reader.waitForAll(sent.keys(), 60_000)
  const endSec = Math.floor(Date.now() / 1000)

  const problems: string[] = []
  for (const r of reader.records) {
    const s = sent.get(r.key)
    if (s === undefined) {
      problems.push(`unexpected record ${r.key} of type ${String(r.headers[KafkaHeaders.MESSAGE_TYPE])}`)
      continue
    }
    if (!r.value.equals(s.body)) problems.push(`body of message ${s.i} differs`)
    const expected = {
      [KafkaHeaders.TOPIC]: topic, [KafkaHeaders.MESSAGE_TYPE]: s.type, [KafkaHeaders.GROUP_ID]: publisherGroup,
      [KafkaHeaders.CREATE_TIME]: r.headers[KafkaHeaders.CREATE_TIME], 'kiteq-prop-seq': String(s.i), 'kiteq-prop-note-é': `值-${s.i}`,
    }
    if (JSON.stringify(r.headers) !== JSON.stringify(expected)) problems.push(`headers of message ${s.i}: ${JSON.stringify(r.headers)}`)
    const created = Number(r.headers[KafkaHeaders.CREATE_TIME])
    if (!(created >= startSec && created <= endSec)) problems.push(`create time ${created} outside [${startSec}, ${endSec}]`)
  }
  t.deepEqual(problems.slice(0, 3), [], `${problems.length} records differ`)
  const duplicates = reader.records.length - reader.seen.size
  t.log(`${reader.records.length} records for ${sent.size} messages (${duplicates} duplicates), ${others} unrouted messages not forwarded; ${bridge.counters.requests} produce requests`)
  t.is(duplicates, 0, 'no failure happened, so no copy either')
  t.deepEqual(reported, { ok: sent.size, failed: 0, otherTopic: 0 }, 'every forward reported by KiteQ topic (what /metrics counts)')
  t.true(bridge.counters.requests < 5_000, 'batched, not one request per message')
  await eventually(async () => ((await broker.server.store.stats()).pendingByTopic[topic] ?? 0) === 0, 10_000, 'every forwarded message is done in the store')

  await reader.stop()
  await producer.close()
  await broker.server.stop()
  await bridge.stop()
  await drop()
})

test.serial('a delayed message reaches Kafka no earlier than its deliverAt', async (t) => {
  t.timeout(60_000)
  const { kafka, kafkaTopic, drop } = await freshKafkaTopic('kiteq.delay', 1)
  const topic = randomName('kq')
  const bridge = new KafkaBridge({ brokers: [kafkaAddress()], routes: parseKafkaRoutes(`${topic}:${kafkaTopic}`) })
  bridge.start()
  const broker = await startBroker({ topics: [topic], deliveryTargets: bridge.deliveryTargets })
  const producer = await startProducer(broker.address, randomName('p'), [topic])
  const reader = await startReader(kafka, kafkaTopic)

  const deliverAt = Date.now() + 2_000
  const delayed = await producer.sendStringMessage({ topic, messageType: 'm', body: 'later', deliverAt })
  const now = await producer.sendStringMessage({ topic, messageType: 'm', body: 'now' })
  await reader.waitForAll([delayed.messageId, now.messageId], 20_000)
  const [first, second] = reader.records
  t.is(first.key, now.messageId, 'the undelayed message, sent after it, arrives first')
  t.is(second.key, delayed.messageId)
  t.true(second.arrivedAtMs >= deliverAt, `read ${deliverAt - second.arrivedAtMs} ms before deliverAt`)
  t.true(second.timestampMs >= deliverAt, `written ${deliverAt - second.timestampMs} ms before deliverAt`)
  t.is(second.headers[KafkaHeaders.DELIVER_AT], String(deliverAt))
  t.log(`written to Kafka ${second.timestampMs - deliverAt} ms after deliverAt`)

  await reader.stop()
  await producer.close()
  await broker.server.stop()
  await bridge.stop()
  await drop()
})

test.serial('broker killed with SIGKILL mid-forward: every acknowledged message reaches Kafka (duplicates counted)', async (t) => {
  t.timeout(180_000)
  const { kafka, admin, kafkaTopic, drop } = await freshKafkaTopic('kiteq.crash')
  const topic = randomName('kq')
  const db = `sqlite://${join(mkdtempSync(join(tmpdir(), 'kiteq-kafka-crash-')), 'k.db')}`
  // a watermark of 500/s keeps a backlog behind the publisher however slow the machine: the kill lands mid-forward
  const broker = new BrokerProcess(await freePort(), [`-topics=${topic}`, `-db=${db}`, `-kafka=${kafkaAddress()}`, `-kafkaRoutes=${topic}:${kafkaTopic}@500`])
  await broker.start()
  const client = new KiteQClient({ brokers: [broker.address], groupId: randomName('p'), connection: quickReconnect, publishTimeoutMs: 2000 })
  client.setTopics([topic])
  await client.start()
  const forwarded = async () => Number((await admin.fetchTopicOffsets(kafkaTopic)).reduce((n, p) => n + Number(p.high), 0))

  const load = publisher(client, topic, { concurrency: 50 })
  await eventually(async () => (await forwarded()) >= 2_000 && load.acked.length >= 4_000, 60_000, 'forwarding under way')
  const ackedAtKill = load.acked.length
  await broker.kill()
  const forwardedAtKill = await forwarded()
  t.log(`SIGKILL with ${ackedAtKill} acknowledged and ${forwardedAtKill} in Kafka`)
  t.true(forwardedAtKill < ackedAtKill, 'killed while acknowledged messages were still to forward')
  await broker.start()
  await eventually(() => load.acked.length >= ackedAtKill + 3_000, 60_000, 'publishing goes on after the restart')
  await load.stop()

  const reader = await startReader(kafka, kafkaTopic)
  await reader.waitForAll(load.acked, 90_000)
  const duplicates = reader.records.length - reader.seen.size
  t.log(`${load.acked.length} acknowledged (${load.failed} sends failed around the kill), ${reader.records.length} records in Kafka, ${reader.seen.size} distinct, ${duplicates} duplicates`)
  t.true(reader.seen.size >= load.acked.length)

  await reader.stop()
  await client.close()
  await broker.stop()
  await drop()
})

test.serial('[outage] Kafka down for 30 s under load: local consumers keep receiving, memory stays bounded, every acknowledged message reaches Kafka', async (t) => {
  t.timeout(300_000)
  const kafka = kafkaClient()
  const admin = kafka.admin()
  await admin.connect()
  const topic = randomName('kq')
  const kafkaTopic = kafkaTopicName('kiteq.outage')
  await createTopics(admin, [kafkaTopic])
  await admin.disconnect()
  const dbDir = mkdtempSync(join(tmpdir(), 'kiteq-kafka-outage-'))
  const db = `sqlite://${join(dbDir, 'k.db')}`
  const broker = new BrokerProcess(await freePort(), [`-topics=${topic}`, `-db=${db}`, `-kafka=${kafkaAddress()}`, `-kafkaRoutes=${topic}:${kafkaTopic}`])
  await broker.start()
  const group = randomName('s')
  const local = await startConsumer({ address: broker.address, group, bindings: [bindDirect(group, topic, 'm', 0)], connection: quickReconnect })
  const client = await startProducer(broker.address, randomName('p'), [topic])
  let kafkaStopped = false
  try {
    const rate = 1_000
    // 4 KB bodies: buffering the outage's messages would show as far more than the bound below
    const bodyBytes = 4_000
    const load = publisher(client, topic, { ratePerSecond: rate, concurrency: 20, bodyBytes })
    const rss: { phase: string; bytes: number }[] = []
    let phase = 'before'
    const sampler = setInterval(() => rss.push({ phase, bytes: broker.rssBytes() }), 250)

    await eventually(() => load.acked.length >= 8 * rate, 30_000, 'warm-up load')
    phase = 'down'
    await kafkaScript('stop')
    kafkaStopped = true
    const downAt = Date.now()
    const localAtDown = local.received.length
    const ackedAtDown = load.acked.length
    // the outage lasts 30 s; meanwhile the local group must keep receiving
    await eventually(() => Date.now() - downAt >= 30_000, 40_000, 'the outage')
    const localDuring = local.received.length - localAtDown
    const ackedDuring = load.acked.length - ackedAtDown
    phase = 'after'
    await kafkaScript('start')
    kafkaStopped = false
    await eventually(() => load.acked.length >= ackedAtDown + ackedDuring + 5 * rate, 60_000, 'load after the outage')
    await load.stop()
    clearInterval(sampler)

    const reader = await startReader(kafkaClient(), kafkaTopic)
    await reader.waitForAll(load.acked, 120_000)
    const max = (p: string) => Math.max(...rss.filter((s) => s.phase === p).map((s) => s.bytes))
    const mib = (b: number) => (b / 2 ** 20).toFixed(1)
    const before = max('before')
    const down = max('down')
    t.log(`local group: ${localDuring} received while Kafka was down, ${ackedDuring} acknowledged meanwhile`)
    const outageBytes = ackedDuring * bodyBytes
    t.log(`broker RSS max: before ${mib(before)} MiB, Kafka down ${mib(down)} MiB, after ${mib(max('after'))} MiB; ${mib(outageBytes)} MiB of bodies published during the outage`)
    t.log(`${load.acked.length} acknowledged, ${reader.records.length} records in Kafka, ${reader.records.length - reader.seen.size} duplicates`)
    t.true(localDuring >= ackedDuring * 0.9, 'the local group is not held up by Kafka')
    t.true(down - before < Math.min(64 * 2 ** 20, outageBytes / 2), `RSS grew ${mib(down - before)} MiB while Kafka was down`)
    await eventually(() => local.received.length >= load.acked.length, 30_000, 'the local group has everything')
    const localIds = new Set(local.received.map((m) => m.messageId))
    t.true(load.acked.every((id) => localIds.has(id)))
    await reader.stop()
  } finally {
    if (kafkaStopped) await kafkaScript('start')
    await client.close()
    await local.client.close()
    await broker.stop()
    rmSync(dbDir, { recursive: true, force: true })
    await deleteKafkaTopic(kafkaTopic)
  }
})
