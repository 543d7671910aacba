/** TS clients for end-to-end tests, and a way to wait for conditions without fixed sleeps. */
import { EventEmitter } from 'node:events'
import type { Binding } from '../../binding/binding.ts'
import { KiteQClient, type KiteQClientOptions, type ReceivedMessage, type TxDecision, type TxCheck } from '../../client/index.ts'

export interface Collector {
  client: KiteQClient
  received: ReceivedMessage[]
  /** Deliveries per message id, including refused ones. */
  attempts: Map<string, number>
  /** Resolves once `n` messages have been accepted (onMessage returned true). */
  waitFor(n: number, timeoutMs?: number): Promise<ReceivedMessage[]>
}

export interface ConsumerOptions extends Partial<KiteQClientOptions> {
  address: string
  group: string
  bindings: Binding[]
  /** Decides each delivery; default: accept. */
  decide?: (m: ReceivedMessage, attempt: number) => boolean | Promise<boolean>
  onMessageCheck?: (tx: TxCheck) => TxDecision | Promise<TxDecision>
}

export async function startConsumer(options: ConsumerOptions): Promise<Collector> {
  const { address, group, bindings, decide, onMessageCheck, ...rest } = options
  const client = new KiteQClient({ brokers: [address], groupId: group, connection: { heartbeat: false }, ...rest })
  const received: ReceivedMessage[] = []
  const attempts = new Map<string, number>()
  const events = new EventEmitter()
  client.setBindings(bindings)
  client.setListener({
    async onMessage(m) {
      const attempt = (attempts.get(m.messageId) ?? 0) + 1
      attempts.set(m.messageId, attempt)
      const ok = decide === undefined ? true : await decide(m, attempt)
      if (ok) {
        received.push(m)
        events.emit('received')
      }
      return ok
    },
    ...(onMessageCheck ? { onMessageCheck } : {}),
  })
  await client.start()
  return {
    client,
    received,
    attempts,
    waitFor(n, timeoutMs = 20_000) {
      if (received.length >= n) return Promise.resolve(received)
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          events.off('received', check)
          reject(new Error(`only ${received.length} of ${n} messages arrived within ${timeoutMs} ms`))
        }, timeoutMs)
        const check = () => {
          if (received.length < n) return
          clearTimeout(timer)
          events.off('received', check)
          resolve(received)
        }
        events.on('received', check)
      })
    },
  }
}

export async function startProducer(address: string, group: string, topics: string[], extra: Partial<KiteQClientOptions> = {}): Promise<KiteQClient> {
  const client = new KiteQClient({ brokers: [address], groupId: group, connection: { heartbeat: false }, ...extra })
  client.setTopics(topics)
  await client.start()
  return client
}

/** Polls `condition` (cheaply, every few ms) until it holds; fails after `timeoutMs`. */
export async function eventually(condition: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`${what} did not hold within ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 5))
  }
}
