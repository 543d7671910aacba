/**
 * Go ↔ broker interop through interop/bin/kiteq-interop. NOTE: the Go module proxy refuses
 * github.com/blackbeans/* here (403), so the harness links a spec-written stand-in client that
 * uses Go's real protobuf runtime (see interop/README.md); its events say client=spec-standin.
 */
import test from 'ava'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { bindDirect } from '../../binding/binding.ts'
import { fileRegistry, randomName, startBroker, writeRegistry } from '../helpers/broker.ts'
import { buildHarness, readIds, runHarness } from '../helpers/go-harness.ts'

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'kiteq-go-'))
}

async function brokerWithRegistry(topic: string, group: string, messageType: string, extra: Record<string, unknown> = {}) {
  const registryPath = join(tmp(), 'registry.yaml')
  const bindings = [bindDirect(group, topic, messageType, 0, true)]
  writeRegistry([], bindings, registryPath)
  const registry = fileRegistry(registryPath)
  const broker = await startBroker({ topics: [topic], registry, ...extra })
  writeRegistry([{ address: broker.address, topics: [topic] }], bindings, registryPath)
  return { ...broker, registry: `file://${registryPath}` }
}

test.before('build the Go harness', buildHarness)

test('Go producer → broker → Go consumer: 10 000 string and bytes messages, every one received intact', async (t) => {
  const topic = randomName('trade')
  const group = randomName('s-go')
  const { server, registry } = await brokerWithRegistry(topic, group, 'pay-succ')
  const dir = tmp()
  const consumer = runHarness(['consume', '-registry', registry, '-group', group, '-topic', topic, '-type', 'pay-succ',
    '-expect', '10000', '-timeout', '120s', '-body-size', '512', '-ids-out', join(dir, 'got.txt')])
  await consumer.waitFor('ready')
  const producer = runHarness(['produce', '-registry', registry, '-group', randomName('p-go'), '-topic', topic, '-type', 'pay-succ',
    '-n', '10000', '-kind', 'mixed', '-concurrency', '20', '-body-size', '512', '-prop', 'tradeno=42', '-ids-out', join(dir, 'sent.txt')])
  const produced = await producer.waitFor('produced', 120_000)
  t.is(produced.sent, 10_000, producer.stderr())
  t.is(produced.failed, 0)
  const consumed = await consumer.waitFor('consumed', 120_000)
  t.is(await consumer.exit, 0, consumer.stderr())
  t.is(consumed.received, 10_000)
  t.is(consumed.corrupt, 0)
  const sent = new Map(readIds(join(dir, 'sent.txt')).map(([kind, id]) => [id, kind]))
  const got = readIds(join(dir, 'got.txt'))
  t.is(got.length, 10_000)
  for (const [kind, id, bodyLen, props] of got) {
    t.is(sent.get(id), kind, `kind of ${id}`)
    t.is(bodyLen, '512')
    t.is(props, 'tradeno=42')
  }
  t.log(`consumer: ${JSON.stringify(consumed)}`)
  await server.stop()
})

test('Go transactions: commit delivers, rollback and a failed local transaction do not', async (t) => {
  const topic = randomName('tx')
  const group = randomName('s-go')
  const { server, registry } = await brokerWithRegistry(topic, group, 'order')
  const dir = tmp()
  const consumer = runHarness(['consume', '-registry', registry, '-group', group, '-topic', topic, '-type', 'order',
    '-expect', '20', '-timeout', '60s', '-linger', '1s', '-ids-out', join(dir, 'got.txt')])
  await consumer.waitFor('ready')
  const runs = [['commit', 'c.txt'], ['rollback', 'r.txt'], ['error', 'e.txt']].map(([decision, file]) =>
    runHarness(['tx', '-registry', registry, '-group', randomName('p-go'), '-topic', topic, '-type', 'order',
      '-n', '20', '-decision', decision, '-ids-out', join(dir, file)]))
  for (const run of runs) {
    const result = await run.waitFor('tx')
    t.is(result.sent, 20, run.stderr())
  }
  const consumed = await consumer.waitFor('consumed')
  t.is(consumed.received, 20)
  const committed = readIds(join(dir, 'c.txt')).map(([, id]) => id).sort()
  t.deepEqual(readIds(join(dir, 'got.txt')).map(([, id]) => id).sort(), committed)
  const stats = await server.store.stats()
  t.is(stats.uncommitted, 0, 'rolled back messages are deleted')
  await server.stop()
})

