import test from 'ava'
import { ManualClock, TimingWheel } from '../../server/index.ts'

test('fires items in time order, each no earlier than its time, with one timer armed', (t) => {
  const clock = new ManualClock(1_000_000)
  const fired: [string, number][] = []
  const wheel = new TimingWheel<string>({ clock, slots: 1024, onDue: (items) => items.forEach((i) => fired.push([i, clock.now()])) })
  t.true(wheel.schedule('c', 1_000_300))
  t.true(wheel.schedule('a', 1_000_005))
  t.true(wheel.schedule('b', 1_000_005))
  t.true(wheel.schedule('d', 1_000_000 + 1023))
  t.false(wheel.schedule('too far', 1_000_000 + 1025), 'beyond the window the caller keeps it')
  t.is(clock.pendingTimers, 1)
  clock.advance(4)
  t.deepEqual(fired, [])
  clock.advance(1)
  t.deepEqual(fired, [['a', 1_000_005], ['b', 1_000_005]])
  clock.advance(2000)
  t.deepEqual(fired.map(([i]) => i), ['a', 'b', 'c', 'd'])
  t.deepEqual(fired.map(([, at]) => at), [1_000_005, 1_000_005, 1_000_300, 1_000_000 + 1023])
  t.is(wheel.size, 0)
})

test('an item due in the past fires on the next tick', (t) => {
  const clock = new ManualClock(5000)
  const fired: number[] = []
  const wheel = new TimingWheel<number>({ clock, slots: 64, onDue: (items) => fired.push(...items) })
  wheel.schedule(1, 10)
  clock.advance(1)
  t.deepEqual(fired, [1])
})

test('an idle wheel catches up with time, so its whole window stays usable', (t) => {
  const clock = new ManualClock(0)
  const wheel = new TimingWheel<number>({ clock, slots: 64, onDue: () => {} })
  clock.advance(10_000)
  t.true(wheel.schedule(1, 10_060))
})

test('wrapping around the ring many times keeps order', (t) => {
  const clock = new ManualClock(0)
  const fired: number[] = []
  const wheel = new TimingWheel<number>({ clock, slots: 32, onDue: (items) => fired.push(...items) })
  let scheduled = 0
  for (let round = 0; round < 50; round++) {
    for (let k = 0; k < 5; k++) wheel.schedule(round * 100 + k, clock.now() + 1 + ((k * 7) % 31))
    scheduled += 5
    clock.advance(40)
  }
  t.is(fired.length, scheduled)
})
