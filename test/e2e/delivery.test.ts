import test from 'ava'
import { bindDirect, bindFanout } from '../../binding/binding.ts'
import { windowedRetryPolicy } from '../../server/retry-policy.ts'
import { MemoryStore } from '../../store/memory-store.ts'
import type { DeliveryUpdate, StoredMessage } from '../../store/message-store.ts'
import { randomName, startBroker } from '../helpers/broker.ts'
import { eventually, startConsumer, startProducer } from '../helpers/clients.ts'

/** Fast backoff for tests: 3 immediate tries, then every 100 ms. */
const quickRetry = windowedRetryPolicy([{ minCount: 0, maxCount: 3, delayMs: 0 }, { minCount: 3, maxCount: Infinity, delayMs: 100 }])

test('a consumer returning false gets the message again at once; true acknowledges it', async (t) => {
  const topic = randomName('t')
  const broker = await startBroker({ topics: [topic] })
  const group = randomName('s')
  const consumer = await startConsumer({
    address: broker.address, group, bindings: [bindDirect(group, topic, 'm')], decide: (_m, attempt) => attempt >= 2,
  })
  const producer = await startProducer(broker.address, randomName('p'), [topic])
  const { messageId } = await producer.sendStringMessage({ topic, messageType: 'm', body: 'x' })
  await consumer.waitFor(1)
  t.is(consumer.attempts.get(messageId), 2)
  await eventually(async () => (await broker.server.store.get(topic, messageId)) === undefined)
  t.is(broker.server.stats.totals.retried, 1)
  await Promise.all([consumer.client.close(), producer.close(), broker.server.stop()])
})

test('no answer within deliverySeconds counts as a failure and is retried', async (t) => {
  const topic = randomName('t')
  const broker = await startBroker({ topics: [topic], deliveryTimeoutMs: 200 })
  const group = randomName('s')
  let firstSeenAt = 0
  const consumer = await startConsumer({
    address: broker.address, group, bindings: [bindDirect(group, topic, 'm')],
    decide: async (_m, attempt) => {
      if (attempt === 1) {
        firstSeenAt = Date.now()
        await new Promise((r) => setTimeout(r, 600)) // answers long after the broker gave up
      }
      return true
    },
  })
  const producer = await startProducer(broker.address, randomName('p'), [topic])
  const { messageId } = await producer.sendStringMessage({ topic, messageType: 'm', body: 'x' })
  await consumer.waitFor(1)
  t.true(consumer.attempts.get(messageId)! >= 2)
  await eventually(async () => (await broker.server.store.get(topic, messageId)) === undefined)
  t.true(firstSeenAt > 0)
  await Promise.all([consumer.client.close(), producer.close(), broker.server.stop()])
})

test('deliverLimit reached: the message moves to the dead-letter list with that reason', async (t) => {
  const topic = randomName('t')
  const broker = await startBroker({ topics: [topic], retry: quickRetry })
  const group = randomName('s')
  const consumer = await startConsumer({ address: broker.address, group, bindings: [bindDirect(group, topic, 'm')], decide: () => false })
  const producer = await startProducer(broker.address, randomName('p'), [topic])
  const { messageId } = await producer.sendStringMessage({ topic, messageType: 'm', body: 'x', deliverLimit: 5 })
  await eventually(async () => (await broker.server.store.listDeadLetters({ topic })).length === 1)
  const [dead] = await broker.server.store.listDeadLetters({ topic })
  t.is(dead.message.messageId, messageId)
  t.is(dead.reason, 'deliverLimit 5 reached')
  t.is(consumer.attempts.get(messageId), 5)
  t.deepEqual(dead.message.failGroups, [group])
  await Promise.all([consumer.client.close(), producer.close(), broker.server.stop()])
})

/** A memory store whose next `failures.update` updateDelivery calls and `failures.get` gets fail, as a busy disk would. */
class FailingStore extends MemoryStore {
  readonly failures = { update: 0, get: 0 }
  override async updateDelivery(topic: string, messageId: string, update: DeliveryUpdate): Promise<void> {
    if (this.failures.update > 0 && this.failures.update--) throw new Error('disk busy')
    return super.updateDelivery(topic, messageId, update)
  }
  override async get(topic: string, messageId: string): Promise<StoredMessage | undefined> {
    if (this.failures.get > 0 && this.failures.get--) throw new Error('disk busy')
    return super.get(topic, messageId)
  }
}

