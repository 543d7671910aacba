import test from 'ava'
import { RecentDeliveries } from '../../server/recent-deliveries.ts'

test('remembers the last `capacity` ids and forgets older ones in order', (t) => {
  const recent = new RecentDeliveries(3)
  for (const id of ['a', 'b', 'c', 'd']) recent.add('trade', id)
  t.false(recent.has('trade', 'a'))
  t.true(recent.has('trade', 'b'))
  t.true(recent.has('trade', 'd'))
  t.is(recent.size, 3)
  recent.add('trade', 'e')
  t.false(recent.has('trade', 'b'))
  t.true(recent.has('trade', 'c'))
})

test('answers per topic: an id is delivered only in the topics it was delivered in', (t) => {
  const recent = new RecentDeliveries(10)
  recent.add('trade', 'x')
  t.false(recent.has('feed', 'x'))
  recent.add('feed', 'x')
  t.true(recent.has('trade', 'x'))
  t.true(recent.has('feed', 'x'))
  recent.add('feed', 'x') // repeated: no second ring slot
  t.is(recent.size, 1)
})

test('adding a remembered id again does not push anything else out', (t) => {
  const recent = new RecentDeliveries(2)
  recent.add('trade', 'a')
  recent.add('trade', 'b')
  recent.add('trade', 'a')
  t.true(recent.has('trade', 'a'))
  t.true(recent.has('trade', 'b'))
})
