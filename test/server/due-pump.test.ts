import test from 'ava'
import { DuePump } from '../../server/due-pump.ts'
import type { DueEntry } from '../../store/message-store.ts'

const entry = (topic: string, n: number): DueEntry => ({ topic, messageId: `${topic}-${n}`, nextDeliverAtMs: n })

/** A pump whose work is driven by hand: `started` lists what it began, `finish(id)` dispatches it. */
function harness(options: { maxDispatching: number; groupWindow: number }) {
  const started: string[] = []
  const dispatchers = new Map<string, () => void>()
  let drained = 0
  const pump = new DuePump({
    ...options,
    start: (e, dispatched) => {
      started.push(e.messageId)
      dispatchers.set(e.messageId, dispatched)
      return true
    },
    drained: () => drained++,
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
  return { pump, started, finish, route, fillAndPark, drained: () => drained }
}

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

test('limits below one are refused', (t) => {
  t.throws(() => new DuePump({ maxDispatching: 0, groupWindow: 1, start: () => true, drained: () => {} }), { instanceOf: RangeError })
})
