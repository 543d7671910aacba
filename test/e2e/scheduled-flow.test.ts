import test from 'ava'
import { setTimeout as sleep } from 'node:timers/promises'
import { bindDirect } from '../../binding/binding.ts'
import type { StoredMessage } from '../../store/message-store.ts'
import { randomName, startBroker } from '../helpers/broker.ts'
import { eventually, startConsumer, startProducer } from '../helpers/clients.ts'

/**
 * A healthy consumer on `okTopic` and `count` messages on each of `blockedTopic` and `okTopic`, sent
 * alternately, all due at the same moment (returned).
 */
async function okConsumerAndInterleavedSends(address: string, blockedTopic: string, okTopic: string, count: number) {
  const okGroup = randomName('s-ok')
  const ok = await startConsumer({ address, group: okGroup, bindings: [bindDirect(okGroup, okTopic, 'm')] })
  const producer = await startProducer(address, randomName('p'), [blockedTopic, okTopic])
  const dueAt = Date.now() + 500
  for (let i = 0; i < count; i++) {
    await producer.sendStringMessage({ topic: blockedTopic, messageType: 'm', body: `b${i}`, deliverAt: dueAt })
    await producer.sendStringMessage({ topic: okTopic, messageType: 'm', body: `o${i}`, deliverAt: dueAt })
  }
  return { ok, producer, dueAt }
}

test('a group that stops answering holds back only its own topic: another topic due at the same time is delivered at once', async (t) => {
  const hungTopic = randomName('hung')
  const okTopic = randomName('ok')
  // with one broker-wide budget of 4 held until answered, the hung group would stall both topics for the 8 s timeout
  const broker = await startBroker({ topics: [hungTopic, okTopic], deliveryTimeoutMs: 8_000, maxConcurrentDue: 4, dueGroupWindow: 4 })
  const hungGroup = randomName('s-hung')
  const hung = await startConsumer({
    address: broker.address, group: hungGroup, bindings: [bindDirect(hungGroup, hungTopic, 'm')],
    decide: () => new Promise<boolean>(() => {}),
  })
  const { ok, producer, dueAt } = await okConsumerAndInterleavedSends(broker.address, hungTopic, okTopic, 40)
  await ok.waitFor(40, 3_000)
  t.true(Date.now() - dueAt < 3_000)
  t.is(new Set(ok.received.map((m) => m.body)).size, 40)
  t.is(hung.attempts.size, 4, 'the hung group has exactly its window of deliveries outstanding')
  t.true(broker.server.dueFlow.backlog >= 36, 'the rest of its topic waits in the pump')
  await Promise.all([hung.client.close(), ok.client.close(), producer.close()])
  await broker.server.stop()
})

test('a group with room is not held back by a full one: it gets each message once, the full one later, once', async (t) => {
  const shared = randomName('shared')
  const other = randomName('other')
  const broker = await startBroker({ topics: [shared, other], dueGroupWindow: 2 })
  const fastGroup = randomName('s-fast')
  const slowGroup = randomName('s-slow')
  let slowAnswersFrom = Infinity
  const fast = await startConsumer({ address: broker.address, group: fastGroup, bindings: [bindDirect(fastGroup, shared, 'm')] })
  const slow = await startConsumer({
    address: broker.address, group: slowGroup, bindings: [bindDirect(slowGroup, shared, 'm'), bindDirect(slowGroup, other, 'm')],
    // a slow consumer: each answer takes a second
    decide: async () => {
      await sleep(1_000)
      slowAnswersFrom = Math.min(slowAnswersFrom, Date.now())
      return true
    },
  })
  const producer = await startProducer(broker.address, randomName('p'), [shared, other])

  const start = Date.now()
  // two messages fill the slow group's window first...
  for (let i = 0; i < 2; i++) await producer.sendStringMessage({ topic: other, messageType: 'm', body: `x${i}`, deliverAt: start + 300 })
  // ...so these find it full while the fast group has room
  for (let i = 0; i < 3; i++) await producer.sendStringMessage({ topic: shared, messageType: 'm', body: `s${i}`, deliverAt: start + 500 })

  await fast.waitFor(3, 5_000)
  await eventually(() => broker.server.dueFlow.parked === 3, 2_000, 'the shared messages parked for the slow group')
  t.true(Date.now() < slowAnswersFrom, 'the fast group had every shared message before the slow one answered anything')
  await slow.waitFor(5, 10_000)
  t.deepEqual(fast.received.map((m) => m.body).sort(), ['s0', 's1', 's2'])
  t.deepEqual([...fast.attempts.values()], [1, 1, 1], 'parked for the slow group, not sent to the fast one again')
  t.deepEqual(slow.received.map((m) => m.body).sort(), ['s0', 's1', 's2', 'x0', 'x1'])
  t.deepEqual([...slow.attempts.values()], [1, 1, 1, 1, 1])
  await Promise.all([fast.client.close(), slow.client.close(), producer.close()])
  await broker.server.stop()
})

