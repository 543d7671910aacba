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
