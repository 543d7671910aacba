// Checks that the real services started by scripts/services.sh answer. The endpoints come from
// KITEQ_TEST_ZK / KITEQ_TEST_MYSQL / KITEQ_TEST_KAFKA (written to .services/env; `npm test` passes
// them on). A missing variable is a failure, not a skip: CI must never pass without the services.
import test, { type ExecutionContext } from 'ava'
import { randomUUID } from 'node:crypto'
import { createRequire } from 'node:module'
import mysql from 'mysql2/promise'
import kafkajs from 'kafkajs'

// node-zookeeper-client ships no type declarations: describe the little used here.
interface ZkStat { version: number }
interface ZkClient {
  once(event: 'connected', listener: () => void): void
  connect(): void
  close(): void
  mkdirp(path: string, data: Buffer, cb: (err: Error | null, path: string) => void): void
  getData(path: string, cb: (err: Error | null, data: Buffer, stat: ZkStat) => void): void
  remove(path: string, version: number, cb: (err: Error | null) => void): void
}
interface ZkModule {
  createClient(connectionString: string, options?: { sessionTimeout?: number; spinDelay?: number; retries?: number }): ZkClient
}
const zookeeper = createRequire(import.meta.url)('node-zookeeper-client') as ZkModule

function endpoint(t: ExecutionContext, name: string): { host: string; port: number } | undefined {
  const value = process.env[name]
  const m = value ? /^(.+):(\d+)$/.exec(value) : null
  if (!m) {
    t.fail(`${name} is ${value === undefined ? 'not set' : `malformed (${value})`}: run scripts/services.sh start and pass the lines of .services/env`)
    return undefined
  }
  return { host: m[1], port: Number(m[2]) }
}

function withTimeout<T>(what: string, ms: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

test('zookeeper answers: create, read and remove a znode', async (t) => {
  const ep = endpoint(t, 'KITEQ_TEST_ZK')
  if (!ep) return
  const client = zookeeper.createClient(`${ep.host}:${ep.port}`, { sessionTimeout: 10_000, spinDelay: 200, retries: 2 })
  const parent = '/kiteq-ts-services-test'
  const path = `${parent}/${randomUUID()}`
  const payload = Buffer.from(`hello ${path}`)
  try {
    await withTimeout('zookeeper connect', 15_000, new Promise<void>((resolve) => {
      client.once('connected', resolve)
      client.connect()
    }))
    const created = await new Promise<string>((resolve, reject) =>
      client.mkdirp(path, payload, (err, p) => (err ? reject(err) : resolve(p))))
    t.is(created, path)
    const [data, stat] = await new Promise<[Buffer, ZkStat]>((resolve, reject) =>
      client.getData(path, (err, d, s) => (err ? reject(err) : resolve([d, s]))))
    t.deepEqual(data, payload)
    await new Promise<void>((resolve, reject) =>
      client.remove(path, stat.version, (err) => (err ? reject(err) : resolve())))
    // the shared parent goes too once empty; another run may still use it, so errors are fine
    await new Promise<void>((resolve) => client.remove(parent, -1, () => resolve()))
  } finally {
    client.close()
  }
})

test('mariadb answers: select 1', async (t) => {
  const ep = endpoint(t, 'KITEQ_TEST_MYSQL')
  if (!ep) return
  const conn = await mysql.createConnection({ host: ep.host, port: ep.port, user: 'root', password: '', connectTimeout: 10_000 })
  try {
    const [rows] = await conn.query('select 1 as one')
    t.deepEqual(rows, [{ one: 1 }])
  } finally {
    await conn.end()
  }
})

test('kafka answers: create a topic and list it', async (t) => {
  const ep = endpoint(t, 'KITEQ_TEST_KAFKA')
  if (!ep) return
  const kafka = new kafkajs.Kafka({
    clientId: 'kiteq-ts-services-test',
    brokers: [`${ep.host}:${ep.port}`],
    connectionTimeout: 10_000,
    logLevel: kafkajs.logLevel.NOTHING,
    retry: { retries: 5 },
  })
  const admin = kafka.admin()
  const topic = `kiteq-ts-services-test-${randomUUID()}`
  await admin.connect()
  try {
    t.true(await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true }))
    t.true((await admin.listTopics()).includes(topic))
    await admin.deleteTopics({ topics: [topic] })
  } finally {
    await admin.disconnect()
  }
})
