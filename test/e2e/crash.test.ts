/**
 * kill -9 safety: a broker child process under a producer sending 50 000 messages is killed with
 * SIGKILL three times at random points and restarted; every message the broker acknowledged must
 * reach the consumer at least once. Duplicates (the in-flight window) are counted and printed.
 */
import test from 'ava'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { bindDirect } from '../../binding/binding.ts'
import { KiteQClient } from '../../client/index.ts'
import { BrokerProcess, freePort } from '../helpers/broker-process.ts'
import { randomName } from '../helpers/broker.ts'
import { dropShardDatabases, testMysqlAddress } from '../helpers/mysql.ts'
import { SeededRandom, testSeed } from '../helpers/random.ts'

const TOTAL = 50_000
const CONCURRENCY = 64

interface CrashCase {
  name: string
  /** The -db flag, and what to remove once the test is over. */
  db: () => { url: string; drop?: () => Promise<void> }
}

export const crashCases: CrashCase[] = [
  { name: 'sqlite', db: () => ({ url: `sqlite://${join(mkdtempSync(join(tmpdir(), 'kiteq-crash-')), 'k.db')}?fsync=interval` }) },
  { name: 'file', db: () => ({ url: `file://${mkdtempSync(join(tmpdir(), 'kiteq-crash-'))}?fsync=interval` }) },
  {
    name: 'mysql',
    db: () => {
      const db = randomName('crash').replace('-', '_')
      return { url: `mysql://${testMysqlAddress()}?db=${db}&user=root&shardnum=4&createSchema=true`, drop: () => dropShardDatabases(db) }
    },
  },
]

for (const c of crashCases) {
  test.serial(`crash (${c.name}): SIGKILL three times under load loses no acknowledged message`, async (t) => {
    t.timeout(240_000)
    const rnd = new SeededRandom(testSeed(4242))
    const topic = randomName('crash')
    const group = randomName('s')
    const db = c.db()
    const broker = new BrokerProcess(await freePort(), [`-topics=${topic}`, `-db=${db.url}`])
    await broker.start()
    const quick = { heartbeat: false as const, reconnect: { initialDelayMs: 50, maxDelayMs: 400 } }

    const received = new Set<string>()
    let duplicates = 0
    const consumer = new KiteQClient({ brokers: [broker.address], groupId: group, connection: quick })
    consumer.setBindings([bindDirect(group, topic, 'm', 0, true)])
    consumer.setListener({
      onMessage(m) {
        if (received.has(m.messageId)) duplicates++
        else received.add(m.messageId)
        return true
      },
    })
    await consumer.start()
    const producer = new KiteQClient({ brokers: [broker.address], groupId: randomName('p'), connection: quick, publishTimeoutMs: 2000 })
    producer.setTopics([topic])
    await producer.start()
    // a failed run (a restart that cannot start, say) must not leave clients redialling and a
    // broker running: the test process would never end
    let stopped = false
    t.teardown(async () => {
      stopped = true
      await Promise.allSettled([producer.close(), consumer.close()])
      await broker.kill().catch(() => {})
      await db.drop?.()
    })

    const killAt = [rnd.int(5_000, 15_000), rnd.int(20_000, 30_000), rnd.int(35_000, 45_000)]
    const acked: string[] = []
    let refused = 0
    let next = 0
    let restarting: Promise<void> | undefined
    const worker = async () => {
      while (next < TOTAL && !stopped) {
        const i = next++
        while (!stopped) {
          if (restarting) await restarting
          try {
            const { messageId } = await producer.sendStringMessage({ topic, messageType: 'm', body: `m-${i}` })
            acked.push(messageId)
            if (killAt.length > 0 && acked.length >= killAt[0] && !restarting) {
              killAt.shift()
              restarting = (async () => {
                await broker.kill()
                await broker.start()
              })().catch((err: unknown) => {
                stopped = true // every worker ends; the rejection fails the test
                throw err
              }).finally(() => (restarting = undefined))
            }
            break
          } catch {
            // not acknowledged (broker gone or reconnecting): this message counts only once acked
            refused++
            await new Promise((r) => setTimeout(r, 20))
          }
        }
      }
    }
    await Promise.all(Array.from({ length: CONCURRENCY }, worker))
    t.is(killAt.length, 0, 'all three kills happened')
    const deadline = Date.now() + 120_000
    const missing = () => acked.filter((id) => !received.has(id))
    while (missing().length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100))
    const lost = missing()
    t.log(`${c.name}: ${acked.length} acknowledged, ${received.size} received, ${duplicates} duplicates, ${refused} sends refused during restarts`)
    t.deepEqual(lost.slice(0, 10), [], `${lost.length} acknowledged messages never arrived`)
    t.is(acked.length, TOTAL)
    await Promise.all([producer.close(), consumer.close()])
    await broker.stop()
  })
}
