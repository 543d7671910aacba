import test from 'ava'
import { SlotMap } from '../../protocol/slot-map.ts'
import { SeededRandom } from '../helpers/random.ts'

test('answers like a Map over 50 000 seeded sets, overwrites and deletes, insertion order included', (t) => {
  const rng = new SeededRandom(7)
  const model = new Map<string, { n: number }>()
  const slots = new SlotMap<string, { n: number }>()
  for (let i = 0; i < 50_000; i++) {
    const key = `k${rng.int(0, 300)}`
    const roll = rng.next()
    if (roll < 0.5) {
      const value = { n: i }
      model.set(key, value)
      slots.set(key, value)
    } else {
      t.is(slots.delete(key), model.delete(key), `step ${i}: delete ${key}`)
    }
    if (slots.get(key) !== model.get(key) || slots.has(key) !== model.has(key) || slots.size !== model.size) {
      return t.fail(`step ${i}: ${key} differs`)
    }
    if (i % 997 === 0) t.deepEqual([...slots], [...model], `step ${i}: entries in insertion order`)
  }
  t.deepEqual([...slots.keys()], [...model.keys()])
  t.deepEqual([...slots.values()], [...model.values()])
})

test('the entry being visited may be deleted while iterating, and a cleared slot is reused', (t) => {
  const slots = new SlotMap<number, string>()
  for (let i = 0; i < 5; i++) slots.set(i, `v${i}`)
  const seen: string[] = []
  for (const [key, value] of slots) {
    seen.push(value)
    if (key % 2 === 0) slots.delete(key)
  }
  t.deepEqual(seen, ['v0', 'v1', 'v2', 'v3', 'v4'])
  t.deepEqual([...slots.entries()], [[1, 'v1'], [3, 'v3']])
  slots.set(9, 'v9')
  t.is(slots.get(9), 'v9')
  t.is(slots.size, 3)
  slots.clear()
  t.is(slots.size, 0)
  t.is(slots.get(1), undefined)
  t.deepEqual([...slots], [])
})

test('emptied after a burst, it starts afresh and answers as before', (t) => {
  const slots = new SlotMap<number, { n: number }>()
  for (let i = 0; i < 5000; i++) slots.set(i, { n: i })
  let deleted = 0
  for (let i = 0; i < 5000; i++) if (slots.delete(i)) deleted++
  t.is(deleted, 5000)
  t.is(slots.size, 0)
  t.deepEqual([...slots], [])
  slots.set(7, { n: 7 })
  slots.set(8, { n: 8 })
  t.is(slots.delete(4), false)
  t.deepEqual([...slots.keys()], [7, 8])
  t.deepEqual(slots.get(8), { n: 8 })
})
