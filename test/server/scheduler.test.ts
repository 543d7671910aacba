import test from 'ava'
import { ManualClock, Scheduler } from '../../server/index.ts'
import { MemoryStore } from '../../store/memory-store.ts'
import type { DueEntry, StoredMessage } from '../../store/message-store.ts'

function message(id: number, nextDeliverAtMs: number): StoredMessage {
  const messageId = id.toString(16).padStart(32, '0')
  return {
    messageId, topic: 't', messageType: 'm', cmdType: 0x11,
    header: { messageId, topic: 't', messageType: 'm', expiredTime: 0, deliverLimit: 100, groupId: 'p', commit: true, fly: false, properties: [] },
    body: Buffer.alloc(1), publishGroup: 'p', commit: true, createdAtMs: 0, expiredTime: 4e9, deliverAtMs: nextDeliverAtMs,
    deliverCount: 0, deliverLimit: 100, nextDeliverAtMs, succGroups: [], failGroups: [], txCheckCount: 0,
  }
}

async function settle() {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r))
}

test('store entries fire at their time: overdue at once, near ones from the wheel, far ones once the loader reaches them', async (t) => {
  const clock = new ManualClock(10_000_000)
  const store = new MemoryStore()
  const now = clock.now()
  await store.save(message(1, now - 5000)) // overdue
  await store.save(message(2, now + 1500))
  await store.save(message(3, now + 3_600_000)) // an hour ahead: not loaded yet
  const fired: [number, number][] = []
  const scheduler = new Scheduler({
    store, clock, windowMs: 10_000, loadIntervalMs: 1000,
    onDue: (entries: DueEntry[]) => entries.forEach((e) => fired.push([parseInt(e.messageId, 16), clock.now()])),
  })
  await scheduler.start()
  t.is(scheduler.inMemory, 2, 'only the window is in memory')
  clock.advance(1)
  t.deepEqual(fired, [[1, now + 1]])
  clock.advance(1499)
  t.deepEqual(fired[1], [2, now + 1500])
  // walk an hour forward a second at a time, letting the loader's store reads resolve
  for (let s = 0; s < 3600; s++) {
    clock.advance(1000)
    await settle()
  }
  t.deepEqual(fired[2], [3, now + 3_600_000])
  scheduler.stop()
})

test('entries scheduled inside the loaded window go straight to the wheel; later ones wait for the loader', async (t) => {
  const clock = new ManualClock(0)
  const store = new MemoryStore()
  const fired: number[] = []
  const scheduler = new Scheduler({ store, clock, windowMs: 5000, loadIntervalMs: 1000, onDue: (e) => fired.push(...e.map((x) => parseInt(x.messageId, 16))) })
  await scheduler.start()
  await store.save(message(7, 2000))
  scheduler.schedule({ topic: 't', messageId: message(7, 0).messageId, nextDeliverAtMs: 2000 })
  await store.save(message(8, 20_000))
  scheduler.schedule({ topic: 't', messageId: message(8, 0).messageId, nextDeliverAtMs: 20_000 })
  t.is(scheduler.inMemory, 1)
  clock.advance(2000)
  t.deepEqual(fired, [7])
  for (let s = 0; s < 20; s++) {
    clock.advance(1000)
    await settle()
  }
  t.deepEqual(fired, [7, 8])
  scheduler.stop()
})

test('the loader stops at maxInMemory and resumes as the backlog drains', async (t) => {
  const clock = new ManualClock(1_000_000)
  const store = new MemoryStore()
  for (let i = 1; i <= 100; i++) await store.save(message(i, clock.now() - 1000))
  let backlog = 0
  const fired: number[] = []
  const scheduler = new Scheduler({
    store, clock, windowMs: 5000, pageSize: 10, maxInMemory: 30,
    backlog: () => backlog,
    onDue: (e) => {
      fired.push(...e.map((x) => parseInt(x.messageId, 16)))
      backlog += e.length
    },
  })
  await scheduler.start()
  // whole pages until the bound is reached (a page's last entry is read again with the next one)
  const firstLoad = scheduler.inMemory
  t.true(firstLoad >= 30 && firstLoad < 30 + 10, `${firstLoad} in memory`)
  clock.advance(1)
  t.is(fired.length, firstLoad)
  backlog = 0
  scheduler.drained()
  await settle()
  clock.advance(1)
  t.is(fired.length, 2 * firstLoad)
  t.deepEqual(fired, Array.from({ length: 2 * firstLoad }, (_, i) => i + 1), 'in time, then id, order, none twice')
  scheduler.stop()
})

test('a page boundary between two topics\' messages of the same id and time loses neither', async (t) => {
  const clock = new ManualClock(10_000_000)
  const store = new MemoryStore()
  const now = clock.now()
  const shared = 7
  await store.save(message(1, now + 100))
  for (const topic of ['a', 'b']) await store.save({ ...message(shared, now + 200), topic })
  await store.save(message(9, now + 300))
  const fired: string[] = []
  // pages of 2: the first page ends on one of the two tied entries
  const scheduler = new Scheduler({
    store, clock, windowMs: 10_000, loadIntervalMs: 1000, pageSize: 2,
    onDue: (entries: DueEntry[]) => entries.forEach((e) => fired.push(`${e.topic}/${parseInt(e.messageId, 16)}`)),
  })
  await scheduler.start()
  clock.advance(400)
  t.deepEqual(fired.sort(), ['a/7', 'b/7', 't/1', 't/9'])
})

test('stop waits for a load under way; nothing is read, put in the wheel or fired after it', async (t) => {
  const clock = new ManualClock(1_000_000)
  let reads = 0
  let letGo: (() => void) | undefined
  class GatedStore extends MemoryStore {
    override async dueBetween(...args: Parameters<MemoryStore['dueBetween']>): Promise<DueEntry[]> {
      reads++
      if (letGo === undefined) await new Promise<void>((resolve) => (letGo = resolve))
      return super.dueBetween(...args)
    }
  }
  const store = new GatedStore()
  letGo = () => {} // start() reads freely
  const fired: DueEntry[] = []
  const scheduler = new Scheduler({ store, clock, windowMs: 10_000, loadIntervalMs: 1000, pageSize: 1, onDue: (e) => fired.push(...e) })
  await scheduler.start()
  for (let i = 1; i <= 3; i++) await store.save(message(i, clock.now() + 2000 + i))
  letGo = undefined
  reads = 0
  const loading = scheduler.loadNow()
  await settle()
  t.is(reads, 1, 'the load is waiting for its first page')
  let stopped = false
  const stopping = scheduler.stop().then(() => (stopped = true))
  await settle()
  t.false(stopped, 'stop waits for the read under way')
  letGo!()
  await Promise.all([loading, stopping])
  t.is(reads, 1, 'no page read after stop')
  t.is(scheduler.inMemory, 0, 'the page read under way was not put in the wheel')
  scheduler.schedule({ topic: 't', messageId: message(9, 0).messageId, nextDeliverAtMs: clock.now() + 10 })
  clock.advance(10_000)
  await settle()
  t.deepEqual(fired, [])
  t.is(reads, 1)
})