test('a store call that fails during a delivery or a fire does not strand the message: it is fired again', async (t) => {
  const topic = randomName('t')
  const store = new FailingStore()
  const broker = await startBroker({ topics: [topic], store, retry: quickRetry, storeFailureRetryMs: 100 })
  const group = randomName('s')
  // refused three times: the round that schedules the backoff writes to the store, and that write fails
  const consumer = await startConsumer({ address: broker.address, group, bindings: [bindDirect(group, topic, 'm')], decide: (_m, attempt) => attempt > 3 })
  const producer = await startProducer(broker.address, randomName('p'), [topic])
  store.failures.update = 1
  const retried = await producer.sendStringMessage({ topic, messageType: 'm', body: 'retried' })
  await consumer.waitFor(1)
  t.is(store.failures.update, 0, 'the write failed once')
  t.is(consumer.attempts.get(retried.messageId), 4)
  // a delayed message whose read at its fire fails
  const deliverAt = Date.now() + 300
  const delayed = await producer.sendStringMessage({ topic, messageType: 'm', body: 'delayed', deliverAt })
  store.failures.get = 1
  const [, second] = await consumer.waitFor(2)
  t.is(second.messageId, delayed.messageId)
  t.is(store.failures.get, 0, 'the read failed once')
  for (const { messageId } of [retried, delayed]) await eventually(async () => (await store.get(topic, messageId)) === undefined)
  await Promise.all([consumer.client.close(), producer.close(), broker.server.stop()])
})

test('expiry reached while retrying: the message moves to the dead-letter list as expired', async (t) => {
  const topic = randomName('t')
  const broker = await startBroker({ topics: [topic], retry: quickRetry })
  const group = randomName('s')
  const consumer = await startConsumer({ address: broker.address, group, bindings: [bindDirect(group, topic, 'm')], decide: () => false })
  const producer = await startProducer(broker.address, randomName('p'), [topic])
  const expiredTime = Math.floor(Date.now() / 1000) + 2
  const { messageId } = await producer.sendStringMessage({ topic, messageType: 'm', body: 'x', expiredTime })
  await eventually(async () => (await broker.server.store.listDeadLetters({ topic })).length === 1, 10_000)
  const [dead] = await broker.server.store.listDeadLetters({ topic })
  t.is(dead.message.messageId, messageId)
  t.regex(dead.reason, /^expired after \d+ delivery attempts$/)
  t.true(Date.now() / 1000 >= expiredTime)
  await Promise.all([consumer.client.close(), producer.close(), broker.server.stop()])
})

test('a dead letter names the group that failed, though the rounds after its failures only waited for it (offline)', async (t) => {
  const topic = randomName('t')
  const broker = await startBroker({ topics: [topic], retry: quickRetry, offlineRetryMs: 100 })
  const group = randomName('s')
  const consumer = await startConsumer({ address: broker.address, group, bindings: [bindDirect(group, topic, 'm', 1000, true)], decide: () => false })
  const producer = await startProducer(broker.address, randomName('p'), [topic])
  const { messageId } = await producer.sendStringMessage({ topic, messageType: 'm', body: 'x', expiredTime: Math.floor(Date.now() / 1000) + 2 })
  await eventually(() => (consumer.attempts.get(messageId) ?? 0) >= 4)
  await consumer.client.close() // from now on every round finds the group offline and puts it off
  await eventually(async () => (await broker.server.store.listDeadLetters({ topic })).length === 1, 10_000)
  const [dead] = await broker.server.store.listDeadLetters({ topic })
  t.regex(dead.reason, /^expired/)
  t.deepEqual(dead.message.failGroups, [group])
  await Promise.all([producer.close(), broker.server.stop()])
})

test('offline groups: a persistent binding keeps the message until the group connects; a non-persistent one drops it', async (t) => {
  const topic = randomName('t')
  const broker = await startBroker({ topics: [topic], offlineRetryMs: 100 })
  const durable = randomName('durable')
  const transient = randomName('transient')
  // each group binds, then goes away: bindings outlive the connection
  const d = await startConsumer({ address: broker.address, group: durable, bindings: [bindFanout(durable, topic, 0, true)] })
  const n = await startConsumer({ address: broker.address, group: transient, bindings: [bindFanout(transient, topic, 0, false)] })
  await d.client.close()
  await n.client.close()
  await eventually(() => !broker.server.sessions.hasGroup(durable) && !broker.server.sessions.hasGroup(transient))
  const producer = await startProducer(broker.address, randomName('p'), [topic])
  const { messageId } = await producer.sendStringMessage({ topic, messageType: 'm', body: 'kept' })
  await eventually(async () => (await broker.server.store.get(topic, messageId))?.succGroups.includes(transient) === true)
  const kept = await broker.server.store.get(topic, messageId)
  t.deepEqual(kept?.succGroups, [transient], 'dropped for the non-persistent group')
  t.is(kept?.deliverCount, 0, 'waiting for an offline group spends no delivery attempt')
  const back = await startConsumer({ address: broker.address, group: durable, bindings: [bindFanout(durable, topic, 0, true)] })
  const [m] = await back.waitFor(1)
  t.is(m.messageId, messageId)
  await eventually(async () => (await broker.server.store.get(topic, messageId)) === undefined)
  const late = await startConsumer({ address: broker.address, group: transient, bindings: [bindFanout(transient, topic, 0, false)] })
  await producer.sendStringMessage({ topic, messageType: 'm', body: 'second' })
  await late.waitFor(1)
  t.deepEqual(late.received.map((r) => r.body), ['second'], 'the dropped message never reaches the non-persistent group')
  await Promise.all([back.client.close(), late.client.close(), producer.close(), broker.server.stop()])
})

