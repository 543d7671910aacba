/**
 * What stat/ reads and does on the broker: its public getters and operator actions, nothing of
 * its internals. A type only, so tests may hand in the real KiteQServer or a stand-in.
 */
import type { KiteQServer } from '../server/kiteq-server.ts'

export type ObservedBroker = Pick<
  KiteQServer,
  | 'address' | 'stats' | 'store' | 'sessions' | 'exchanger' | 'settings' | 'clock' | 'topics' | 'scheduledInMemory' | 'deliveriesInFlight' | 'dueParked' | 'dueSpilled' | 'connectionCount' | 'traffic'
  | 'isServedTopic' | 'setTopics' | 'cancel' | 'reschedule' | 'redrive' | 'lookup' | 'listDeadLetters'
>
