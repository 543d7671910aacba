/**
 * The operator's HTTP port against a running broker: KiteQ's /stat, /binds, /reload, Prometheus'
 * /metrics (parsed by a strict text-format parser below), the JSON API and its admin rules, and
 * the console's static files.
 */
import test, { type ExecutionContext } from 'ava'
import { connect } from 'node:net'
import { bindDirect } from '../../binding/binding.ts'
import type { KiteQClient } from '../../client/index.ts'
import { ErrorCodes, KiteQError } from '../../protocol/errors.ts'
import { instrumentStore } from '../../stat/instrument-store.ts'
import { BrokerMetrics } from '../../stat/metrics.ts'
import { startOperatorView, type OperatorView, type OperatorViewOptions } from '../../stat/operator-view.ts'
import { MemoryStore } from '../../store/memory-store.ts'
import { randomName, startBroker } from '../helpers/broker.ts'
import { eventually, startConsumer, startProducer, type Collector } from '../helpers/clients.ts'

const TOKEN = 'let-me-in'

interface Setup {
  topic: string
  group: string
  producerGroup: string
  broker: Awaited<ReturnType<typeof startBroker>>
  view: OperatorView
  metrics: BrokerMetrics
  consumer: Collector
  producer: KiteQClient
  /** Fetches a path of the view; `token` adds the Bearer header. */
  get(path: string, token?: string): Promise<Response>
  post(path: string, body?: unknown, token?: string): Promise<Response>
  close(): Promise<void>
}