test('warm-up: a connection that just announced warmingupSec gets only a small share at first', async (t) => {
  const topic = randomName('t')
  const broker = await startBroker({ topics: [topic] })
  const group = randomName('s')
  const warm = await startConsumer({ address: broker.address, group, bindings: [bindDirect(group, topic, 'm')] })
  const cold = await startConsumer({ address: broker.address, group, bindings: [bindDirect(group, topic, 'm')], warmingupSec: 30 })
  const producer = await startProducer(broker.address, randomName('p'), [topic])
  await Promise.all(Array.from({ length: 300 }, () => producer.sendStringMessage({ topic, messageType: 'm', body: 'x' })))
  await eventually(() => warm.received.length + cold.received.length === 300)
  // within its first second of 30 the cold one is eligible ≤ ~4 % of the time
  t.true(cold.received.length < 45, `cold consumer got ${cold.received.length} of 300`)
  t.true(warm.received.length > 255)
  await Promise.all([warm.client.close(), cold.client.close(), producer.close(), broker.server.stop()])
})

test('warm-up alone never loses a message: it is put off until the ramp lets it through', async (t) => {
  const topic = randomName('t')
  const broker = await startBroker({ topics: [topic] })
  const group = randomName('s')
  const cold = await startConsumer({ address: broker.address, group, bindings: [bindDirect(group, topic, 'm')], warmingupSec: 1 })
  const producer = await startProducer(broker.address, randomName('p'), [topic])
  await Promise.all(Array.from({ length: 20 }, () => producer.sendStringMessage({ topic, messageType: 'm', body: 'x' })))
  await cold.waitFor(20, 10_000)
  t.is(cold.received.length, 20)
  await Promise.all([cold.client.close(), producer.close(), broker.server.stop()])
})

test("watermark: a group's deliveries are held to its rate, and none is lost", async (t) => {
  const topic = randomName('t')
  const broker = await startBroker({ topics: [topic] })
  const group = randomName('s')
  const consumer = await startConsumer({ address: broker.address, group, bindings: [bindDirect(group, topic, 'm', 40)] })
  const producer = await startProducer(broker.address, randomName('p'), [topic])
  const start = Date.now()
  await Promise.all(Array.from({ length: 100 }, () => producer.sendStringMessage({ topic, messageType: 'm', body: 'x' })))
  await consumer.waitFor(100, 15_000)
  const elapsed = Date.now() - start
  // burst 20, then 40/s for the other 80: about 2 s
  t.true(elapsed >= 1500, `100 messages at 40/s took only ${elapsed} ms`)
  t.is(new Set(consumer.received.map((m) => m.messageId)).size, 100)
  await Promise.all([consumer.client.close(), producer.close(), broker.server.stop()])
})

test('fly messages are delivered once, never stored, never retried; an uncommitted fly is refused', async (t) => {
  const topic = randomName('t')
  const broker = await startBroker({ topics: [topic] })
  const group = randomName('s')
  const consumer = await startConsumer({ address: broker.address, group, bindings: [bindDirect(group, topic, 'm')], decide: () => false })
  const producer = await startProducer(broker.address, randomName('p'), [topic])
  const sent = await producer.sendStringMessage({ topic, messageType: 'm', body: 'x', fly: true })
  t.is(sent.feedback, 'FLY NO NEED SAVE')
  await eventually(() => consumer.attempts.get(sent.messageId) === 1)
  t.false(topic in (await broker.server.store.stats()).pendingByTopic, "a fly message is never stored")
  await eventually(() => broker.server.stats.totals.failed === 1)
  t.is(consumer.attempts.get(sent.messageId), 1, 'a refused fly message is not redelivered')
  const err = await t.throwsAsync(producer.sendStringMessage({ topic, messageType: 'm', body: 'x', fly: true, commit: false }))
  t.is((err as { code?: string }).code, 'KITEQ_ERR_REJECTED')
  t.regex(err!.message, /FLY MUST BE COMMITTED/)
  await Promise.all([consumer.client.close(), producer.close(), broker.server.stop()])
})
