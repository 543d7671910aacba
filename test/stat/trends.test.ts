/** The pure parts of stat/: trend series from snapshots, per-second rates between samples. */
import test from 'ava'
import { ratesBetween, type CounterSample } from '../../stat/rate-sampler.ts'
import { trendsFrom } from '../../stat/trends.ts'
import type { SnapshotData } from '../../stat/snapshotter.ts'

function snap(atMs: number, received: Record<string, number>, pending: Record<string, number> = {}) {
  const data: SnapshotData = {
    v: 1, totals: {}, receivedByTopic: received, receivedByGroup: { p: Object.values(received).reduce((a, b) => a + b, 0) },
    deliveredByTopic: {}, pendingByTopic: pending, uncommitted: 0, deadLetters: 0, scheduledInMemory: 0, connections: 0,
  }
  return { atMs, data: { ...data } }
}

test('trends: per-minute rates between snapshots, a restart counts from zero, new topics start at 0', (t) => {
  const min = 60_000
  const trends = trendsFrom([
    snap(3 * min, { a: 5 }, { a: 1 }), // a restart: counters went down
    snap(0, { a: 0 }),
    snap(2 * min, { a: 100 }, { a: 7 }),
    snap(4 * min, { a: 15, b: 4 }),
    { atMs: 5 * min, data: { unknown: 'shape' } }, // ignored
  ])
  t.deepEqual(trends.atMs, [2 * min, 3 * min, 4 * min])
  t.deepEqual(trends.receivedPerMinuteByTopic, { a: [50, 5, 10], b: [0, 0, 4] })
  t.deepEqual(trends.receivedPerMinuteByGroup, { p: [50, 5, 14] })
  t.deepEqual(trends.pendingByTopic, { a: [7, 1, 0] })
  t.deepEqual(trendsFrom([snap(0, { a: 1 })]).atMs, [], 'one snapshot is no interval yet')
})

test('rates: per second over the sampled interval, per topic, restarts count from zero', (t) => {
  const sample = (atMs: number, received: number, byTopic: Record<string, number>): CounterSample => ({
    atMs, received, delivered: 0, throttled: 0, readBytes: received * 10, writtenBytes: 0, framesRead: received * 2, framesWritten: received,
    receivedByTopic: new Map(Object.entries(byTopic)), deliveredByTopic: new Map(),
  })
  const r = ratesBetween(sample(1000, 10, { a: 10 }), sample(1500, 60, { a: 40, b: 20 }))
  t.is(r.intervalMs, 500)
  t.is(r.receivedPerSecond, 100)
  t.is(r.readBytesPerSecond, 1000)
  t.is(r.readFramesPerSecond, 200)
  t.is(r.writtenFramesPerSecond, 100)
  t.deepEqual(r.receivedPerSecondByTopic, { a: 60, b: 40 })
  t.is(ratesBetween(sample(0, 50, {}), sample(1000, 7, {})).receivedPerSecond, 7)
})