test('Go server check-back: undecided messages are asked about and the Go listener commits them', async (t) => {
  const topic = randomName('check')
  const group = randomName('s-go')
  const { server, registry } = await brokerWithRegistry(topic, group, 'order', {
    txCheck: { firstDelayMs: 300, intervalMs: 300, maxChecks: 5 },
  })
  const dir = tmp()
  const consumer = runHarness(['consume', '-registry', registry, '-group', group, '-topic', topic, '-type', 'order',
    '-expect', '10', '-timeout', '60s', '-ids-out', join(dir, 'got.txt')])
  await consumer.waitFor('ready')
  const producer = runHarness(['uncommitted', '-registry', registry, '-group', randomName('p-go'), '-topic', topic, '-type', 'order',
    '-n', '10', '-answer', 'commit', '-wait', '30s', '-ids-out', join(dir, 'sent.txt')])
  const checked = await producer.waitFor('checked', 60_000)
  t.is(checked.sent, 10)
  t.is(checked.checked, 10)
  const consumed = await consumer.waitFor('consumed', 60_000)
  t.is(consumed.received, 10)
  t.true(server.stats.totals.txChecks >= 10)
  await server.stop()
})

test('Go server check-back answered "unknown" forever: the message is dead-lettered after maxChecks', async (t) => {
  const topic = randomName('check')
  const { server, registry } = await brokerWithRegistry(topic, randomName('s-go'), 'order', {
    txCheck: { firstDelayMs: 100, intervalMs: 100, maxChecks: 3 },
  })
  const producer = runHarness(['uncommitted', '-registry', registry, '-group', randomName('p-go'), '-topic', topic, '-type', 'order',
    '-n', '2', '-answer', 'unknown', '-wait', '2s'])
  const checked = await producer.waitFor('checked', 30_000)
  t.is(checked.checked, 2)
  t.is(checked.checks, 6, 'exactly maxChecks checks per message')
  const dead = await server.store.listDeadLetters({ topic })
  t.is(dead.length, 2)
  t.regex(dead[0].reason, /undecided after 3 check-backs/)
  await server.stop()
})

