import test from 'ava'
import { RecentDeliveries } from '../../server/recent-deliveries.ts'
import { SeededRandom } from '../helpers/random.ts'

const id = (n: number) => n.toString(16).padStart(32, '0')

test('remembers the last `capacity` ids and forgets older ones in order', (t) => {
  const recent = new RecentDeliveries(3)
  for (const n of [1, 2, 3, 4]) recent.add('trade', id(n))
  t.false(recent.has('trade', id(1)))
  t.true(recent.has('trade', id(2)))
  t.true(recent.has('trade', id(4)))
  t.is(recent.size, 3)
  recent.add('trade', id(5))
  t.false(recent.has('trade', id(2)))
  t.true(recent.has('trade', id(3)))
})

test('answers per topic: an id is delivered only in the topics it was delivered in', (t) => {
  const recent = new RecentDeliveries(10)
  recent.add('trade', id(7))
  t.false(recent.has('feed', id(7)))
  recent.add('feed', id(7))
  t.true(recent.has('trade', id(7)))
  t.true(recent.has('feed', id(7)))
  recent.add('feed', id(7)) // repeated: no second entry
  t.is(recent.size, 2)
})

test('ids are matched whatever the case of their hex digits; other shapes are never remembered', (t) => {
  const recent = new RecentDeliveries(10)
  recent.add('trade', 'ABCDEF0123456789abcdef0123456789')
  t.true(recent.has('trade', 'abcdef0123456789ABCDEF0123456789'))
  recent.add('trade', 'not-an-id')
  t.false(recent.has('trade', 'not-an-id'))
  t.is(recent.size, 1)
})

test('matches a Set model over 200 000 seeded adds of clustered and random ids', (t) => {
  const rng = new SeededRandom(42)
  const random = () => rng.next()
  const capacity = 1000
  const recent = new RecentDeliveries(capacity)
  const ring: string[] = []
  const model = new Set<string>()
  for (let i = 0; i < 200_000; i++) {
    // half sequential ids (long probe chains on a weak hash), half random; two topics
    const key = random() < 0.5 ? id(i) : Math.floor(random() * 2 ** 52).toString(16).padStart(32, 'f')
    const topic = random() < 0.9 ? 'trade' : 'feed'
    const member = `${topic}/${key}`
    if (!model.has(member)) {
      if (ring.length === capacity) model.delete(ring.shift()!)
      ring.push(member)
      model.add(member)
    }
    recent.add(topic, key)
    if (i % 97 === 0) {
      for (const probe of [member, ring[0], `feed/${id(i - 5000)}`, `trade/${id(i - 1)}`]) {
        const [pt, pid] = probe.split('/')
        if (recent.has(pt, pid) !== model.has(probe)) return t.fail(`step ${i}: ${probe} should be ${model.has(probe)}`)
      }
    }
  }
  t.is(recent.size, model.size)
  for (const member of ring) {
    const [pt, pid] = member.split('/')
    if (!recent.has(pt, pid)) return t.fail(`${member} forgotten too early`)
  }
  t.pass()
})
