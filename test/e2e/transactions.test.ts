import test from 'ava'
import { once } from 'node:events'
import { connect } from 'node:net'
import { bindDirect } from '../../binding/binding.ts'
import type { ReceivedMessage } from '../../client/index.ts'
import { Cmd, ConnMetaCodec, TxACKPacketCodec, TxStatus, encodePacket } from '../../protocol/index.ts'
import { windowedRetryPolicy } from '../../server/retry-policy.ts'
import { randomName, startBroker } from '../helpers/broker.ts'
import { eventually, startConsumer, startProducer } from '../helpers/clients.ts'
import { debugRecorder } from '../helpers/logger.ts'

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

test('a repeated commit of a message in delivery is ignored: its backoff is kept, no extra delivery', async (t) => {
  const { logger, lines } = debugRecorder()
  // one attempt, then a minute's wait: a second delivery within the test can only come from the repeated commit
  const { topic, broker, group } = await setup({ logger, retry: windowedRetryPolicy([{ minCount: 0, maxCount: Infinity, delayMs: 60_000 }], 1) })
  const attempts: ReceivedMessage[] = []
  const consumer = await startConsumer({
    address: broker.address, group, bindings: [bindDirect(group, topic, 'order')], decide: (m) => (attempts.push(m), false),
  })
  const producerGroup = randomName('p')
  const producer = await startProducer(broker.address, producerGroup, [topic])
  const { messageId } = await producer.sendTxStringMessage({ topic, messageType: 'order', body: 'o' }, () => true)
  await eventually(async () => ((await broker.server.store.get(topic, messageId))?.nextDeliverAtMs ?? 0) > Date.now() + 30_000)
  const before = (await broker.server.store.get(topic, messageId))!
  t.is(attempts.length, 1)

  // the same commit again, as a late answer to a check-back would carry it
  const socket = connect({ host: '127.0.0.1', port: broker.port })
  await once(socket, 'connect')
  socket.write(encodePacket(1, Cmd.CONN_META, ConnMetaCodec, { groupId: producerGroup, secretKey: '' }))
  socket.write(encodePacket(0, Cmd.TX_ACK, TxACKPacketCodec, { header: attempts[0].header, status: TxStatus.COMMIT, feedback: 'again' }))
  await eventually(() => lines.includes('commit for a message not stored or already committed, ignored'))
  const after = (await broker.server.store.get(topic, messageId))!
  t.is(after.nextDeliverAtMs, before.nextDeliverAtMs)
  t.is(after.deliverCount, 1)
  t.is(attempts.length, 1)
  socket.destroy()
  await Promise.all([consumer.client.close(), producer.close(), broker.server.stop()])
})
