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
  t.is(recent.size, 2)
})

test('an entry added twice stays known until its later copy is evicted', (t) => {
  const recent = new RecentDeliveries(3)
  recent.add('trade', id(1))
  recent.add('trade', id(2))
  recent.add('trade', id(1))
  recent.add('trade', id(3)) // evicts the first copy of 1
  t.true(recent.has('trade', id(1)))
  recent.add('trade', id(4)) // evicts 2
  recent.add('trade', id(5)) // evicts the second copy of 1
  t.false(recent.has('trade', id(1)))
  t.true(recent.has('trade', id(3)))
})

test('ids are matched whatever the case of their hex digits; other shapes are never remembered', (t) => {
  const recent = new RecentDeliveries(10)
  recent.add('trade', 'ABCDEF0123456789abcdef0123456789')
  t.true(recent.has('trade', 'abcdef0123456789ABCDEF0123456789'))
  recent.add('trade', 'not-an-id')
  t.false(recent.has('trade', 'not-an-id'))
  t.is(recent.size, 1)
})

test('matches a model over 200 000 seeded adds of clustered, random and repeated ids', (t) => {
  const rng = new SeededRandom(42)
  const random = () => rng.next()
  const capacity = 1000
  const recent = new RecentDeliveries(capacity)
  // the model: the last `capacity` adds, and how often each (topic, id) stands among them
  const ring: string[] = []
  const counts = new Map<string, number>()
  const known = (member: string) => (counts.get(member) ?? 0) > 0
  for (let i = 0; i < 200_000; i++) {
    // sequential ids (long probe chains on a weak hash), random ids, and repeats; two topics
    const r = random()
    const key = r < 0.45 ? id(i) : r < 0.9 ? Math.floor(random() * 2 ** 52).toString(16).padStart(32, 'f') : id(Math.max(0, i - 1 - Math.floor(random() * 1500)))
    const topic = random() < 0.9 ? 'trade' : 'feed'
    const member = `${topic}/${key}`
    if (ring.length === capacity) {
      const evicted = ring.shift()!
      counts.set(evicted, counts.get(evicted)! - 1)
    }
    ring.push(member)
    counts.set(member, (counts.get(member) ?? 0) + 1)
    recent.add(topic, key)
    if (i % 97 === 0) {
      for (const probe of [member, ring[0], `feed/${id(i - 5000)}`, `trade/${id(i - 1)}`, `trade/${id(i - 1200)}`]) {
        const [pt, pid] = probe.split('/')
        if (recent.has(pt, pid) !== known(probe)) return t.fail(`step ${i}: ${probe} should be ${known(probe)}`)
      }
    }
  }
  t.is(recent.size, ring.length)
  for (const member of ring) {
    const [pt, pid] = member.split('/')
    if (!recent.has(pt, pid)) return t.fail(`${member} forgotten too early`)
  }
  t.pass()
})
