import test from 'ava'
import { DuePump } from '../../server/due-pump.ts'
import { compareDue, type DueEntry } from '../../store/message-store.ts'

const entry = (topic: string, n: number): DueEntry => ({ topic, messageId: `${topic}-${n}`, nextDeliverAtMs: n })

/**
 * A pump whose work is driven by hand: `started` lists what it began, `finish(id)` dispatches it.
 * `stored` stands for the store's due entries, which re-reads of spilled entries page through.
 */
function harness(options: { maxDispatching: number; groupWindow: number; topicQueueLimit?: number }) {
  const started: string[] = []
  const dispatchers = new Map<string, () => void>()
  const stored: DueEntry[] = []
  const reloads: { topic: string; after: DueEntry; limit: number }[] = []
  let drained = 0
  const pump = new DuePump({
    topicQueueLimit: 1000,
    ...options,
    start: (e, dispatched) => {
      started.push(e.messageId)
      dispatchers.set(e.messageId, dispatched)
      return true
    },
    drained: () => drained++,
    reload: async (topic, after, limit) => {
      reloads.push({ topic, after, limit })
      return stored.filter((e) => e.topic === topic && compareDue(e, after) > 0).sort(compareDue).slice(0, limit)
    },
  })
  const finish = (id: string) => {
    const dispatched = dispatchers.get(id)
    if (dispatched === undefined) throw new Error(`${id} was not started`)
    dispatched()
  }
  /** What a delivery stage does with a started entry: take a window place, or park it. */
  const route = (id: string, topic: string, group: string): boolean => {
    const took = pump.tryTake(topic, group)
    if (!took) pump.park({ topic, messageId: id, nextDeliverAtMs: 0 }, group)
    finish(id)
    return took
  }
  /** Two messages of `topic` for a group with a window of one: the first takes it, the second is parked. */
  const fillAndPark = (topic: string, group: string): boolean => {
    pump.add([entry(topic, 1), entry(topic, 2)])
    const first = route(`${topic}-1`, topic, group)
    return first && !route(`${topic}-2`, topic, group)
  }
  return { pump, started, finish, route, fillAndPark, stored, reloads, drained: () => drained }
}

/** Lets settled re-reads be taken in. */
const reloadsLand = () => new Promise((resolve) => setImmediate(resolve))

test('at most maxDispatching entries are between start and dispatch; each dispatch lets the next in', (t) => {
  const h = harness({ maxDispatching: 3, groupWindow: 100 })
  h.pump.add([1, 2, 3, 4, 5].map((n) => entry('a', n)))
  t.deepEqual(h.started, ['a-1', 'a-2', 'a-3'])
  t.is(h.pump.backlog, 5)
  h.finish('a-2')
  h.finish('a-2') // a second call gives nothing back twice
  t.deepEqual(h.started, ['a-1', 'a-2', 'a-3', 'a-4'])
  t.is(h.pump.backlog, 4)
  t.is(h.drained(), 1)
})

test('topics take turns: a burst on one topic does not hold back another', (t) => {
  const h = harness({ maxDispatching: 1, groupWindow: 100 })
  h.pump.add([1, 2, 3, 4].map((n) => entry('big', n)))
  h.pump.add([entry('small', 1), entry('small', 2)])
  for (let i = 0; i < 5; i++) h.finish(h.started[h.started.length - 1])
  t.deepEqual(h.started, ['big-1', 'big-2', 'small-1', 'big-3', 'small-2', 'big-4'])
})