test('Go producer → broker → TypeScript consumer, and TypeScript producer → broker → Go consumer', async (t) => {
  const { KiteQClient } = await import('../../client/index.ts')
  const { harnessBytesBody, harnessStringBody } = await import('../helpers/go-harness.ts')
  const { startConsumer } = await import('../helpers/clients.ts')
  const topic = randomName('cross')
  const tsGroup = randomName('s-ts')
  const goGroup = randomName('s-go')
  const registryPath = join(tmp(), 'registry.yaml')
  const bindings = [bindDirect(tsGroup, topic, 'from-go', 0, true), bindDirect(goGroup, topic, 'from-ts', 0, true)]
  writeRegistry([], bindings, registryPath)
  const broker = await startBroker({ topics: [topic], registry: fileRegistry(registryPath) })
  writeRegistry([{ address: broker.address, topics: [topic] }], bindings, registryPath)
  const registry = `file://${registryPath}`
  const dir = tmp()

  // Go → TS
  const tsConsumer = await startConsumer({ address: broker.address, group: tsGroup, bindings: [bindDirect(tsGroup, topic, 'from-go')] })
  const goProducer = runHarness(['produce', '-registry', registry, '-group', randomName('p-go'), '-topic', topic, '-type', 'from-go',
    '-n', '200', '-kind', 'mixed', '-body-size', '256', '-prop', 'origin=go', '-ids-out', join(dir, 'go-sent.txt')])
  t.is((await goProducer.waitFor('produced')).sent, 200)
  await tsConsumer.waitFor(200)
  const goSent = new Map(readIds(join(dir, 'go-sent.txt')).map(([kind, id]) => [id, kind]))
  for (const m of tsConsumer.received) {
    const kind = goSent.get(m.messageId)
    t.is(kind, m.isString ? 's' : 'b')
    if (m.isString) t.is(m.body, harnessStringBody(m.messageId, 256))
    else t.true((m.body as Buffer).equals(harnessBytesBody(m.messageId, 256)))
    t.is(m.properties.origin, 'go')
  }

  // TS → Go
  const goConsumer = runHarness(['consume', '-registry', registry, '-group', goGroup, '-topic', topic, '-type', 'from-ts',
    '-expect', '200', '-timeout', '60s', '-body-size', '256', '-ids-out', join(dir, 'go-got.txt')])
  await goConsumer.waitFor('ready')
  const tsProducer = new KiteQClient({ registry, groupId: randomName('p-ts'), connection: { heartbeat: false } })
  tsProducer.setTopics([topic])
  await tsProducer.start()
  const tsSent = new Map<string, string>()
  for (let i = 0; i < 200; i++) {
    const messageId = tsProducer.messageId()
    if (i % 2 === 0) await tsProducer.sendStringMessage({ topic, messageType: 'from-ts', messageId, body: harnessStringBody(messageId, 256), properties: { origin: 'ts' } })
    else await tsProducer.sendBytesMessage({ topic, messageType: 'from-ts', messageId, body: harnessBytesBody(messageId, 256), properties: { origin: 'ts' }, snappy: i % 4 === 1 })
    tsSent.set(messageId, i % 2 === 0 ? 's' : 'b')
  }
  const consumed = await goConsumer.waitFor('consumed', 60_000)
  t.is(consumed.received, 200)
  t.is(consumed.corrupt, 0, 'bodies (some snappy-compressed by us) decode in Go')
  for (const [kind, id, , props] of readIds(join(dir, 'go-got.txt'))) {
    t.is(tsSent.get(id), kind)
    t.is(props, 'origin=ts')
  }
  await Promise.all([tsConsumer.client.close(), tsProducer.close(), broker.server.stop()])
})

test('a KiteQ Go client schedules through the deliverAt property (no Header field 12 needed)', async (t) => {
  const topic = randomName('delay')
  const group = randomName('s-go')
  const { server, registry } = await brokerWithRegistry(topic, group, 'later')
  const dir = tmp()
  const deliverAt = Date.now() + 1500
  const consumer = runHarness(['consume', '-registry', registry, '-group', group, '-topic', topic, '-type', 'later',
    '-expect', '5', '-timeout', '30s', '-ids-out', join(dir, 'got.txt')])
  await consumer.waitFor('ready')
  const producer = runHarness(['produce', '-registry', registry, '-group', randomName('p-go'), '-topic', topic, '-type', 'later',
    '-n', '5', '-kind', 'string', '-prop', `deliverAt=${deliverAt}`, '-ids-out', join(dir, 'sent.txt')])
  t.is((await producer.waitFor('produced')).sent, 5)
  const sent = readIds(join(dir, 'sent.txt')).map(([, id]) => id)
  for (const id of sent) t.is((await server.store.get(topic, id))?.nextDeliverAtMs, deliverAt, 'stored due at the property time')
  const consumed = await consumer.waitFor('consumed', 30_000)
  const arrivedBy = Date.now()
  t.is(consumed.received, 5)
  t.true(arrivedBy >= deliverAt, 'not delivered before deliverAt')
  t.is(server.stats.delayLateness.get(topic)?.summary().count, 5)
  await server.stop()
})
