import test from 'ava'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { bindDirect } from '../../binding/binding.ts'
import type { ScheduleOutcome } from '../../handler/message-ops.ts'
import { ManualClock } from '../../server/clock.ts'
import type { KiteQServer } from '../../server/kiteq-server.ts'
import { MemoryStore } from '../../store/memory-store.ts'
import type { StoredMessage } from '../../store/message-store.ts'
import { openStore } from '../../store/open-store.ts'
import { randomName, startBroker } from '../helpers/broker.ts'
import { eventually, startConsumer, startProducer } from '../helpers/clients.ts'
import { Hold } from '../helpers/hold.ts'

async function setup(extra = {}) {
  const topic = randomName('delay')
  const broker = await startBroker({ topics: [topic], ...extra })
  const group = randomName('s')
  const arrivals = new Map<string, number>()
  const consumer = await startConsumer({
    address: broker.address, group, bindings: [bindDirect(group, topic, 'm')],
    decide: (m) => (arrivals.set(m.messageId, Date.now()), true),
  })
  const producer = await startProducer(broker.address, randomName('p'), [topic])
  const close = () => Promise.all([consumer.client.close(), producer.close(), broker.server.stop()])
  return { topic, broker, consumer, producer, arrivals, close }
}

test('delivered in deliverAt order regardless of arrival order, never early', async (t) => {
  const { topic, consumer, producer, arrivals, broker, close } = await setup()
  const base = Date.now() + 300
  const offsets = [400, 0, 200, 100, 300]
  const sent: { id: string; at: number }[] = []
  for (const off of offsets) {
    const at = base + off
    sent.push({ id: (await producer.sendStringMessage({ topic, messageType: 'm', body: String(off), deliverAt: at })).messageId, at })
  }
  await consumer.waitFor(5)
  t.deepEqual(consumer.received.map((m) => m.body), ['0', '100', '200', '300', '400'])
  for (const s of sent) t.true(arrivals.get(s.id)! >= s.at, `arrived ${arrivals.get(s.id)! - s.at} ms early`)
  const lateness = broker.server.stats.delayLateness.get(topic)!.summary()
  t.is(lateness.count, 5)
  t.true(lateness.p99Ms < 1000)
  await close()
})

test('delays of 0, 1 ms and 1 s, and deliverAt in the past (= now); delayMs and Date forms', async (t) => {
  const { topic, consumer, producer, arrivals, close } = await setup()
  const start = Date.now()
  const ids = {
    zero: (await producer.sendStringMessage({ topic, messageType: 'm', body: 'zero', delayMs: 0 })).messageId,
    oneMs: (await producer.sendStringMessage({ topic, messageType: 'm', body: '1ms', delayMs: 1 })).messageId,
    oneSec: (await producer.sendStringMessage({ topic, messageType: 'm', body: '1s', deliverAt: new Date(start + 1000) })).messageId,
    past: (await producer.sendStringMessage({ topic, messageType: 'm', body: 'past', deliverAt: start - 60_000 })).messageId,
  }
  await consumer.waitFor(4)
  t.true(arrivals.get(ids.oneSec)! >= start + 1000)
  t.true(arrivals.get(ids.past)! < start + 1000, 'a past deliverAt is delivered now')
  await close()
})

test('minutes ahead, on an injected clock: nothing fires until the clock gets there', async (t) => {
  const clock = new ManualClock(Date.now())
  const { topic, consumer, producer, broker, close } = await setup({ clock })
  const deliverAt = clock.now() + 5 * 60_000
  const { messageId } = await producer.sendStringMessage({ topic, messageType: 'm', body: 'later', deliverAt })
  for (let s = 0; s < 299; s++) {
    clock.advance(1000)
    await new Promise((r) => setImmediate(r))
  }
  await new Promise((r) => setTimeout(r, 50))
  t.is(consumer.received.length, 0, 'not before its time')
  t.is((await broker.server.store.get(topic, messageId))?.nextDeliverAtMs, deliverAt)
  for (let s = 0; s < 2; s++) {
    clock.advance(1000)
    await new Promise((r) => setImmediate(r))
  }
  const [m] = await consumer.waitFor(1)
  t.is(m.messageId, messageId)
  t.is(m.deliverAt, deliverAt)
  await close()
})

