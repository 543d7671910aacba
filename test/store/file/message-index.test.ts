import test from 'ava'
import { MessageIndex } from '../../../store/file/message-index.ts'
import { SeededRandom } from '../../helpers/random.ts'

const hexId = (n: number) => n.toString(16).padStart(32, '0')

test('message index: agrees with a Map through inserts, removals and lookups while its table grows several times', (t) => {
  const rng = new SeededRandom(7)
  const index = new MessageIndex()
  const model = new Map<string, number>() // `${topic}/${id}` → slot
  const live: string[] = []
  let next = 0
  for (let step = 0; step < 60_000; step++) {
    const r = rng.next()
    if (r < 0.65 || live.length === 0) {
      // new ids, some of another spelling (kept as text), some repeated in a second topic
      const topic = rng.next() < 0.8 ? 'trade' : 'feed'
      const id = rng.next() < 0.05 ? `order-${next++}` : rng.next() < 0.1 && live.length > 0 ? live[rng.int(0, live.length - 1)].split('/')[1] : hexId(next++ * 7919)
      const key = `${topic}/${id}`
      const slot = index.insert(topic, id)
      if (model.has(key)) {
        if (slot !== -1) return t.fail(`step ${step}: ${key} inserted twice`)
      } else {
        if (slot < 0) return t.fail(`step ${step}: ${key} refused`)
        model.set(key, slot)
        live.push(key)
      }
    } else if (r < 0.9) {
      const i = rng.int(0, live.length - 1)
      const key = live[i]
      live[i] = live[live.length - 1]
      live.pop()
      index.remove(model.get(key)!)
      model.delete(key)
      const [topic, id] = key.split('/')
      if (index.lookup(topic, id) !== -1) return t.fail(`step ${step}: ${key} found after removal`)
    } else {
      const key = live[rng.int(0, live.length - 1)]
      const [topic, id] = key.split('/')
      if (index.lookup(topic, id) !== model.get(key)) return t.fail(`step ${step}: ${key} not at its slot`)
    }
  }
  t.is(index.size, model.size)
  for (const [key, slot] of model) {
    const [topic, id] = key.split('/')
    if (index.lookup(topic, id) !== slot) return t.fail(`${key} lost`)
    if (index.messageIdOf(slot) !== id || index.topicOf(slot) !== topic) return t.fail(`${key}: slot ${slot} holds another message`)
  }
  t.true(model.size > 5000, `${model.size} held at the end (the table grew past its first sizes)`)
})
