import test from 'ava'
import { InFlight } from '../../server/in-flight.ts'

test('in-flight work is found by topic and id: the same id on two topics is two entries', async (t) => {
  const inFlight = new InFlight()
  const a = Promise.resolve('a')
  const b = Promise.resolve('b')
  inFlight.set('orders', 'id-1', a)
  inFlight.set('payments', 'id-1', b)
  t.true(inFlight.has('orders', 'id-1'))
  t.false(inFlight.has('orders', 'id-2'))
  t.false(inFlight.has('refunds', 'id-1'))
  t.is(inFlight.get('payments', 'id-1'), b)
  t.deepEqual(await Promise.all(inFlight.all()), ['a', 'b'])
  inFlight.delete('orders', 'id-1')
  t.false(inFlight.has('orders', 'id-1'))
  t.true(inFlight.has('payments', 'id-1'))
  inFlight.delete('refunds', 'id-1') // nothing there: no error
  t.is(inFlight.all().length, 1)
})