test('one year ahead is accepted; one year and one second is refused with a reason', async (t) => {
  const { topic, producer, broker, close } = await setup()
  const year = 365 * 24 * 3600 * 1000
  const ok = await producer.sendStringMessage({ topic, messageType: 'm', body: 'x', deliverAt: Date.now() + year - 1000 })
  const stored = await broker.server.store.get(topic, ok.messageId)
  t.truthy(stored)
  t.is(stored!.expiredTime, Math.floor(stored!.deliverAtMs / 1000) + 7 * 86400, 'the expiry clamp counts from deliverAt')
  const err = await t.throwsAsync(producer.sendStringMessage({ topic, messageType: 'm', body: 'x', deliverAt: Date.now() + year + 1000 }))
  t.is((err as { code?: string }).code, 'KITEQ_ERR_REJECTED')
  t.regex(err!.message, /Invalid deliverAt! .* more than 31536000000 ms ahead/)
  const early = await t.throwsAsync(producer.sendStringMessage({
    topic, messageType: 'm', body: 'x', deliverAt: Date.now() + 3600_000, expiredTime: Math.floor(Date.now() / 1000) + 60,
  }))
  t.regex(early!.message, /Expired Message! expiredTime \d+ is not after deliverAt/)
  await close()
})

test('cancel before firing, cancel after (already delivered), unknown id, reschedule earlier and later', async (t) => {
  const { topic, consumer, producer, arrivals, close } = await setup()
  const far = Date.now() + 3600_000
  const cancelled = await producer.sendStringMessage({ topic, messageType: 'm', body: 'cancel me', deliverAt: far })
  t.like(await producer.cancel(topic, cancelled.messageId), { result: 'cancelled' })
  t.like(await producer.cancel(topic, cancelled.messageId), { result: 'not-found' })
  t.like(await producer.cancel(topic, producer.messageId()), { result: 'not-found' })

  const earlier = await producer.sendStringMessage({ topic, messageType: 'm', body: 'earlier', deliverAt: far })
  const requested = Date.now() + 200
  const moved = await producer.reschedule(topic, earlier.messageId, requested)
  t.is(moved.result, 'rescheduled')
  t.is(moved.deliverAt, requested)
  await consumer.waitFor(1)
  t.true(arrivals.get(earlier.messageId)! >= requested)
  t.like(await producer.cancel(topic, earlier.messageId), { result: 'already-delivered' })

  const later = await producer.sendStringMessage({ topic, messageType: 'm', body: 'later', delayMs: 300 })
  t.like(await producer.reschedule(topic, later.messageId, Date.now() + 1500), { result: 'rescheduled' })
  await new Promise((r) => setTimeout(r, 600))
  t.false(arrivals.has(later.messageId), 'not at its old time')
  await consumer.waitFor(2, 5000)
  t.like(await producer.reschedule(topic, producer.messageId(), Date.now()), { result: 'not-found' })
  t.like(await producer.reschedule(topic, cancelled.messageId, Date.now() + 365 * 86400_000 + 60_000), { result: 'not-found' })
  await close()
})

/**
 * A memory store whose held read takes its rows when issued and hands them over only when let go,
 * as a store across the network (mysql://) does with a round trip in between.
 */
