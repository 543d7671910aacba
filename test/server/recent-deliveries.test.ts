import test from 'ava'
import { RecentDeliveries } from '../../server/recent-deliveries.ts'
import { SeededRandom } from '../helpers/random.ts'

const id = (n: number) => n.toString(16).padStart(32, '0')

test('remembers at least the last `capacity` ids and forgets older ones a generation at a time', (t) => {
  const recent = new RecentDeliveries(16)
  const remembered = recent.maxRemembered
  t.true(remembered >= 16 && remembered <= 16 + 2, `remembers ${remembered} at most`)
  for (let n = 1; n <= 100; n++) {
    recent.add('trade', id(n))
    for (let back = 0; back < 16 && back < n; back++) t.true(recent.has('trade', id(n - back)), `after ${n} adds: ${n - back}`)
    for (let old = n - remembered; old >= 1; old--) t.false(recent.has('trade', id(old)), `after ${n} adds: ${old}`)
    t.true(recent.size >= Math.min(n, 16) && recent.size <= remembered)
  }
})

test('a capacity of one still remembers the last id', (t) => {
  const recent = new RecentDeliveries(1)
  for (let n = 1; n <= 5; n++) {
    recent.add('trade', id(n))
    t.true(recent.has('trade', id(n)))
    if (n > recent.maxRemembered) t.false(recent.has('trade', id(n - recent.maxRemembered)))
  }
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

test('an entry added twice stays known until its later copy is forgotten', (t) => {
  const recent = new RecentDeliveries(8)
  recent.add('trade', id(1))
  for (let n = 2; n <= 6; n++) recent.add('trade', id(n))
  recent.add('trade', id(1))
  // the first copy is forgotten long before the second
  for (let n = 7; n < 7 + 8; n++) {
    recent.add('trade', id(n))
    t.true(recent.has('trade', id(1)), `after ${n}`)
  }
  for (let n = 100; n < 100 + recent.maxRemembered; n++) recent.add('trade', id(n))
  t.false(recent.has('trade', id(1)))
})

test('ids are matched whatever the case of their hex digits; other shapes are never remembered', (t) => {
  const recent = new RecentDeliveries(10)
  recent.add('trade', 'ABCDEF0123456789abcdef0123456789')
  t.true(recent.has('trade', 'abcdef0123456789ABCDEF0123456789'))
  recent.add('trade', 'not-an-id')
  t.false(recent.has('trade', 'not-an-id'))
  t.is(recent.size, 1)
})

test('agrees with a model over 200 000 seeded adds of clustered, random and repeated ids', (t) => {
  const rng = new SeededRandom(42)
  const random = () => rng.next()
  const capacity = 1000
  const recent = new RecentDeliveries(capacity)
  // the model: the last `capacity` adds, and how often each (topic, id) stands among them; the same
  // for the last maxRemembered adds (nothing older may be known)
  const ring: string[] = []
  const counts = new Map<string, number>()
  const known = (member: string) => (counts.get(member) ?? 0) > 0
  const wideRing: string[] = []
  const wideCounts = new Map<string, number>()
  const knownWithin = (member: string) => (wideCounts.get(member) ?? 0) > 0
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
    if (wideRing.length === recent.maxRemembered) {
      const evicted = wideRing.shift()!
      wideCounts.set(evicted, wideCounts.get(evicted)! - 1)
    }
    wideRing.push(member)
    wideCounts.set(member, (wideCounts.get(member) ?? 0) + 1)
    recent.add(topic, key)
    if (i % 97 === 0) {
      for (const probe of [member, ring[0], `feed/${id(i - 5000)}`, `trade/${id(i - 1)}`, `trade/${id(i - 1200)}`]) {
        const [pt, pid] = probe.split('/')
        const has = recent.has(pt, pid)
        if (known(probe) && !has) return t.fail(`step ${i}: ${probe} is among the last ${capacity} but forgotten`)
        if (!knownWithin(probe) && has) return t.fail(`step ${i}: ${probe} is older than the last ${recent.maxRemembered} but remembered`)
      }
    }
  }
  t.true(recent.size >= ring.length && recent.size <= recent.maxRemembered)
  for (const member of ring) {
    const [pt, pid] = member.split('/')
    if (!recent.has(pt, pid)) return t.fail(`${member} forgotten too early`)
  }
  t.pass()
})
