/**
 * Turns the stored counter snapshots into the console's trend series: per topic and per producer
 * group, messages per minute between consecutive snapshots, plus the pending backlog at each.
 */
import type { StatSnapshot } from '../store/message-store.ts'
import type { SnapshotData } from './snapshotter.ts'

export interface Trends {
  /** End of each interval (epoch ms); every series below has one value per entry. */
  atMs: number[]
  receivedPerMinuteByTopic: Record<string, number[]>
  deliveredPerMinuteByTopic: Record<string, number[]>
  receivedPerMinuteByGroup: Record<string, number[]>
  pendingByTopic: Record<string, number[]>
}

type CounterMap = 'receivedByTopic' | 'deliveredByTopic' | 'receivedByGroup'

function isSnapshotData(data: unknown): data is SnapshotData {
  return typeof data === 'object' && data !== null && (data as { v?: unknown }).v === 1
}

export function trendsFrom(snapshots: readonly StatSnapshot[]): Trends {
  const points = snapshots.filter((s) => isSnapshotData(s.data)).sort((a, b) => a.atMs - b.atMs)
  const trends: Trends = { atMs: [], receivedPerMinuteByTopic: {}, deliveredPerMinuteByTopic: {}, receivedPerMinuteByGroup: {}, pendingByTopic: {} }
  const keysOf = (field: CounterMap | 'pendingByTopic') =>
    new Set(points.flatMap((p) => Object.keys((p.data as unknown as SnapshotData)[field])))
  const series = {
    receivedByTopic: trends.receivedPerMinuteByTopic,
    deliveredByTopic: trends.deliveredPerMinuteByTopic,
    receivedByGroup: trends.receivedPerMinuteByGroup,
  } as const
  for (const field of Object.keys(series) as CounterMap[]) for (const k of keysOf(field)) series[field][k] = []
  for (const k of keysOf('pendingByTopic')) trends.pendingByTopic[k] = []

  for (let i = 1; i < points.length; i++) {
    const prev = points[i - 1].data as unknown as SnapshotData
    const cur = points[i].data as unknown as SnapshotData
    const minutes = (points[i].atMs - points[i - 1].atMs) / 60_000
    if (minutes <= 0) continue
    trends.atMs.push(points[i].atMs)
    for (const field of Object.keys(series) as CounterMap[]) {
      for (const [k, values] of Object.entries(series[field])) {
        const a = prev[field][k] ?? 0
        const b = cur[field][k] ?? 0
        // a counter that went down means the broker restarted in between: count from zero
        values.push((b >= a ? b - a : b) / minutes)
      }
    }
    for (const [k, values] of Object.entries(trends.pendingByTopic)) values.push(cur.pendingByTopic[k] ?? 0)
  }
  return trends
}
