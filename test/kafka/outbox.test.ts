import test from 'ava'
import { Outbox, type OutboxLimits, type OutboxSink } from '../../kafka/outbox.ts'
import type { TopicBatch } from '../../kafka/producer-link.ts'
import { KafkaHeaders, toKafkaMessage } from '../../kafka/record.ts'
import { headerOf, type StoredMessage } from '../../store/message-store.ts'
import { eventually } from '../helpers/clients.ts'

/** A sink whose requests stay open until the test settles them. */
class FakeSink implements OutboxSink {
  up = true
  requests: { batches: TopicBatch[]; settle(ok: boolean): void }[] = []
  send(batches: TopicBatch[]): Promise<void> {
    return new Promise((resolve, reject) => {
      this.requests.push({
        batches,
        settle: (ok) => {
          if (!ok) this.up = false // as the producer link does: a failed send takes it down
          ok ? resolve() : reject(new Error('boom'))
        },
      })
    })
  }
}

let seq = 0
function message(bodyBytes = 10, extra: Partial<StoredMessage> = {}): StoredMessage {
  const messageId = (seq++).toString(16).padStart(32, '0')
  return {
    messageId, topic: 't', messageType: 'm', cmdType: 0x11,
    header: { messageId, topic: 't', messageType: 'm', expiredTime: -1, deliverLimit: 100, groupId: 'pub', commit: true, fly: false, properties: [], createTime: 1_700_000_000 },
    body: Buffer.alloc(bodyBytes, 1), publishGroup: 'pub', commit: true, createdAtMs: 0, expiredTime: 0, deliverAtMs: 0,
    deliverCount: 0, deliverLimit: 100, nextDeliverAtMs: 0, succGroups: [], failGroups: [], txCheckCount: 0, ...extra,
  }
}

const limits: OutboxLimits = { maxPendingMessages: 100, maxPendingBytes: 1 << 20, maxBatchMessages: 50, maxBatchBytes: 64 * 1024, maxQueueWaitMs: 60_000, maxRoomWaitMs: 10_000 }

test('deliveries of one turn go in one request, per Kafka topic; each is answered by it', async (t) => {
  const sink = new FakeSink()
  const outbox = new Outbox(sink, limits)
  const answers = [outbox.enqueue('a', message()), outbox.enqueue('b', message()), outbox.enqueue('a', message())]
  await eventually(() => sink.requests.length === 1)
  t.deepEqual(sink.requests[0].batches.map((b) => [b.topic, b.messages.length]), [['a', 2], ['b', 1]])
  // more arrive while the request is out: they wait for it, then leave together
  const later = Array.from({ length: 10 }, () => outbox.enqueue('a', message()))
  await new Promise((r) => setImmediate(r))
  t.is(sink.requests.length, 1, 'one request at a time')
  sink.requests[0].settle(true)
  t.deepEqual(await Promise.all(answers), [true, true, true])
  await eventually(() => sink.requests.length === 2)
  t.is(sink.requests[1].batches[0].messages.length, 10)
  sink.requests[1].settle(true)
  t.true((await Promise.all(later)).every(Boolean))
  t.deepEqual(outbox.pending, { messages: 0, bytes: 0 })
  t.is(outbox.counters.forwarded, 13)
})

test('a failed request answers its deliveries false, and what queued behind it too', async (t) => {
  const sink = new FakeSink()
  const outbox = new Outbox(sink, limits)
  const first = outbox.enqueue('a', message())
  await eventually(() => sink.requests.length === 1)
  const queued = outbox.enqueue('a', message())
  sink.requests[0].settle(false)
  t.false(await first)
  t.false(await queued)
  t.is(sink.requests.length, 1, 'nothing is sent while the sink is down')
  t.false(await outbox.enqueue('a', message()), 'refused at once while down')
  sink.up = true
  const again = outbox.enqueue('a', message())
  await eventually(() => sink.requests.length === 2)
  sink.requests[1].settle(true)
  t.true(await again)
})

