/**
 * The MessageStore conformance suite: every backend runs exactly these tests (a backend's test file
 * calls storeConformance with a factory). `durable` backends also prove that everything survives a
 * stop and reopen.
 */
import type { ExecutionContext, TestFn } from 'ava'
import { randomBytes } from 'node:crypto'
import { encodeHeader, type Header } from '../../protocol/header.ts'
import { headerOf, type DueEntry, type MessageStore, type StoredMessage } from '../../store/message-store.ts'

export interface ConformanceOptions {
  name: string
  /** A fresh, started, empty store (each call may return a separate namespace). */
  open: () => Promise<MessageStore>
  /** Durable backends: stops `store` and opens the same data again (started). */
  reopen?: (store: MessageStore) => Promise<MessageStore>
  /** Extra teardown after each test (the suite stops the store itself). */
  cleanup?: (store: MessageStore) => Promise<void>
  /**
   * The backend keeps one entry per (topic, id), live or dead (the file store's index), so saving a
   * dead letter's key again is refused; the others keep dead letters apart from the live messages.
   */
  deadLetterHoldsKey?: boolean
}

export function newId(): string {
  return randomBytes(16).toString('hex')
}

export function makeMessage(overrides: Partial<StoredMessage> = {}): StoredMessage {
  const messageId = overrides.messageId ?? newId()
  const topic = overrides.topic ?? 'trade'
  const header: Header = {
    messageId, topic, messageType: 'pay-succ', expiredTime: 2_000_000_000, deliverLimit: 100, groupId: 'p-group',
    commit: overrides.commit ?? true, fly: false, properties: [{ key: 'k', value: 'v é' }], createTime: 1_700_000_000,
    deliverAt: overrides.deliverAtMs || undefined,
    unknownFields: Buffer.from('7a0461626364', 'hex'),
  }
  if (header.deliverAt === undefined) delete header.deliverAt
  return {
    messageId, topic, messageType: 'pay-succ', cmdType: 0x12, header, body: Buffer.from(`body ${messageId}`),
    publishGroup: 'p-group', commit: true, createdAtMs: 1_700_000_000_000, expiredTime: 2_000_000_000, deliverAtMs: 0,
    deliverCount: 0, deliverLimit: 100, nextDeliverAtMs: 1_700_000_000_000, succGroups: [], failGroups: [], txCheckCount: 0,
    ...overrides,
  }
}

/**
 * What a store returned, comparable with what was saved: a store may hand back the header bytes
 * it holds (StoredMessage.headerBytes), which must then be exactly its header's encoding, and are
 * left out of the comparison. Walks messages, { message } wrappers and arrays of them.
 */
/** Due entries without the `ref` a store may add (it means something to that store only). */
export const dueKeys = (entries: DueEntry[]): DueEntry[] => entries.map(({ ref: _ref, ...key }) => key)

export function comparable<T>(t: ExecutionContext, value: T): T {
  if (Array.isArray(value)) return value.map((v) => comparable(t, v)) as T
  if (value === null || typeof value !== 'object' || Buffer.isBuffer(value)) return value
  const v = value as Record<string, unknown>
  if ('ref' in v) return dueKeys([v as unknown as DueEntry])[0] as T
  if ('message' in v) return { ...v, message: comparable(t, v.message) } as T
  if (!('headerBytes' in v)) return value
  // a store handing back its header bytes may leave the header to be decoded on first use
  const header = headerOf(v as unknown as StoredMessage)
  const { headerBytes, ...rest } = v as unknown as StoredMessage
  if (headerBytes !== undefined) t.deepEqual(headerBytes, encodeHeader(header), `${rest.messageId}: headerBytes encode its header`)
  return { ...rest, header } as T
}