test('a topic whose group is full is not read on; other topics go on; it resumes at three quarters', (t) => {
  const h = harness({ maxDispatching: 1, groupWindow: 8 })
  h.pump.add([1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((n) => entry('slow', n)))
  for (let n = 1; n <= 8; n++) t.true(h.route(`slow-${n}`, 'slow', 'g-slow'))
  // the lane's group is full: its next message is not even read
  t.is(h.started.length, 8)
  h.pump.add([entry('fast', 1), entry('fast', 2)])
  t.true(h.route('fast-1', 'fast', 'g-fast'))
  t.true(h.route('fast-2', 'fast', 'g-fast'))
  t.deepEqual(h.started.slice(8), ['fast-1', 'fast-2'])
  // one answer is not room enough: the window reopens at 6 outstanding
  h.pump.release('g-slow')
  t.is(h.started.length, 10)
  h.pump.release('g-slow')
  t.deepEqual(h.started.slice(10), ['slow-9'])
  t.true(h.route('slow-9', 'slow', 'g-slow'))
  t.deepEqual(h.started.slice(11), ['slow-10'])
})

test('messages that find their group full are parked as keys, hold their topic, and are read again first', (t) => {
  const h = harness({ maxDispatching: 4, groupWindow: 2 })
  // all four are read before any is routed: two fit, two park
  h.pump.add([1, 2, 3, 4].map((n) => entry('t', n)))
  t.deepEqual(h.started, ['t-1', 't-2', 't-3', 't-4'])
  t.true(h.route('t-1', 't', 'g'))
  t.true(h.route('t-2', 't', 'g'))
  t.false(h.route('t-3', 't', 'g'))
  t.false(h.route('t-4', 't', 'g'))
  t.is(h.pump.parked, 2)
  h.pump.add([entry('t', 5)])
  t.is(h.started.length, 4, 'the topic waits while its messages are parked')
  t.is(h.pump.backlog, 3, 'parked and queued entries count against the scheduler memory cap')
  // low water is 1: one answer leaves one place, for the first parked message only
  h.pump.release('g')
  t.deepEqual(h.started.slice(4), ['t-3'])
  t.true(h.route('t-3', 't', 'g'))
  h.pump.release('g')
  h.pump.release('g')
  t.deepEqual(h.started.slice(5), ['t-4', 't-5'])
  t.true(h.route('t-4', 't', 'g'))
  t.is(h.pump.parked, 0)
})

test('a group that never answers holds back only the topics it parked', (t) => {
  const h = harness({ maxDispatching: 2, groupWindow: 1 })
  t.true(h.fillAndPark('a', 'hung'))
  h.pump.add([entry('a', 3), entry('b', 1), entry('b', 2), entry('b', 3)])
  for (const id of ['b-1', 'b-2', 'b-3']) {
    t.true(h.route(id, 'b', 'ok'), id)
    h.pump.release('ok')
  }
  t.deepEqual(h.started, ['a-1', 'a-2', 'b-1', 'b-2', 'b-3'])
  t.is(h.pump.parked, 1)
  t.is(h.pump.backlog, 2)
})

test('a group whose window went idle and was forgotten still reopens for topics that last sent to it', (t) => {
  // Topic a's last delivery took a place in g's window; the window then empties and is forgotten.
  // b fills g's new window and parks b-3; a-2 is then read for g. Both windows must be one: when
  // b-1 and b-2 are answered, b-3 and everything after must go out.
  const h = harness({ maxDispatching: 10, groupWindow: 2 })
  h.pump.add([entry('a', 1)])
  t.true(h.route('a-1', 'a', 'g'))
  h.pump.release('g')
  h.pump.add([entry('b', 1), entry('b', 2), entry('b', 3)])
  t.true(h.route('b-1', 'b', 'g'))
  t.true(h.route('b-2', 'b', 'g'))
  t.false(h.route('b-3', 'b', 'g'))
  h.pump.add([entry('a', 2)])
  t.false(h.started.includes('a-2'), 'a waits: its group is full')
  h.pump.release('g')
  h.pump.release('g')
  t.true(h.started.includes('b-3'), 'the parked entry is read again')
  t.true(h.route('b-3', 'b', 'g'))
  t.true(h.route('a-2', 'a', 'g'))
  h.pump.add([entry('a', 3), entry('b', 4)])
  h.pump.release('g')
  h.pump.release('g')
  t.true(h.route('a-3', 'a', 'g'))
  t.true(h.route('b-4', 'b', 'g'))
  t.is(h.pump.parked, 0)
  t.is(h.pump.backlog, 0)
})

test('stop drops everything queued and parked', (t) => {
  const h = harness({ maxDispatching: 2, groupWindow: 1 })
  t.true(h.fillAndPark('t', 'g'))
  h.pump.add([entry('t', 3)])
  h.pump.stop()
  h.pump.release('g')
  h.pump.add([entry('t', 9)])
  t.is(h.pump.backlog, 0)
  t.deepEqual(h.started, ['t-1', 't-2'])
})

test('a topic keeps at most its queue limit in memory; the rest is spilled and other topics still get in', (t) => {
  const h = harness({ maxDispatching: 1, groupWindow: 100, topicQueueLimit: 4 })
  const hung = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((n) => entry('hung', n))
  h.stored.push(...hung)
  h.pump.add(hung)
  // hung-1 is being read (its work never dispatches); three wait; six went back to the store
  t.deepEqual(h.started, ['hung-1'])
  t.is(h.pump.backlog, 4)
  t.is(h.pump.spilled, 6)
  h.pump.add([entry('other', 1)])
  t.is(h.pump.backlog, 5, 'another topic is not refused room')
  h.finish('hung-1')
  h.finish('hung-2')
  t.deepEqual(h.started, ['hung-1', 'hung-2', 'other-1'], 'topics take turns as before')
})

test('spilled entries are re-read from the store in time order as the topic drains, later ones after them', async (t) => {
  const h = harness({ maxDispatching: 1, groupWindow: 100, topicQueueLimit: 4 })
  const first = [1, 2, 3, 4, 5, 6, 7, 8].map((n) => entry('t', n))
  h.stored.push(...first)
  h.pump.add(first)
  t.is(h.pump.spilled, 4)
  // while entries are spilled, new ones go to the store too, even with room, so order holds
  const later = [9, 10].map((n) => entry('t', n))
  h.stored.push(...later)
  h.pump.add(later)
  t.is(h.pump.spilled, 6)
  for (let i = 0; i < 20 && h.started.length < 10; i++) {
    h.finish(h.started[h.started.length - 1])
    await reloadsLand()
  }
  t.deepEqual(h.started, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((n) => `t-${n}`))
  // re-reads start at half the limit, with room for what is missing, from where the spill began
  t.deepEqual(h.reloads[0], { topic: 't', after: { topic: 't', messageId: '', nextDeliverAtMs: 5 }, limit: 2 })
  t.true(h.reloads.every((r) => r.limit <= 4))
})

test('a re-read that returns nothing leaves the topic spilling nothing more', async (t) => {
  const h = harness({ maxDispatching: 1, groupWindow: 100, topicQueueLimit: 2 })
  // spilled entries that are gone from the store by the time they are re-read (delivered, cancelled)
  h.pump.add([1, 2, 3, 4].map((n) => entry('t', n)))
  h.finish('t-1')
  await reloadsLand()
  h.finish('t-2')
  await reloadsLand()
  t.deepEqual(h.started, ['t-1', 't-2'])
  h.pump.add([entry('t', 5)])
  t.deepEqual(h.started, ['t-1', 't-2', 't-5'], 'a new entry is taken at once again')
  t.is(h.pump.spilled, 2)
})

test('limits below one are refused', (t) => {
  const options = { maxDispatching: 1, groupWindow: 1, topicQueueLimit: 2, start: () => true, drained: () => {}, reload: async () => [] }
  t.throws(() => new DuePump({ ...options, maxDispatching: 0 }), { instanceOf: RangeError })
  t.throws(() => new DuePump({ ...options, topicQueueLimit: 1 }), { instanceOf: RangeError })
})
