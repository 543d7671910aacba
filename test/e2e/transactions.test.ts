import test from 'ava'
import { bindDirect } from '../../binding/binding.ts'
import { randomName, startBroker } from '../helpers/broker.ts'
import { eventually, startConsumer, startProducer } from '../helpers/clients.ts'

async function setup(extra = {}) {
  const topic = randomName('tx')
  const broker = await startBroker({ topics: [topic], ...extra })
  const group = randomName('s')
  return { topic, broker, group }
}

test('tx commit: the message is stored uncommitted, delivered only once the local transaction commits', async (t) => {
  const { topic, broker, group } = await setup()
  const consumer = await startConsumer({ address: broker.address, group, bindings: [bindDirect(group, topic, 'order')] })
  const producer = await startProducer(broker.address, randomName('p'), [topic])
  let seenUncommitted = false
  const result = await producer.sendTxStringMessage({ topic, messageType: 'order', body: 'o-1' }, async (m) => {
    // during the local transaction the broker holds it, undelivered
    const stored = await broker.server.store.get(topic, m.messageId)
    seenUncommitted = stored?.commit === false && consumer.received.length === 0
    return true
  })
  t.true(result.committed)
  t.true(seenUncommitted)
  const [m] = await consumer.waitFor(1)
  t.is(m.messageId, result.messageId)
  t.true(m.header.commit === false, 'delivered with the header as published')
  await Promise.all([consumer.client.close(), producer.close(), broker.server.stop()])
})

test('tx rollback (false or a throw): the message is deleted and never delivered', async (t) => {
  const { topic, broker, group } = await setup()
  const consumer = await startConsumer({ address: broker.address, group, bindings: [bindDirect(group, topic, 'order')] })
  const producer = await startProducer(broker.address, randomName('p'), [topic])
  const rolled = await producer.sendTxStringMessage({ topic, messageType: 'order', body: 'x' }, () => false)
  t.false(rolled.committed)
  await t.throwsAsync(producer.sendTxBytesMessage({ topic, messageType: 'order', body: Buffer.from('y') }, () => {
    throw new Error('local transaction failed')
  }), { message: 'local transaction failed' })
  await eventually(async () => (await broker.server.store.stats()).uncommitted === 0)
  t.is((await broker.server.store.stats()).pendingByTopic[topic] ?? 0, 0)
  // a committed one afterwards proves the consumer was listening all along
  await producer.sendTxStringMessage({ topic, messageType: 'order', body: 'z' }, () => true)
  const [m] = await consumer.waitFor(1)
  t.is(m.body, 'z')
  t.is(consumer.received.length, 1)
  await Promise.all([consumer.client.close(), producer.close(), broker.server.stop()])
})

test('check-back answered: an undecided message is asked about, the producer commits, it is delivered', async (t) => {
  const { topic, broker, group } = await setup({ txCheck: { firstDelayMs: 200, intervalMs: 200, maxChecks: 5 } })
  const consumer = await startConsumer({ address: broker.address, group, bindings: [bindDirect(group, topic, 'order')] })
  const asked: string[] = []
  const producerGroup = randomName('p')
  const producer = await startConsumer({
    address: broker.address, group: producerGroup, bindings: [],
    onMessageCheck: (tx) => {
      asked.push(tx.messageId)
      return 'commit'
    },
  })
  // a plain send with commit=false leaves the decision to the check-back
  const { messageId } = await producer.client.sendStringMessage({ topic, messageType: 'order', body: 'x', commit: false })
  const [m] = await consumer.waitFor(1, 10_000)
  t.is(m.messageId, messageId)
  t.deepEqual(asked, [messageId])
  await Promise.all([consumer.client.close(), producer.client.close(), broker.server.stop()])
})

test('check-back answered rollback: the message is deleted', async (t) => {
  const { topic, broker } = await setup({ txCheck: { firstDelayMs: 100, intervalMs: 100, maxChecks: 5 } })
  const producer = await startConsumer({ address: broker.address, group: randomName('p'), bindings: [], onMessageCheck: () => 'rollback' })
  const { messageId } = await producer.client.sendStringMessage({ topic, messageType: 'order', body: 'x', commit: false })
  await eventually(async () => (await broker.server.store.get(topic, messageId)) === undefined)
  t.is((await broker.server.store.listDeadLetters({ topic })).length, 0)
  await Promise.all([producer.client.close(), broker.server.stop()])
})

test('check-back exhausted: never decided, the message is dead-lettered after maxChecks, not asked forever', async (t) => {
  const { topic, broker } = await setup({ txCheck: { firstDelayMs: 50, intervalMs: 50, maxChecks: 4 } })
  let asked = 0
  const producer = await startConsumer({
    address: broker.address, group: randomName('p'), bindings: [], onMessageCheck: () => (asked++, 'unknown'),
  })
  const { messageId } = await producer.client.sendStringMessage({ topic, messageType: 'order', body: 'x', commit: false })
  await eventually(async () => (await broker.server.store.listDeadLetters({ topic })).length === 1)
  const [dead] = await broker.server.store.listDeadLetters({ topic })
  t.is(dead.message.messageId, messageId)
  t.is(dead.reason, 'transaction undecided after 4 check-backs')
  t.is(asked, 4)
  await Promise.all([producer.client.close(), broker.server.stop()])
})
