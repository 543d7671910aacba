import test from 'ava'
import { MemoryStore } from '../../store/memory-store.ts'
import { compareDue, type DueEntry } from '../../store/message-store.ts'
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

test('memory store: paging through a bucket while its messages are deleted, rescheduled and added agrees with a brute-force order', async (t) => {
  const store = new MemoryStore()
  const live = new Map<string, { topic: string; messageId: string; nextDeliverAtMs: number }>()
  let seed = 7
  const random = (n: number) => (seed = (seed * 48271) % 0x7fffffff) % n
  const save = async (topic: string) => {
    const m = makeMessage({ topic, nextDeliverAtMs: 1_000 + random(50) }) // all in one minute bucket, many per ms
    await store.save(m)
    live.set(m.messageId, { topic, messageId: m.messageId, nextDeliverAtMs: m.nextDeliverAtMs })
  }
  for (let i = 0; i < 600; i++) await save(i % 3 === 0 ? 'b' : 'a')
  const expectedAfter = (after: DueEntry | undefined, topic: string | undefined) =>
    [...live.values()].filter((e) => (topic === undefined || e.topic === topic) && (after === undefined || compareDue(e, after) > 0)).sort(compareDue)
  for (const topic of [undefined, 'a', 'b']) {
    let after: DueEntry | undefined
    for (let page = 0; page < 200; page++) {
      const got = await store.dueBetween(0, 60_000, 25, after, topic)
      t.deepEqual(got, expectedAfter(after, topic).slice(0, 25), `page ${page} of ${topic ?? 'every topic'}`)
      if (got.length === 0) break
      after = got[got.length - 1]
      // between pages: delete some, move some within the bucket (before and after the cursor), add some
      const ids = [...live.keys()]
      for (let k = 0; k < 5; k++) {
        const id = ids[random(ids.length)]
        const e = live.get(id)
        if (e === undefined) continue
        if (k % 2 === 0) {
          await store.delete(e.topic, id)
          live.delete(id)
        } else {
          const at = 1_000 + random(50)
          await store.reschedule(e.topic, id, at)
          e.nextDeliverAtMs = at
        }
      }
      await save(random(2) === 0 ? 'a' : 'b')
    }
  }
})
