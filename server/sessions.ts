/**
 * Authenticated connections, by group. Delivery picks one live connection of a group at random
 * among those past their warm-up ramp (KiteQ: a connection that announced warmingupSec = W gets a
 * share of traffic growing linearly from 0 to 100 % over its first W seconds).
 */
import type { Connection } from '../remoting/connection.ts'

export interface Session {
  readonly connection: Connection
  readonly groupId: string
  readonly warmingupSec: number
  readonly authAtMs: number
  readonly remote: string
}

export type PickResult =
  | { session: Session }
  /** No live connection of the group on this broker. */
  | { unavailable: 'offline' }
  /** Every connection of the group skipped this time by its warm-up ramp. */
  | { unavailable: 'warming' }
  /** Every connection of the group is pushing back (its socket is not draining). */
  | { unavailable: 'busy' }

export class SessionRegistry {
  readonly #byConnection = new Map<Connection, Session>()
  readonly #byGroup = new Map<string, Session[]>()

  add(session: Session): void {
    this.remove(session.connection)
    this.#byConnection.set(session.connection, session)
    const list = this.#byGroup.get(session.groupId)
    if (list === undefined) this.#byGroup.set(session.groupId, [session])
    else list.push(session)
  }

  remove(connection: Connection): Session | undefined {
    const session = this.#byConnection.get(connection)
    if (session === undefined) return undefined
    this.#byConnection.delete(connection)
    const list = this.#byGroup.get(session.groupId)!
    const i = list.indexOf(session)
    if (i >= 0) list.splice(i, 1)
    if (list.length === 0) this.#byGroup.delete(session.groupId)
    return session
  }

  get(connection: Connection): Session | undefined {
    return this.#byConnection.get(connection)
  }

  get size(): number {
    return this.#byConnection.size
  }

  hasGroup(groupId: string): boolean {
    return this.#byGroup.has(groupId)
  }

  /** One connection of `groupId` for a delivery: random among the warmed-up, non-blocked ones. */
  pick(groupId: string, nowMs: number, random: () => number = Math.random): PickResult {
    const list = this.#byGroup.get(groupId)
    if (list === undefined || list.length === 0) return { unavailable: 'offline' }
    // common case: one consumer, warm, writable
    if (list.length === 1) {
      const only = list[0]
      if (only.connection.closed) return { unavailable: 'offline' }
      if (!isWarm(only, nowMs, random)) return { unavailable: 'warming' }
      return only.connection.backpressured ? { unavailable: 'busy' } : { session: only }
    }
    const eligible: Session[] = []
    let sawWarm = false
    for (const s of list) {
      if (s.connection.closed || !isWarm(s, nowMs, random)) continue
      sawWarm = true
      if (!s.connection.backpressured) eligible.push(s)
    }
    if (eligible.length > 0) return { session: eligible[Math.floor(random() * eligible.length)] }
    return { unavailable: sawWarm ? 'busy' : list.every((s) => s.connection.closed) ? 'offline' : 'warming' }
  }

  /** Any live connection of `groupId` (for transaction checks, which skip the warm-up ramp). */
  any(groupId: string, random: () => number = Math.random): Session | undefined {
    const live = (this.#byGroup.get(groupId) ?? []).filter((s) => !s.connection.closed)
    return live.length === 0 ? undefined : live[Math.floor(random() * live.length)]
  }

  /** groupId → sorted remote addresses (KiteQ's /stat "groups"). */
  groups(): Record<string, string[]> {
    const out: Record<string, string[]> = {}
    for (const [groupId, list] of this.#byGroup) out[groupId] = list.map((s) => s.remote).sort()
    return out
  }

  all(): IterableIterator<Session> {
    return this.#byConnection.values()
  }
}

function isWarm(s: Session, nowMs: number, random: () => number): boolean {
  if (s.warmingupSec <= 0) return true
  const rate = Math.floor(((nowMs - s.authAtMs) * 100) / (s.warmingupSec * 1000))
  return rate >= 100 || Math.floor(random() * 100) <= rate
}