class SlowReadStore extends MemoryStore {
  reads = 0
  #hold: Hold | undefined
  /** The next read takes its rows and waits to hand them over until let go. */
  holdNextRead(): Hold {
    return (this.#hold = new Hold())
  }

  override get(topic: string, messageId: string): Promise<StoredMessage | undefined> {
    this.reads++
    const rows = super.get(topic, messageId)
    const hold = this.#hold
    if (hold === undefined) return rows
    this.#hold = undefined
    return hold.pass().then(() => rows)
  }
}

/**
 * A message due in 1 s on a manual clock; `change` is started on it, and while the change's read
 * of the message is held the message falls due. Returns once the change has answered.
 */
async function changeAsItFallsDue(change: (server: KiteQServer, topic: string, messageId: string, clock: ManualClock) => Promise<ScheduleOutcome>) {
  const clock = new ManualClock(Date.now())
  const store = new SlowReadStore()
  const ctx = await setup({ clock, store })
  const { messageId } = await ctx.producer.sendStringMessage({ topic: ctx.topic, messageType: 'm', body: 'x', deliverAt: clock.now() + 1000 })
  const hold = store.holdNextRead()
  const answer = change(ctx.broker.server, ctx.topic, messageId, clock)
  await hold.entered
  const readsBefore = store.reads
  clock.advance(1000)
  const readsWhileHeld = store.reads - readsBefore
  hold.letGo()
  return { ...ctx, clock, store, messageId, outcome: await answer, readsWhileHeld }
}

test('no delivery starts while a cancel is under way: a message answered "cancelled" never arrives', async (t) => {
  const { topic, consumer, store, messageId, outcome, readsWhileHeld, close } = await changeAsItFallsDue((server, topic, id) => server.cancel(topic, id))
  t.is(readsWhileHeld, 0, 'the fire did not read the message the cancel holds')
  t.like(outcome, { result: 'cancelled' })
  await new Promise((r) => setTimeout(r, 200))
  t.is(consumer.received.length, 0)
  t.is(await store.get(topic, messageId), undefined)
  await close()
})

test('a fire skipped while a refused reschedule held the message is made up for', async (t) => {
  const { consumer, clock, messageId, outcome, close } = await changeAsItFallsDue(
    (server, topic, id, clock) => server.reschedule(topic, id, clock.now() + 400 * 86400_000))
  t.like(outcome, { result: 'refused' }, 'more than a year ahead')
  clock.advance(1)
  const [m] = await consumer.waitFor(1)
  t.is(m.messageId, messageId)
  await close()
})

test('an uncommitted transactional message can be cancelled', async (t) => {
  const { topic, producer, broker, close } = await setup()
  let cancelResult: unknown
  await producer.sendTxStringMessage({ topic, messageType: 'm', body: 'x', delayMs: 60_000 }, async (m) => {
    cancelResult = await producer.cancel(topic, m.messageId)
    return true
  })
  t.like(cancelResult, { result: 'cancelled' })
  t.is((await broker.server.store.stats()).pendingByTopic[topic] ?? 0, 0)
  await close()
})

test('delayed tx: committed before deliverAt fires at deliverAt; committed after fires at commit', async (t) => {
  const { topic, consumer, producer, arrivals, close } = await setup()
  const deliverAt = Date.now() + 800
  const early = await producer.sendTxStringMessage({ topic, messageType: 'm', body: 'early', deliverAt }, () => true)
  const lateDeliverAt = Date.now() + 100
  let committedAt = 0
  const late = await producer.sendTxStringMessage({ topic, messageType: 'm', body: 'late', deliverAt: lateDeliverAt }, async () => {
    await new Promise((r) => setTimeout(r, 500)) // the local transaction outlasts deliverAt
    committedAt = Date.now()
    return true
  })
  await consumer.waitFor(2)
  t.true(arrivals.get(early.messageId)! >= deliverAt, 'not before deliverAt although committed long before')
  t.true(arrivals.get(late.messageId)! >= committedAt, 'not before its commit although deliverAt had passed')
  t.true(arrivals.get(late.messageId)! >= lateDeliverAt + 400)
  await close()
})

for (const scheme of ['sqlite', 'file']) {
  test(`restart (${scheme}): messages due during downtime fire at once; acknowledged ones never again; per-topic dead-letter policy`, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), `kiteq-restart-${scheme}-`))
    const uri = scheme === 'sqlite' ? `sqlite://${join(dir, 'k.db')}` : `file://${dir}`
    const topic = randomName('delay')
    const dlqTopic = randomName('dlq')
    const group = randomName('s')
    const first = await startBroker({ topics: [topic, dlqTopic], store: openStore(uri) })
    const consumer = await startConsumer({ address: first.address, group, bindings: [bindDirect(group, topic, 'm'), bindDirect(group, dlqTopic, 'm')] })
    const producer = await startProducer(first.address, randomName('p'), [topic, dlqTopic])
    const now = await producer.sendStringMessage({ topic, messageType: 'm', body: 'now' })
    await consumer.waitFor(1)
    const dueAt = Date.now() + 800
    const during = await producer.sendStringMessage({ topic, messageType: 'm', body: 'during', deliverAt: dueAt })
    const dropped = await producer.sendStringMessage({ topic: dlqTopic, messageType: 'm', body: 'dropped', deliverAt: dueAt })
    const after = await producer.sendStringMessage({ topic, messageType: 'm', body: 'after', deliverAt: Date.now() + 60_000 })
    await Promise.all([consumer.client.close(), producer.close()])
    await first.server.stop()
    while (Date.now() < dueAt + 200) await new Promise((r) => setTimeout(r, 50))

    const second = await startBroker({ topics: [topic, dlqTopic], store: openStore(uri), overdueToDeadLetter: [dlqTopic], offlineRetryMs: 100 })
    const again = await startConsumer({ address: second.address, group, bindings: [bindDirect(group, topic, 'm'), bindDirect(group, dlqTopic, 'm')] })
    const [m] = await again.waitFor(1)
    t.is(m.messageId, during.messageId)
    await eventually(async () => (await second.server.store.listDeadLetters({ topic: dlqTopic })).length === 1)
    const [dead] = await second.server.store.listDeadLetters({ topic: dlqTopic })
    t.is(dead.message.messageId, dropped.messageId)
    t.regex(dead.reason, /fell due .* while the broker was down/)
    t.truthy(await second.server.store.get(topic, after.messageId), 'the future one still waits')
    t.is(await second.server.store.get(topic, now.messageId), undefined)
    await new Promise((r) => setTimeout(r, 300))
    t.deepEqual(again.received.map((r) => r.body), ['during'], 'the acknowledged message never fires again')
    await Promise.all([again.client.close(), second.server.stop()])
  })
}