test('bounded: full by count or bytes; a request never passes maxBatchBytes unless one message does', async (t) => {
  const sink = new FakeSink()
  const outbox = new Outbox(sink, { ...limits, maxPendingMessages: 5, maxBatchBytes: 3000 })
  const answers = Array.from({ length: 5 }, () => outbox.enqueue('a', message(1000)))
  t.true(outbox.full)
  t.false(await outbox.enqueue('a', message()), 'refused when full')
  await eventually(() => sink.requests.length === 1)
  const sizes = () => sink.requests.map((r) => r.batches[0].messages.length)
  t.true(sink.requests[0].batches[0].messages.length < 5, `first request ${sizes()}`)
  for (let settled = 0; outbox.pending.messages > 0; settled++) {
    await eventually(() => sink.requests.length > settled)
    sink.requests[settled].settle(true)
    await eventually(() => sink.requests.length > settled + 1 || outbox.pending.messages === 0)
  }
  t.true((await Promise.all(answers)).every(Boolean))
  t.true(sink.requests.length >= 2, `split by bytes: ${sizes()}`)

  const bigSink = new FakeSink()
  const big = new Outbox(bigSink, { ...limits, maxPendingBytes: 20_000, maxBatchBytes: 3000 })
  const small = big.enqueue('a', message(10))
  const oversize = big.enqueue('a', message(20_000))
  t.true(big.full, 'bytes count too')
  t.false(await big.enqueue('a', message(10)))
  await eventually(() => bigSink.requests.length === 1)
  t.is(bigSink.requests[0].batches[0].messages.length, 1)
  bigSink.requests[0].settle(true)
  await eventually(() => bigSink.requests.length === 2)
  t.is(bigSink.requests[1].batches[0].messages.length, 1, 'an oversize message goes alone')
  bigSink.requests[1].settle(true)
  t.deepEqual(await Promise.all([oversize, small]), [true, true])
})

test('full: deliveries turned away get staggered waits, like tickets, not one shared wait', async (t) => {
  const sink = new FakeSink()
  const outbox = new Outbox(sink, { ...limits, maxPendingMessages: 3, maxRoomWaitMs: 10_000 })
  t.is(outbox.waitForRoomMs(), 0)
  const answers = Array.from({ length: 3 }, () => outbox.enqueue('a', message()))
  const waits = Array.from({ length: 5 }, () => outbox.waitForRoomMs())
  t.true(waits.every((w, i) => w > 0 && (i === 0 || w >= waits[i - 1])) && waits[4] > waits[0], `waits ${waits}`)
  t.true(waits[4] <= 10_000)
  await eventually(() => sink.requests.length === 1)
  sink.requests[0].settle(true)
  await Promise.all(answers)
  t.is(outbox.waitForRoomMs(), 0, 'room again')
})

test('a delivery that waited maxQueueWaitMs behind a slow Kafka is answered false', async (t) => {
  const sink = new FakeSink()
  // the test's clock: a loaded machine stalling the event loop must not make the first one stale too
  let nowMs = 1_000_000
  const outbox = new Outbox(sink, { ...limits, maxQueueWaitMs: 30 }, () => nowMs)
  const slow = outbox.enqueue('a', message())
  await eventually(() => sink.requests.length === 1)
  const stuck = outbox.enqueue('a', message())
  nowMs += 31
  sink.requests[0].settle(true)
  t.true(await slow)
  t.false(await stuck)
  t.is(sink.requests.length, 1)
})

test('close answers queued deliveries false and waits for the request in flight', async (t) => {
  const sink = new FakeSink()
  const outbox = new Outbox(sink, limits)
  const inFlight = outbox.enqueue('a', message())
  await eventually(() => sink.requests.length === 1)
  const queued = outbox.enqueue('a', message())
  let closed = false
  const closing = outbox.close().then(() => (closed = true))
  t.false(await queued)
  await new Promise((r) => setImmediate(r))
  t.false(closed)
  sink.requests[0].settle(true)
  await closing
  t.true(await inFlight)
})

test('record: key = messageId, value = body, KiteQ fields and properties as headers', (t) => {
  const m = message(3, { deliverAtMs: 1_700_000_123_456 })
  const header = headerOf(m)
  header.properties = [{ key: 'k', value: 'v' }, { key: 'dup', value: '1' }, { key: 'dup', value: '2' }]
  header.snappy = true
  const r = toKafkaMessage(m)
  t.is(r.key, m.messageId)
  t.is(r.value, m.body)
  t.deepEqual(r.headers, {
    [KafkaHeaders.TOPIC]: 't', [KafkaHeaders.MESSAGE_TYPE]: 'm', [KafkaHeaders.GROUP_ID]: 'pub',
    [KafkaHeaders.CREATE_TIME]: '1700000000', [KafkaHeaders.DELIVER_AT]: '1700000123456', [KafkaHeaders.SNAPPY]: 'true',
    'kiteq-prop-k': 'v', 'kiteq-prop-dup': ['1', '2'],
  })
})
