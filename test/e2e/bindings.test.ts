import test from 'ava'
import { bindDirect, bindFanout, bindRegx } from '../../binding/binding.ts'
import { randomName, startBroker } from '../helpers/broker.ts'
import { eventually, startConsumer, startProducer } from '../helpers/clients.ts'

async function setup() {
  const topic = randomName('trade')
  const broker = await startBroker({ topics: [topic] })
  const producer = await startProducer(broker.address, randomName('p'), [topic])
  return { topic, broker, producer }
}

async function publishTypes(producer: Awaited<ReturnType<typeof startProducer>>, topic: string, types: string[]) {
  const ids: Record<string, string> = {}
  for (const messageType of types) ids[messageType] = (await producer.sendStringMessage({ topic, messageType, body: `body of ${messageType}` })).messageId
  return ids
}

test('Direct binds one exact messageType; other types never reach the group', async (t) => {
  const { topic, broker, producer } = await setup()
  const group = randomName('s')
  const consumer = await startConsumer({ address: broker.address, group, bindings: [bindDirect(group, topic, 'pay')] })
  const ids = await publishTypes(producer, topic, ['refund', 'pay', 'pay-succ'])
  const [m] = await consumer.waitFor(1)
  t.is(m.messageId, ids.pay)
  t.is(m.body, 'body of pay')
  // the unmatched messages are done with (no group wants them) and gone
  await eventually(async () => Object.keys((await broker.server.store.stats()).pendingByTopic).length === 0)
  t.is(consumer.received.length, 1)
  await Promise.all([consumer.client.close(), producer.close(), broker.server.stop()])
})

test('Regx binds by unanchored regular expression; Fanout takes every type', async (t) => {
  const { topic, broker, producer } = await setup()
  const regx = randomName('s-regx')
  const fan = randomName('s-fan')
  const r = await startConsumer({ address: broker.address, group: regx, bindings: [bindRegx(regx, topic, 'pay-(succ|fail)')] })
  const f = await startConsumer({ address: broker.address, group: fan, bindings: [bindFanout(fan, topic)] })
  const ids = await publishTypes(producer, topic, ['pay-succ', 'refund', 'order-pay-fail', 'pay'])
  await r.waitFor(2)
  await f.waitFor(4)
  await eventually(async () => Object.keys((await broker.server.store.stats()).pendingByTopic).length === 0)
  t.deepEqual(r.received.map((m) => m.messageId).sort(), [ids['pay-succ'], ids['order-pay-fail']].sort())
  t.deepEqual(f.received.map((m) => m.messageId).sort(), Object.values(ids).sort())
  await Promise.all([r.client.close(), f.client.close(), producer.close(), broker.server.stop()])
})

test('several groups each get every message once (publish/subscribe across groups)', async (t) => {
  const { topic, broker, producer } = await setup()
  const groups = [randomName('a'), randomName('b'), randomName('c')]
  const consumers = await Promise.all(groups.map((g) => startConsumer({ address: broker.address, group: g, bindings: [bindDirect(g, topic, 'evt')] })))
  const sent = []
  for (let i = 0; i < 50; i++) sent.push((await producer.sendBytesMessage({ topic, messageType: 'evt', body: Buffer.from([i]) })).messageId)
  for (const c of consumers) {
    await c.waitFor(50)
    t.deepEqual(c.received.map((m) => m.messageId).sort(), [...sent].sort())
  }
  await eventually(async () => Object.keys((await broker.server.store.stats()).pendingByTopic).length === 0)
  t.true(consumers.every((c) => c.received.length === 50), 'no duplicates')
  await Promise.all([...consumers.map((c) => c.client.close()), producer.close(), broker.server.stop()])
})

test('within a group each message goes to one consumer only (queue semantics), spread at random', async (t) => {
  const { topic, broker, producer } = await setup()
  const group = randomName('s')
  const a = await startConsumer({ address: broker.address, group, bindings: [bindDirect(group, topic, 'job')] })
  const b = await startConsumer({ address: broker.address, group, bindings: [bindDirect(group, topic, 'job')] })
  const sent = await Promise.all(Array.from({ length: 200 }, (_, i) => producer.sendStringMessage({ topic, messageType: 'job', body: `${i}` })))
  await eventually(() => a.received.length + b.received.length === 200)
  await eventually(async () => Object.keys((await broker.server.store.stats()).pendingByTopic).length === 0)
  const all = [...a.received, ...b.received].map((m) => m.messageId)
  t.is(new Set(all).size, 200)
  t.deepEqual(all.sort(), sent.map((s) => s.messageId).sort())
  t.true(a.received.length > 0 && b.received.length > 0, `split ${a.received.length}/${b.received.length}`)
  await Promise.all([a.client.close(), b.client.close(), producer.close(), broker.server.stop()])
})
