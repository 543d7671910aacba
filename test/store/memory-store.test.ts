import test from 'ava'
import { MemoryStore } from '../../store/memory-store.ts'
import { makeMessage, storeConformance } from './conformance.ts'

storeConformance(test, { name: 'memory', open: async () => new MemoryStore() })

test('memory store: bounded; when full it refuses with STORE_FULL and evicts nothing', async (t) => {
  const store = new MemoryStore({ maxMessages: 3 })
  const kept = [makeMessage(), makeMessage(), makeMessage()]
  for (const m of kept) await store.save(m)
  const err = await t.throwsAsync(store.save(makeMessage()))
  t.is((err as { code?: string }).code, 'KITEQ_ERR_STORE_FULL')
  for (const m of kept) t.truthy(await store.get(m.topic, m.messageId))
  const bytes = new MemoryStore({ maxBytes: 100 })
  await bytes.save(makeMessage({ body: Buffer.alloc(60) }))
  await t.throwsAsync(bytes.save(makeMessage({ body: Buffer.alloc(60) })), { code: 'KITEQ_ERR_STORE_FULL' } as never)
})

test('memory store: a key that dies twice keeps one dead letter and is counted once; redriving it while it is live again is refused', async (t) => {
  const store = new MemoryStore({ maxBytes: 200 })
  const m = makeMessage({ body: Buffer.alloc(60) })
  await store.save(m)
  t.true(await store.moveToDeadLetter(m.topic, m.messageId, 'first', 1))
  await store.save(m)
  t.false(await store.redriveDeadLetter(m.topic, m.messageId, 2), 'the live message is not overwritten')
  t.true(await store.moveToDeadLetter(m.topic, m.messageId, 'second', 3))
  t.deepEqual((await store.listDeadLetters()).map((d) => d.reason), ['second'])
  // 60 bytes held (one dead letter): two more 60-byte messages fit, a third does not
  await store.save(makeMessage({ body: Buffer.alloc(60) }))
  await store.save(makeMessage({ body: Buffer.alloc(60) }))
  await t.throwsAsync(store.save(makeMessage({ body: Buffer.alloc(60) })), { code: 'KITEQ_ERR_STORE_FULL' } as never)
  t.deepEqual((await store.stats()).pendingByTopic, { [m.topic]: 2 })
  t.is((await store.findById(m.messageId))?.deadLetter?.reason, 'second')
})
