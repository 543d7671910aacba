import test from 'ava'
import { Fifo } from '../../server/fifo.ts'
import { SeededRandom, testSeed } from '../helpers/random.ts'

test('behaves as an array queue over 600 000 seeded pushes and shifts, across its resizes', (t) => {
  const rng = new SeededRandom(testSeed(7))
  const random = () => rng.next()
  const fifo = new Fifo<number>()
  const model: number[] = []
  let next = 0
  for (let step = 0; step < 600_000; step++) {
    // phases of growth and of draining, so the head passes 65 536 with items still queued
    const pushing = Math.floor(step / 100_000) % 2 === 0 ? random() < 0.7 : random() < 0.3
    if (pushing) {
      fifo.push(next)
      model.push(next++)
    } else if (fifo.shift() !== model.shift()) {
      return t.fail(`differs at step ${step} (seed ${rng.seed})`)
    }
    if (fifo.length !== model.length) return t.fail(`length differs at step ${step}`)
  }
  const rest: number[] = []
  for (let item = fifo.shift(); item !== undefined; item = fifo.shift()) rest.push(item)
  t.deepEqual(rest, model)
  t.is(fifo.length, 0)
  t.is(fifo.shift(), undefined)
})

test('grows to hold a burst, gives the room back as it drains, and keeps its ring while it empties and refills', (t) => {
  const fifo = new Fifo<number>()
  for (let i = 0; i < 100_000; i++) fifo.push(i)
  t.true(fifo.capacity >= 100_000 && fifo.capacity < 200_000, `capacity ${fifo.capacity} for 100 000 items`)
  for (let i = 0; i < 99_990; i++) t.is(fifo.shift(), i)
  t.is(fifo.length, 10)
  t.true(fifo.capacity <= 64, `capacity ${fifo.capacity} left for 10 items`)
  while (fifo.shift() !== undefined) { /* drain */ }
  const capacity = fifo.capacity
  // the due pump's turns: one in, one out, at message rate
  for (let i = 0; i < 10_000; i++) {
    fifo.push(i)
    if (fifo.shift() !== i) return t.fail(`item ${i} lost`)
  }
  t.is(fifo.capacity, capacity)
  t.is(fifo.length, 0)
})