export function storeConformance(test: TestFn, options: ConformanceOptions): void {
  const t_ = (title: string, body: (t: ExecutionContext, store: MessageStore) => Promise<void>) =>
    test.serial(`${options.name} store: ${title}`, async (t) => {
      const store = await options.open()
      try {
        await body(t, store)
      } finally {
        await options.cleanup?.(store)
      }
    })

  t_('save then get returns every field as saved', async (t, store) => {
    const m = makeMessage({ deliverCount: 2, succGroups: ['a'], failGroups: ['b', 'c'], txCheckCount: 1, deliverAtMs: 1_700_000_100_000 })
    await store.save(m)
    const got = await store.get(m.topic, m.messageId)
    t.deepEqual(comparable(t, got), m)
    t.is(await store.get(m.topic, newId()), undefined)
    t.is(await store.get('other-topic', m.messageId), undefined, 'a message is keyed by topic and id')
    await store.stop()
  })

  t_('saving the same (topic, id) twice is a StoreError', async (t, store) => {
    const m = makeMessage()
    await store.save(m)
    const err = await t.throwsAsync(store.save(m))
    t.true(['KITEQ_ERR_STORE'].includes((err as { code?: string }).code!))
    await store.stop()
  })

  t_('many concurrent saves all resolve and are all readable', async (t, store) => {
    const messages = Array.from({ length: 500 }, (_, i) => makeMessage({ body: Buffer.alloc(512, i % 256) }))
    await Promise.all(messages.map((m) => store.save(m)))
    for (const m of messages) t.true((await store.get(m.topic, m.messageId))?.body.equals(m.body))
    const stats = await store.stats()
    t.is(stats.pendingByTopic.trade, 500)
    await store.stop()
  })

  t_('commit, rollback: uncommitted only, and reported', async (t, store) => {
    const a = makeMessage({ commit: false })
    const b = makeMessage({ commit: false })
    await store.save(a)
    await store.save(b)
    t.is((await store.stats()).uncommitted, 2)
    t.true(await store.commit(a.topic, a.messageId))
    t.true((await store.get(a.topic, a.messageId))!.commit)
    t.false(await store.commit(a.topic, a.messageId), 'a second commit finds nothing to commit')
    t.false(await store.rollback(a.topic, a.messageId), 'a committed message cannot be rolled back')
    t.true(await store.rollback(b.topic, b.messageId))
    t.is(await store.get(b.topic, b.messageId), undefined)
    t.false(await store.commit(b.topic, b.messageId))
    t.is((await store.stats()).uncommitted, 0)
    await store.stop()
  })

  t_('updateDelivery and reschedule change the bookkeeping and the time index', async (t, store) => {
    const m = makeMessage({ nextDeliverAtMs: 1000 })
    await store.save(m)
    await store.updateDelivery(m.topic, m.messageId, {
      deliverCount: 4, nextDeliverAtMs: 5000, succGroups: ['g1'], failGroups: ['g2'], txCheckCount: 3,
    })
    const got = (await store.get(m.topic, m.messageId))!
    t.is(got.deliverCount, 4)
    t.is(got.nextDeliverAtMs, 5000)
    t.deepEqual(got.succGroups, ['g1'])
    t.deepEqual(got.failGroups, ['g2'])
    t.is(got.txCheckCount, 3)
    t.deepEqual(await store.dueBetween(0, 2000, 10), [])
    t.deepEqual((await store.dueBetween(0, 6000, 10)).map((e) => e.messageId), [m.messageId])
    t.true(await store.reschedule(m.topic, m.messageId, 9000))
    const moved = (await store.get(m.topic, m.messageId))!
    t.is(moved.deliverAtMs, 9000)
    t.is(moved.nextDeliverAtMs, 9000)
    t.deepEqual((await store.dueBetween(6000, 10_000, 10)).map((e) => e.nextDeliverAtMs), [9000])
    t.false(await store.reschedule(m.topic, newId(), 1))
    await store.stop()
  })

  t_('delete removes a message and its index entry', async (t, store) => {
    const m = makeMessage({ nextDeliverAtMs: 100 })
    await store.save(m)
    t.true(await store.delete(m.topic, m.messageId))
    t.false(await store.delete(m.topic, m.messageId))
    t.is(await store.get(m.topic, m.messageId), undefined)
    t.deepEqual(await store.dueBetween(-Infinity, Infinity, 10), [])
    await store.stop()
  })

  t_('dueBetween: time order, then id; half-open range; pages with an after-cursor', async (t, store) => {
    const times = [50, 10, 30, 30, 30, 70, 90, 10_000_000_000]
    const messages = times.map((at) => makeMessage({ nextDeliverAtMs: at }))
    for (const m of messages) await store.save(m)
    const expected = messages
      .filter((m) => m.nextDeliverAtMs >= 10 && m.nextDeliverAtMs < 90)
      .map((m) => ({ topic: m.topic, messageId: m.messageId, nextDeliverAtMs: m.nextDeliverAtMs }))
      .sort((a, b) => a.nextDeliverAtMs - b.nextDeliverAtMs || (a.messageId < b.messageId ? -1 : 1))
    t.deepEqual(dueKeys(await store.dueBetween(10, 90, 100)), expected)
    const pages = []
    let after
    for (;;) {
      const page = await store.dueBetween(10, 90, 2, after)
      pages.push(...page)
      if (page.length < 2) break
      after = page[page.length - 1]
    }
    t.deepEqual(dueKeys(pages), expected, 'paging with the cursor visits each entry once, in order')
    t.is((await store.dueBetween(-Infinity, Infinity, 100)).length, times.length)
    await store.stop()
  })

  t_('dueBetween of one topic: only its messages, in order, paged with the cursor', async (t, store) => {
    // interleaved in time, the other topic's entries falling between, before and after this topic's
    const messages = [5, 10, 10, 20, 30, 30, 40, 60].map((at, i) => makeMessage({ topic: i % 2 === 0 ? 'alpha' : 'beta', nextDeliverAtMs: at }))
    for (const m of messages) await store.save(m)
    const expected = messages
      .filter((m) => m.topic === 'beta' && m.nextDeliverAtMs < 60)
      .map((m) => ({ topic: m.topic, messageId: m.messageId, nextDeliverAtMs: m.nextDeliverAtMs }))
      .sort((a, b) => a.nextDeliverAtMs - b.nextDeliverAtMs || (a.messageId < b.messageId ? -1 : 1))
    t.is(expected.length, 3)
    t.deepEqual(dueKeys(await store.dueBetween(0, 60, 100, undefined, 'beta')), expected)
    t.deepEqual(dueKeys(await store.dueBetween(0, 60, 1, undefined, 'beta')), expected.slice(0, 1), 'the limit counts this topic only')
    t.deepEqual(dueKeys(await store.dueBetween(0, 60, 100, expected[0], 'beta')), expected.slice(1))
    t.deepEqual(await store.dueBetween(0, 100, 100, undefined, 'gamma'), [], 'a topic never stored')
    await store.stop()
  })

  t_('dead letters: moved with a reason, listed in order, found by id, re-driven', async (t, store) => {
    const a = makeMessage({ topic: 'x', deliverCount: 100, failGroups: ['g'] })
    const b = makeMessage({ topic: 'y' })
    const c = makeMessage({ topic: 'x' })
    for (const m of [a, b, c]) await store.save(m)
    t.true(await store.moveToDeadLetter(a.topic, a.messageId, 'deliverLimit 100 reached', 111))
    t.true(await store.moveToDeadLetter(b.topic, b.messageId, 'expired', 222))
    t.true(await store.moveToDeadLetter(c.topic, c.messageId, 'expired', 333))
    t.false(await store.moveToDeadLetter(a.topic, a.messageId, 'again', 444))
    t.is(await store.get(a.topic, a.messageId), undefined)
    t.deepEqual(await store.dueBetween(-Infinity, Infinity, 10), [], 'dead letters are not scheduled')
    const all = await store.listDeadLetters()
    t.deepEqual(all.map((d) => [d.message.messageId, d.reason, d.deadAtMs]), [
      [a.messageId, 'deliverLimit 100 reached', 111], [b.messageId, 'expired', 222], [c.messageId, 'expired', 333],
    ])
    t.deepEqual((await store.listDeadLetters({ topic: 'x' })).map((d) => d.message.messageId), [a.messageId, c.messageId])
    t.deepEqual((await store.listDeadLetters({ limit: 1, afterMessageId: a.messageId })).map((d) => d.message.messageId), [b.messageId])
    t.is((await store.stats()).deadLetters, 3)
    const found = await store.findById(a.messageId)
    t.is(found?.deadLetter?.reason, 'deliverLimit 100 reached')
    t.true(found?.message.body.equals(a.body))
    t.true(await store.redriveDeadLetter(a.topic, a.messageId, 5000))
    const back = (await store.get(a.topic, a.messageId))!
    t.is(back.deliverCount, 0)
    t.is(back.nextDeliverAtMs, 5000)
    t.deepEqual(back.failGroups, [])
    t.deepEqual((await store.dueBetween(0, 6000, 10)).map((e) => e.messageId), [a.messageId])
    t.is((await store.stats()).deadLetters, 2)
    t.false(await store.redriveDeadLetter(a.topic, a.messageId, 1))
    await store.stop()
  })

  t_('a dead letter\'s key saved again: refused where dead letters hold their key, else live beside it and never overwritten by a redrive', async (t, store) => {
    const m = makeMessage()
    await store.save(m)
    t.true(await store.moveToDeadLetter(m.topic, m.messageId, 'first', 1))
    const resent = store.save({ ...m, body: Buffer.from('sent again') })
    if (options.deadLetterHoldsKey) {
      await t.throwsAsync(resent, { message: /already stored/ })
      t.is(await store.get(m.topic, m.messageId), undefined)
    } else {
      await resent
      t.false(await store.redriveDeadLetter(m.topic, m.messageId, 2), 'the live message is not overwritten')
      t.is((await store.get(m.topic, m.messageId))?.body.toString(), 'sent again')
    }
    t.deepEqual((await store.listDeadLetters()).map((d) => [d.message.body.toString(), d.reason]), [[m.body.toString(), 'first']])
    await store.stop()
  })

  t_('findById finds live messages without their topic', async (t, store) => {
    const m = makeMessage({ topic: 'somewhere' })
    await store.save(m)
    t.is((await store.findById(m.messageId))?.message.topic, 'somewhere')
    t.is((await store.findById(m.messageId))?.deadLetter, undefined)
    t.is(await store.findById(newId()), undefined)
    await store.stop()
  })

  t_('stats count pending per topic', async (t, store) => {
    for (const topic of ['a', 'a', 'b']) await store.save(makeMessage({ topic }))
    const stats = await store.stats()
    t.deepEqual(stats.pendingByTopic, { a: 2, b: 1 })
    await store.stop()
  })

  t_('snapshots: saved, listed since a time, pruned', async (t, store) => {
    for (const atMs of [1000, 2000, 3000]) await store.saveSnapshot({ atMs, data: { received: atMs / 1000, byTopic: { t: 1 } } })
    t.deepEqual((await store.listSnapshots(2000)).map((s) => s.atMs), [2000, 3000])
    t.deepEqual((await store.listSnapshots(0))[0].data, { received: 1, byTopic: { t: 1 } })
    await store.pruneSnapshots(2500)
    t.deepEqual((await store.listSnapshots(0)).map((s) => s.atMs), [3000])
    await store.stop()
  })

  t_('client bindings: saved, replaced, removed by an empty list', async (t, store) => {
    await store.saveBindings({ topic: 't', groupId: 'g', json: '[{"a":1}]' })
    await store.saveBindings({ topic: 't', groupId: 'g', json: '[{"a":2}]' })
    await store.saveBindings({ topic: 't', groupId: 'h', json: '[{"b":1}]' })
    t.deepEqual((await store.loadBindings()).sort((x, y) => x.groupId.localeCompare(y.groupId)), [
      { topic: 't', groupId: 'g', json: '[{"a":2}]' }, { topic: 't', groupId: 'h', json: '[{"b":1}]' },
    ])
    await store.saveBindings({ topic: 't', groupId: 'g', json: '[]' })
    t.deepEqual((await store.loadBindings()).map((b) => b.groupId), ['h'])
    await store.stop()
  })

  if (options.reopen === undefined) return
  const reopen = options.reopen

  test.serial(`${options.name} store: everything survives a stop and reopen`, async (t) => {
    const store = await options.open()
    const live = makeMessage({ nextDeliverAtMs: 42, succGroups: ['s'], failGroups: ['f'] })
    const uncommitted = makeMessage({ commit: false, nextDeliverAtMs: 43 })
    const updated = makeMessage({ nextDeliverAtMs: 44 })
    const deleted = makeMessage()
    const dead = makeMessage()
    for (const m of [live, uncommitted, updated, deleted, dead]) await store.save(m)
    await store.updateDelivery(updated.topic, updated.messageId, { deliverCount: 7, nextDeliverAtMs: 77, succGroups: ['x'], failGroups: [], txCheckCount: 0 })
    await store.delete(deleted.topic, deleted.messageId)
    await store.moveToDeadLetter(dead.topic, dead.messageId, 'why', 9)
    await store.saveSnapshot({ atMs: 5, data: { n: 1 } })
    await store.saveBindings({ topic: 't', groupId: 'g', json: '[1]' })
    const again = await reopen(store)
    try {
      t.deepEqual(comparable(t, await again.get(live.topic, live.messageId)), live)
      t.false((await again.get(uncommitted.topic, uncommitted.messageId))!.commit)
      t.is((await again.get(updated.topic, updated.messageId))!.deliverCount, 7)
      t.is(await again.get(deleted.topic, deleted.messageId), undefined)
      t.deepEqual((await again.listDeadLetters()).map((d) => [d.message.messageId, d.reason]), [[dead.messageId, 'why']])
      t.deepEqual((await again.dueBetween(-Infinity, Infinity, 10)).map((e) => e.nextDeliverAtMs), [42, 43, 77])
      t.is((await again.listSnapshots(0)).length, 1)
      t.is((await again.loadBindings()).length, 1)
    } finally {
      await options.cleanup?.(again)
      await again.stop()
    }
  })
}