test('a delivery target (the Kafka bridge) that stops answering gets its window of scheduled deliveries, no more', async (t) => {
  const stuckTopic = randomName('stuck')
  const okTopic = randomName('ok')
  const handed: StoredMessage[] = []
  const answers: ((ok: boolean) => void)[] = []
  let stuck = true
  const stuckTarget = {
    busyForMs: () => 0,
    deliver: (m: StoredMessage) => {
      handed.push(m)
      // once it is no longer stuck, it refuses at once (the retries of what it was handed too)
      return stuck ? new Promise<boolean>((resolve) => answers.push(resolve)) : Promise.resolve(false)
    },
  }
  const broker = await startBroker({
    topics: [stuckTopic, okTopic], deliveryTimeoutMs: 8_000, maxConcurrentDue: 4, dueGroupWindow: 4,
    deliveryTargets: [{ groupId: 'kafka', bindings: [bindDirect('kafka', stuckTopic, 'm')], target: stuckTarget }],
  })
  const { ok, producer } = await okConsumerAndInterleavedSends(broker.address, stuckTopic, okTopic, 20)
  await ok.waitFor(20, 3_000)
  t.is(handed.length, 4, 'the target was handed exactly its window')
  t.true(broker.server.dueFlow.backlog >= 16, 'the rest of its topic waits in the pump')
  stuck = false
  for (const answer of answers) answer(false) // as the bridge's own timeout would
  await Promise.all([ok.client.close(), producer.close()])
  await broker.server.stop()
})

test('a hung group keeps only its topic queue in memory: the scheduler goes on loading other topics, and all its messages arrive once it answers again', async (t) => {
  const hungTopic = randomName('hung')
  const lateTopic = randomName('late')
  const broker = await startBroker({
    topics: [hungTopic, lateTopic], deliveryTimeoutMs: 1_500, maxConcurrentDue: 4, dueGroupWindow: 4, dueTopicQueue: 20,
    retry: { immediateAttempts: 0, delayMs: () => 200 },
    // a short window makes the loader read every message from the store, under a memory cap the
    // hung topic alone would fill: before topic queues, the later topic was not loaded for minutes
    scheduler: { windowMs: 300, loadIntervalMs: 100, maxInMemory: 100 },
  })
  let answering = false
  const hungGroup = randomName('s-hung')
  const hung = await startConsumer({
    address: broker.address, group: hungGroup, bindings: [bindDirect(hungGroup, hungTopic, 'm')],
    decide: () => (answering ? true : new Promise<boolean>(() => {})),
  })
  const lateGroup = randomName('s-late')
  const late = await startConsumer({ address: broker.address, group: lateGroup, bindings: [bindDirect(lateGroup, lateTopic, 'm')] })
  const producer = await startProducer(broker.address, randomName('p'), [hungTopic, lateTopic])
  const dueAt = Date.now() + 1_500
  for (let i = 0; i < 150; i++) await producer.sendStringMessage({ topic: hungTopic, messageType: 'm', body: `h${i}`, deliverAt: dueAt })
  for (let i = 0; i < 10; i++) await producer.sendStringMessage({ topic: lateTopic, messageType: 'm', body: `l${i}`, deliverAt: dueAt + 1_000 })

  await late.waitFor(10, 6_000)
  t.true(Date.now() - (dueAt + 1_000) < 1_000, `the later topic was delivered ${Date.now() - dueAt - 1_000} ms after it fell due`)
  t.true(broker.server.dueFlow.spilled > 0, 'the hung topic spilled')
  // its queue, and at most one dispatch budget of messages read and parked behind the full window
  t.true(broker.server.dueFlow.backlog <= 20 + 4 + 4, `in memory: ${broker.server.dueFlow.backlog} of the hung topic's 150`)
  answering = true
  await eventually(() => new Set(hung.received.map((m) => m.body)).size === 150, 20_000, 'every message of the hung topic arrived')
  await Promise.all([hung.client.close(), late.client.close(), producer.close()])
  await broker.server.stop()
})