async function setup(
  t: ExecutionContext,
  viewOptions: Partial<OperatorViewOptions> = {},
  decide?: (body: string, attempt: number) => boolean | Promise<boolean>,
): Promise<Setup> {
  const topic = randomName('stat')
  const group = randomName('c')
  const producerGroup = randomName('p')
  const metrics = new BrokerMetrics({ processMetrics: false })
  const broker = await startBroker({ topics: [topic], store: instrumentStore(new MemoryStore(), metrics) })
  const view = await startOperatorView({
    broker: broker.server, host: '127.0.0.1', port: 0, metrics, sampleIntervalMs: 100, storeStatsMaxAgeMs: 0, ...viewOptions,
  })
  const consumer = await startConsumer({
    address: broker.address, group, bindings: [bindDirect(group, topic, 'm', 500)],
    ...(decide ? { decide: (m, attempt) => decide(String(m.body), attempt) } : {}),
  })
  const producer = await startProducer(broker.address, producerGroup, [topic])
  let closed: Promise<void> | undefined
  const close = () => (closed ??= (async () => {
    await Promise.all([consumer.client.close(), producer.close()])
    await view.close()
    await broker.server.stop()
  })())
  // a failed assertion must not leave clients and a broker holding the process open
  t.teardown(close)
  const headers = (token?: string): Record<string, string> => (token ? { authorization: `Bearer ${token}` } : {})
  return {
    topic, group, producerGroup, broker, view, metrics, consumer, producer,
    get: (path, token) => fetch(view.url + path, { headers: headers(token) }),
    post: (path, body, token) => fetch(view.url + path, {
      method: 'POST',
      headers: { ...headers(token), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    }),
    close,
  }
}

async function json(res: Response): Promise<any> {
  return JSON.parse(await res.text())
}

// ------------------------------------------------------------------ Prometheus text format

interface PromSample {
  name: string
  labels: Record<string, string>
  value: number
}

/**
 * A strict reader of the Prometheus text exposition format 0.0.4: every line must be a HELP,
 * a TYPE, or a sample of a family whose TYPE came before it. Throws on anything else.
 */
function parsePrometheus(text: string): { types: Map<string, string>; samples: PromSample[] } {
  const types = new Map<string, string>()
  const samples: PromSample[] = []
  const name = '[a-zA-Z_:][a-zA-Z0-9_:]*'
  const sampleLine = new RegExp(`^(${name})(?:\\{(.*)\\})? (\\S+)(?: (-?\\d+))?$`)
  const label = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\["\\n])*)"\s*(,|$)/y
  for (const [i, line] of text.split('\n').entries()) {
    if (line === '') continue
    const fail = (why: string) => new Error(`line ${i + 1} ${why}: ${line}`)
    const comment = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line)
    if (comment) {
      if (!new RegExp(`^${name}$`).test(comment[2])) throw fail('bad metric name')
      if (comment[1] === 'TYPE') {
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(comment[3])) throw fail('unknown type')
        if (types.has(comment[2])) throw fail('second TYPE')
        types.set(comment[2], comment[3])
      }
      continue
    }
    if (line.startsWith('#')) continue
    const m = sampleLine.exec(line)
    if (!m) throw fail('is not a sample')
    const labels: Record<string, string> = {}
    if (m[2] !== undefined && m[2] !== '') {
      label.lastIndex = 0
      while (label.lastIndex < m[2].length) {
        const start = label.lastIndex
        const l = label.exec(m[2])
        if (!l || l.index !== start) throw fail('has malformed labels')
        if (l[1] in labels) throw fail('repeats a label')
        labels[l[1]] = l[2].replace(/\\(["\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c))
        if (l[3] === '') break
      }
    }
    const value = m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : m[3] === 'NaN' ? NaN : Number(m[3])
    if (Number.isNaN(value) && m[3] !== 'NaN') throw fail('has a bad value')
    const family = types.has(m[1]) ? m[1] : m[1].replace(/_(bucket|sum|count)$/, '')
    const type = types.get(family)
    if (type === undefined) throw fail('has no TYPE before it')
    if (family !== m[1] && type !== 'histogram' && type !== 'summary') throw fail('has a suffix its type does not allow')
    samples.push({ name: m[1], labels, value })
  }
  return { types, samples }
}

function valueOf(samples: PromSample[], name: string, labels: Record<string, string> = {}): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value
}

test('the Prometheus parser refuses what is not the text format', (t) => {
  t.throws(() => parsePrometheus('kiteq_x 1\n'), { message: /no TYPE/ })
  t.throws(() => parsePrometheus('# TYPE kiteq_x counter\nkiteq_x{a="1" 2\n'), { message: /not a sample|malformed/ })
  t.throws(() => parsePrometheus('# TYPE kiteq_x counter\nkiteq_x{a=1} 2\n'), { message: /malformed/ })
  t.throws(() => parsePrometheus('# TYPE kiteq_x counter\nkiteq_x_bucket{le="1"} 2\n'), { message: /suffix/ })
  t.is(parsePrometheus('# TYPE kiteq_x gauge\nkiteq_x{a="q\\"uote",b="2"} 1.5e3\n').samples[0].labels.a, 'q"uote')
})

// --------------------------------------------------------------------------- KiteQ endpoints

test('/stat deliver_go and /metrics kiteq_deliveries_in_flight count the messages whose delivery is under way', async (t) => {
  let release!: () => void
  const held = new Promise<boolean>((resolve) => (release = () => resolve(true)))
  // the consumer answers nothing until released: the three deliveries stay under way
  const s = await setup(t, {}, () => held)
  const stat = async () => (await json(await s.get('/stat'))).kiteq.deliver_go
  t.is(await stat(), 0)
  for (let i = 0; i < 3; i++) await s.producer.sendStringMessage({ topic: s.topic, messageType: 'm', body: `held ${i}` })
  await eventually(async () => (await stat()) === 3, 5000, 'deliver_go at 3')
  const metrics = parsePrometheus(await (await s.get('/metrics')).text())
  t.deepEqual(metrics.samples.filter((x) => x.name === 'kiteq_deliveries_in_flight').map((x) => x.value), [3])
  release()
  await s.consumer.waitFor(3)
  await eventually(async () => (await stat()) === 0, 5000, 'deliver_go back at 0')
  await s.close()
})

test('/stat and /binds answer KiteQ JSON as text/json, with live rates, groups and bytes', async (t) => {
  const s = await setup(t)
  const sent: string[] = []
  // publish until the sampler has seen a second with traffic in it
  let publishing = true
  const publisher = (async () => {
    while (publishing) sent.push((await s.producer.sendStringMessage({ topic: s.topic, messageType: 'm', body: 'x' })).messageId)
  })()
  let stat: any
  await eventually(async () => {
    const res = await s.get('/stat')
    t.is(res.status, 200)
    t.is(res.headers.get('content-type'), 'text/json')
    stat = await json(res)
    return stat.kiteq.recieve_count > 0 && stat.kiteq.deliver_count > 0 && stat.network.read_bytes > 0 && stat.network.read_count > 0
  }, 10_000, '/stat showing traffic')
  publishing = false
  await publisher
  t.true(stat.kiteq.topics_recieve[s.topic] > 0)
  t.true(s.topic in stat.kiteq.topics_deliver)
  t.true(s.topic in stat.kiteq.message_count)
  t.deepEqual(Object.keys(stat.kiteq.groups).sort(), [s.group, s.producerGroup].sort())
  t.regex(stat.kiteq.groups[s.group][0], /^127\.0\.0\.1:\d+$/)
  t.is(stat.kiteq.accept_limiter.length, 2)
  t.is(stat.network.connections, 2)
  t.true(stat.network.write_bytes > 0)
  // frames per second: a publish and a deliver ack in, a store ack and a delivery out, per message
  t.true(stat.network.read_count >= stat.kiteq.recieve_count, `${stat.network.read_count} frames read/s`)
  t.true(stat.network.write_count >= stat.kiteq.recieve_count, `${stat.network.write_count} frames written/s`)
  await s.consumer.waitFor(sent.length)

  const binds = await json(await s.get('/binds'))
  t.deepEqual(binds.topic_2_groups, { [s.topic]: [s.group] })
  const [taken, permits] = binds.topic_limiters[s.topic][s.group]
  t.is(permits, 500)
  t.true(taken >= 1)
  await s.close()
})

test('/reload re-reads the topics, only with the admin token; refused outright without one configured', async (t) => {
  let configured = ['a']
  const s = await setup(t, { adminToken: TOKEN, readTopics: () => configured })
  configured = [s.topic, randomName('new')]
  const noHeader = await s.get('/reload')
  t.is(noHeader.status, 401)
  t.is(noHeader.headers.get('www-authenticate'), 'Bearer realm="kiteq"')
  t.is((await json(noHeader)).code, 'KITEQ_ERR_AUTH')
  const wrong = await s.get('/reload', 'nope')
  t.is(wrong.status, 403)
  t.false(s.broker.server.isServedTopic(configured[1]))
  const ok = await s.get('/reload', TOKEN)
  t.is(ok.status, 200)
  t.is(ok.headers.get('content-type'), 'text/json')
  t.deepEqual(await json(ok), { status: 200, topics: configured })
  t.true(s.broker.server.isServedTopic(configured[1]))
  t.is((await s.post('/api/reload', undefined, TOKEN)).status, 200)
  const served = s.broker.server.topics
  const broken = await setup(t, { adminToken: TOKEN, readTopics: () => { throw new KiteQError(ErrorCodes.CONFIG, '-deliverySeconds must be positive, got 0') } })
  const refusedReload = await broken.get('/reload', TOKEN)
  t.is(refusedReload.status, 400, 'a configuration that does not load is no server fault')
  t.like(await json(refusedReload), { code: 'KITEQ_ERR_CONFIG' })
  t.deepEqual(s.broker.server.topics, served)
  await broken.close()
  await s.close()

  const open = await setup(t, { readTopics: () => ['x'] })
  const refused = await open.get('/reload', TOKEN)
  t.is(refused.status, 403)
  const body = await json(refused)
  t.is(body.code, 'KITEQ_ERR_AUTH')
  t.regex(body.error, /-adminToken/)
  t.deepEqual(open.broker.server.topics, [open.topic])
  await open.close()
})

// ------------------------------------------------------------------------------------ metrics

test('/metrics: per topic and group counters, gauges, histograms and Kafka counters, in valid text format', async (t) => {
  const s = await setup(t)
  const n = 5
  for (let i = 0; i < n; i++) await s.producer.sendStringMessage({ topic: s.topic, messageType: 'm', body: String(i) })
  await s.producer.sendStringMessage({ topic: s.topic, messageType: 'm', body: 'late', delayMs: 300 })
  await s.consumer.waitFor(n + 1)
  await eventually(() => s.broker.server.stats.totals.delivered === n + 1)
  s.metrics.kafkaForwarded(s.topic, 3)
  s.metrics.kafkaFailed(s.topic)

  const res = await s.get('/metrics')
  t.is(res.status, 200)
  t.regex(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/)
  const { types, samples } = parsePrometheus(await res.text())
  const topic = { topic: s.topic }
  t.is(types.get('kiteq_received_messages_total'), 'counter')
  t.is(valueOf(samples, 'kiteq_received_messages_total', { ...topic, producer_group: s.producerGroup }), n + 1)
  t.is(valueOf(samples, 'kiteq_delivered_messages_total', { ...topic, group: s.group }), n + 1)
  t.is(valueOf(samples, 'kiteq_events_total', { event: 'stored' }), n + 1)
  t.is(valueOf(samples, 'kiteq_pending_messages', topic), 0)
  t.is(valueOf(samples, 'kiteq_group_connections', { group: s.group }), 1)
  t.is(valueOf(samples, 'kiteq_connections'), 2)
  t.is(types.get('kiteq_scheduled_in_memory'), 'gauge')
  t.is(valueOf(samples, 'kiteq_due_parked'), 0)
  t.is(types.get('kiteq_due_spilled_total'), 'counter')
  t.is(valueOf(samples, 'kiteq_due_spilled_total'), 0)
  t.is(valueOf(samples, 'kiteq_kafka_forwarded_messages_total', topic), 3)
  t.is(valueOf(samples, 'kiteq_kafka_forward_failures_total', topic), 1)
  t.true(valueOf(samples, 'kiteq_network_received_bytes_total')! > 0)
  // histograms: cumulative buckets ending in +Inf = count
  t.is(types.get('kiteq_store_operation_seconds'), 'histogram')
  t.true(valueOf(samples, 'kiteq_store_operation_seconds_count', { store: 'memory', op: 'save', outcome: 'ok' })! >= n + 1)
  t.is(valueOf(samples, 'kiteq_delay_lateness_seconds_count', topic), 1)
  // every acknowledged delivery is observed, from its due time to the consumer's ack
  t.is(valueOf(samples, 'kiteq_deliver_latency_seconds_count', { ...topic, group: s.group }), n + 1)
  t.is(valueOf(samples, 'kiteq_deliver_latency_seconds_bucket', { ...topic, group: s.group, le: '+Inf' }), n + 1)
  const buckets = samples.filter((x) => x.name === 'kiteq_delay_lateness_seconds_bucket' && x.labels.topic === s.topic)
  t.is(buckets.at(-1)!.labels.le, '+Inf')
  t.is(buckets.at(-1)!.value, 1)
  for (let i = 1; i < buckets.length; i++) t.true(buckets[i].value >= buckets[i - 1].value)
  await s.close()
})

// ------------------------------------------------------------------------------- JSON API

test('cancel and reschedule of a scheduled message: refused without a configured token, done with it', async (t) => {
  const closed = await setup(t)
  const far = Date.now() + 3600_000
  const { messageId: early } = await closed.producer.sendStringMessage({ topic: closed.topic, messageType: 'm', body: 'later', deliverAt: far })
  const refused = await closed.post(`/api/messages/${closed.topic}/${early}/cancel`, undefined, TOKEN)
  t.is(refused.status, 403)
  t.is((await json(refused)).code, 'KITEQ_ERR_AUTH')
  t.truthy(await closed.broker.server.store.get(closed.topic, early), 'still scheduled')
  await closed.close()

  const s = await setup(t, { adminToken: TOKEN })
  const { messageId } = await s.producer.sendStringMessage({ topic: s.topic, messageType: 'm', body: 'later', deliverAt: far })
  const path = `/api/messages/${s.topic}/${messageId}`
  t.is((await s.post(`${path}/cancel`)).status, 401)

  const moved = await s.post(`${path}/reschedule`, { deliverAt: new Date(far + 60_000).toISOString() }, TOKEN)
  t.is(moved.status, 200)
  t.like(await json(moved), { result: 'rescheduled', deliverAt: far + 60_000 })
  const bad = await s.post(`${path}/reschedule`, { deliverAt: 'soon' }, TOKEN)
  t.is(bad.status, 400)
  t.is((await json(bad)).code, 'KITEQ_ERR_INVALID_ARGUMENT')
  // a time no message may have is the request's fault, not a conflict with the message's state
  const tooFar = await s.post(`${path}/reschedule`, { deliverAt: 1e300 }, TOKEN)
  t.is(tooFar.status, 400)
  t.like(await json(tooFar), { code: 'KITEQ_ERR_INVALID_ARGUMENT' })

  const view = await json(await s.get(`/api/messages/${messageId}`))
  t.like(view, { messageId, topic: s.topic, state: 'live', changeable: true, deliverAtMs: far + 60_000, groups: { [s.group]: 'pending' } })
  t.deepEqual(view.body, { bytes: 5, encoding: 'utf8', preview: 'later', truncated: false })

  const cancelled = await s.post(`${path}/cancel`, undefined, TOKEN)
  t.is(cancelled.status, 200)
  t.is((await json(cancelled)).result, 'cancelled')
  const again = await s.post(`${path}/cancel`, undefined, TOKEN)
  t.is(again.status, 404)
  t.like(await json(again), { code: 'KITEQ_ERR_NOT_FOUND', result: 'not-found' })
  t.is((await s.get(`/api/messages/${messageId}`)).status, 404)
  await s.close()
})

test('dead letters: listed, looked up, re-driven once with the token, then delivered', async (t) => {
  const s = await setup(t, { adminToken: TOKEN }, (body, attempt) => body !== 'poison' || attempt > 1)
  const { messageId } = await s.producer.sendStringMessage({ topic: s.topic, messageType: 'm', body: 'poison', deliverLimit: 1 })
  await eventually(async () => (await json(await s.get('/api/dead-letters'))).items.length === 1, 10_000, 'a dead letter')
  const list = await json(await s.get(`/api/dead-letters?topic=${s.topic}&limit=10`))
  t.like(list.items[0], { messageId, topic: s.topic, publishGroup: s.producerGroup })
  t.regex(list.items[0].reason, /deliverLimit/)
  t.is(list.next, null)
  const dead = await json(await s.get(`/api/messages/${messageId}`))
  t.like(dead, { state: 'dead', changeable: false })
  t.regex(dead.deadLetter.reason, /deliverLimit/)
  // the dead letter carries its last attempt: the group it failed for
  t.is(dead.groups[s.group], 'failed')

  const path = `/api/dead-letters/${s.topic}/${messageId}/redrive`
  t.is((await s.post(path, undefined, 'wrong')).status, 403)
  const redriven = await s.post(path, undefined, TOKEN)
  t.is(redriven.status, 200)
  t.like(await json(redriven), { result: 'redriven', messageId })
  const [m] = await s.consumer.waitFor(1)
  t.is(m.messageId, messageId)
  t.is((await s.post(path, undefined, TOKEN)).status, 404)
  t.deepEqual((await json(await s.get('/api/dead-letters'))).items, [])
  t.is((await s.get('/api/dead-letters?limit=0')).status, 400)
  await s.close()
})

test('overview, bindings and trends from snapshots', async (t) => {
  const s = await setup(t, { snapshotIntervalMs: 100 })
  await s.producer.sendStringMessage({ topic: s.topic, messageType: 'm', body: 'a' })
  await s.consumer.waitFor(1)
  await eventually(() => s.broker.server.stats.totals.delivered === 1)
  const o = await json(await s.get('/api/overview'))
  t.like(o, { store: 'memory', topics: [s.topic], totals: { received: 1, delivered: 1 }, connections: 2, pendingTotal: 0 })
  t.deepEqual(o.groups[s.group].length, 1)
  t.is(o.receivedByGroup[s.producerGroup], 1)

  const b = await json(await s.get('/api/bindings'))
  t.deepEqual(b.topics, [{
    topic: s.topic, served: true,
    groups: [{ groupId: s.group, bindings: [{ bindType: 'direct', messageType: 'm', watermark: 500, persistent: true }], connections: o.groups[s.group] }],
  }])

  let trends: any
  await eventually(async () => {
    trends = await json(await s.get('/api/trends?hours=1'))
    return trends.atMs.length >= 2
  }, 10_000, 'two trend points')
  t.is(trends.snapshotIntervalMs, 100)
  t.deepEqual(Object.keys(trends.receivedPerMinuteByTopic), [s.topic])
  t.is(trends.receivedPerMinuteByGroup[s.producerGroup].length, trends.atMs.length)
  t.is((await s.get('/api/trends?hours=1000')).status, 400)
  await s.close()
})

// --------------------------------------------------------------------- access and the console

test('-protectReads: read pages need the token; the console files and /api/access do not', async (t) => {
  const s = await setup(t, { adminToken: TOKEN, protectReads: true })
  for (const path of ['/stat', '/binds', '/metrics', '/api/overview', '/api/dead-letters']) {
    t.is((await s.get(path)).status, 401, path)
    t.is((await s.get(path, TOKEN)).status, 200, path)
  }
  t.deepEqual(await json(await s.get('/api/access')), { adminEnabled: true, protectReads: true, tokenAccepted: false })
  t.is((await json(await s.get('/api/access', TOKEN))).tokenAccepted, true)
  const page = await s.get('/')
  t.is(page.status, 200)
  t.regex(page.headers.get('content-security-policy') ?? '', /default-src 'self'/)
  const html = await page.text()
  t.notRegex(html, /(src|href)="(https?:)?\/\//, 'nothing from another origin')
  for (const asset of ['/console/app.js', '/console/style.css', '/console/vendor/uPlot.iife.min.js', '/console/vendor/uPlot.min.css']) {
    t.true(html.includes(asset), asset)
    t.is((await s.get(asset)).status, 200, asset)
  }
  await s.close()
  await t.throwsAsync(startOperatorView({ broker: s.broker.server, host: '127.0.0.1', port: 0, protectReads: true }), { code: 'KITEQ_ERR_CONFIG' })
})

test('unknown pages are 404 and wrong methods 405, both as JSON {error, code}', async (t) => {
  const s = await setup(t)
  const missing = await s.get('/nope')
  t.is(missing.status, 404)
  t.is((await json(missing)).code, 'KITEQ_ERR_NOT_FOUND')
  const method = await s.post('/stat')
  t.is(method.status, 405)
  t.is(method.headers.get('allow'), 'GET')
  t.is((await s.get('/api/messages/0123456789abcdef0123456789abcdef')).status, 404)
  // a path starting with // is a path, not a host to resolve against
  const doubled = await rawRequest(s.view.url, 'GET //stat HTTP/1.1')
  t.regex(doubled, /^HTTP\/1\.1 404 /)
  const garbage = await rawRequest(s.view.url, 'GET //[ HTTP/1.1')
  t.regex(garbage, /^HTTP\/1\.1 (400|404) /)
  t.is((await s.get('/stat')).status, 200, 'the port still answers')
  await s.close()
})

/** Sends one request line as typed (fetch would normalise the path) and returns the raw answer. */
function rawRequest(base: string, requestLine: string): Promise<string> {
  const { hostname, port } = new URL(base)
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.end(`${requestLine}\r\nhost: ${hostname}\r\nconnection: close\r\n\r\n`))
    let answer = ''
    socket.on('data', (d) => (answer += d))
    socket.on('end', () => resolve(answer))
    socket.on('error', reject)
  })
}
