import test from 'ava'
import { InFlight } from '../../server/in-flight.ts'

test('in-flight work is found by topic and id: the same id on two topics is two entries', (t) => {
  const inFlight = new InFlight()
  const orders = inFlight.begin('orders', 'id-1')
  inFlight.begin('payments', 'id-1')
  t.true(inFlight.has('orders', 'id-1'))
  t.false(inFlight.has('orders', 'id-2'))
  t.false(inFlight.has('refunds', 'id-1'))
  t.is(inFlight.size, 2)
  inFlight.end('orders', 'id-1', orders)
  t.false(inFlight.has('orders', 'id-1'))
  t.true(inFlight.has('payments', 'id-1'))
  t.is(inFlight.ended('orders', 'id-1'), undefined)
  t.is(inFlight.size, 1)
})

test('who waits for a work hears when it ends, and a work that ended answers at once', async (t) => {
  const inFlight = new InFlight()
  const work = inFlight.begin('orders', 'id-1')
  const heard: string[] = []
  const first = inFlight.ended('orders', 'id-1')!.then(() => heard.push('first'))
  const all = inFlight.allEnded().then(() => heard.push('all'))
  await Promise.resolve()
  t.deepEqual(heard, [])
  inFlight.end('orders', 'id-1', work)
  await Promise.all([first, all])
  t.deepEqual(heard, ['first', 'all'])
  await work.ended()
  work.end() // again: nothing happens
})

test('ending a work leaves the entry of a later work for the same message alone', (t) => {
  const inFlight = new InFlight()
  const old = inFlight.begin('orders', 'id-1')
  inFlight.end('orders', 'id-1', old)
  const later = inFlight.begin('orders', 'id-1')
  inFlight.end('orders', 'id-1', old) // a late second end of the first work
  t.true(inFlight.has('orders', 'id-1'))
  inFlight.end('orders', 'id-1', later)
  t.false(inFlight.has('orders', 'id-1'))
})
