import test from 'ava'
import { MessageIndex, hashWords, parseHexId } from '../../../store/file/message-index.ts'
import { SeededRandom } from '../../helpers/random.ts'
import { collidingIds } from './colliding-ids.ts'

const hexId = (n: number) => n.toString(16).padStart(32, '0')

interface Held {
  slot: number
  cold: boolean
  timeMs: number
}

test('message index: agrees with a Map through hot and cold inserts, warming, removals and lookups while its table grows several times', (t) => {
  const rng = new SeededRandom(7)
  const index = new MessageIndex()
  const model = new Map<string, Held>() // `${topic}/${id}` → where and how it is held
  const live: string[] = []
  // ids sharing a hash: cold ones must all come back as candidates, never as a hot answer
  const colliding = collidingIds(40).flat()
  let next = 0
  const check = (step: number, key: string): string | undefined => {
    const [topic, id] = key.split('/')
    const held = model.get(key)
    const slot = index.probe(topic, id)
    if (held === undefined) {
      if (slot !== -1) return `step ${step}: absent ${key} found at ${slot}`
      for (const s of index.coldMatches) if ([...model.values()].every((h) => h.slot !== s || !h.cold)) return `step ${step}: ${s} is no cold slot`
      return undefined
    }
    if (held.cold) {
      if (slot !== -1) return `step ${step}: cold ${key} answered as hot`
      if (!index.coldMatches.includes(held.slot)) return `step ${step}: cold ${key} not among the candidates`
      if (!index.isCold(held.slot)) return `step ${step}: ${key} not cold`
    } else {
      if (slot !== held.slot) return `step ${step}: ${key} not at its slot`
      if (index.nextDeliverAtMs(slot) !== held.timeMs) return `step ${step}: ${key} has time ${index.nextDeliverAtMs(slot)}`
      if (index.slotOf(index.handleOf(slot)) !== slot) return `step ${step}: ${key}'s handle points elsewhere`
    }
    return undefined
  }
  for (let step = 0; step < 60_000; step++) {
    const r = rng.next()
    if (r < 0.6 || live.length === 0) {
      // new ids, some of another spelling (kept as text, always hot), some repeated in a second topic, some colliding
      const topic = rng.next() < 0.8 ? 'trade' : 'feed'
      const roll = rng.next()
      const id = roll < 0.05 ? `order-${next++}` : roll < 0.1 && live.length > 0 ? live[rng.int(0, live.length - 1)].split('/')[1]
        : roll < 0.15 ? rng.pick(colliding) : hexId(next++ * 7919)
      const key = `${topic}/${id}`
      if (model.has(key)) continue
      const cold = rng.next() < 0.5
      const timeMs = rng.int(0, 1e9)
      const slot = index.insert(topic, id, timeMs, cold)
      model.set(key, { slot, cold: cold && !id.startsWith('order-'), timeMs })
      live.push(key)
    } else if (r < 0.8) {
      const i = rng.int(0, live.length - 1)
      const key = live[i]
      live[i] = live[live.length - 1]
      live.pop()
      // as the store deletes: mostly just after looking the key up (whose table position is then
      // reused), sometimes after looking up another
      const [topic, id] = key.split('/')
      const before = rng.next()
      if (before < 0.6) index.probe(topic, id)
      else if (before < 0.8) index.probe('trade', rng.pick(colliding))
      index.remove(model.get(key)!.slot)
      model.delete(key)
      const fail = check(step, key)
      if (fail !== undefined) return t.fail(fail)
    } else if (r < 0.85) {
      const key = live[rng.int(0, live.length - 1)]
      const held = model.get(key)!
      if (!held.cold) continue
      held.cold = false
      held.timeMs = rng.int(0, 1e9)
      index.warmId(held.slot, key.split('/')[1], held.timeMs)
    } else {
      const key = rng.next() < 0.8 ? live[rng.int(0, live.length - 1)] : `trade/${rng.pick(colliding)}`
      const fail = check(step, key)
      if (fail !== undefined) return t.fail(fail)
    }
  }
  t.is(index.size, model.size)
  t.is(index.hotCount, [...model.values()].filter((h) => !h.cold).length)
  for (const [key, held] of model) {
    const fail = check(-1, key)
    if (fail !== undefined) return t.fail(fail)
    if (!held.cold && index.messageIdOf(held.slot) !== key.split('/')[1]) return t.fail(`${key}: slot ${held.slot} holds another id`)
    if (index.topicOf(held.slot) !== key.split('/')[0]) return t.fail(`${key}: slot ${held.slot} holds another topic`)
  }
  t.true(model.size > 5000, `${model.size} held at the end (the table grew past its first sizes)`)
})

test('message index: a cold slot keeps no id or time in memory; warming needs the same id', (t) => {
  const index = new MessageIndex()
  const [a, b] = collidingIds(1)[0]
  const slot = index.insert('trade', a, 5, true)
  t.throws(() => index.messageIdOf(slot), { code: 'KITEQ_ERR_STORE' } as never)
  t.throws(() => index.nextDeliverAtMs(slot), { code: 'KITEQ_ERR_STORE' } as never)
  t.is(index.hotCount, 0)
  t.is(index.probe('trade', b), -1)
  t.deepEqual(index.coldMatches, [slot], 'the same hash: a candidate to check on disk')
  t.throws(() => index.warmId(slot, hexId(12345), 7), { code: 'KITEQ_ERR_STORE' } as never)
  index.warmId(slot, a, 7)
  t.is(index.probe('trade', a), slot)
  t.is(index.probe('trade', b), -1)
  t.deepEqual(index.coldMatches, [])
  t.is(index.nextDeliverAtMs(slot), 7)
  t.is(index.hotCount, 1)
})

test('message index: a removal after the table changed does not trust where an earlier lookup found the slot', (t) => {
  // three ids with the same home in a new index's table (1024 entries): one probe run A, B, C
  const words = new Uint32Array(4)
  const home = (id: string) => (parseHexId(id, words), hashWords(words[0], words[1], words[2], words[3]) & 1023)
  const run: string[] = []
  for (let n = 1; run.length < 3; n++) {
    const id = hexId(n * 2654435761)
    if (run.length === 0 || home(id) === home(run[0])) run.push(id)
  }
  const index = new MessageIndex()
  const [a, b, c] = run.map((id) => index.insert('trade', id, 0, false))
  t.is(index.probe('trade', run[2]), c) // C found at the end of the run...
  index.remove(a) // ...which then shifts back
  index.remove(c)
  t.is(index.probe('trade', run[1]), b)
  t.is(index.probe('trade', run[2]), -1)
  t.is(index.size, 1)
})

test('message index: assertRoomFor refuses a topic past the limit of topics ever seen, as insert would, and changes nothing', (t) => {
  const index = new MessageIndex()
  for (let i = 0; i < 65_536; i++) index.insert(`t${i}`, `id-${i}`, 0, false)
  for (let i = 0; i < 65_536; i += 1000) index.remove(i)
  t.notThrows(() => index.assertRoomFor('t5'), 'a topic seen before')
  const err = t.throws(() => index.assertRoomFor('new'), { message: /more than 65536 topics/ })
  t.is((err as { code?: string }).code, 'KITEQ_ERR_STORE')
  t.throws(() => index.insert('new', 'id-new', 0, false), { message: err!.message })
  t.is(index.topicIdNamed('new'), undefined)
})
