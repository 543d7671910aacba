import test from 'ava'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { bindDirect } from '../../binding/index.ts'
import { BindRequestCodec, Cmd, ErrorCodes } from '../../protocol/index.ts'
import { KiteQClient } from '../../client/index.ts'
import { silentLogger } from '../../protocol/logger.ts'
import { eventually } from '../helpers/clients.ts'
import { FakeBroker, randomName } from './fake-broker.ts'

function registryFile(t: { teardown(fn: () => unknown): void }) {
  const dir = mkdtempSync(join(tmpdir(), 'kiteq-client-registry-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const path = join(dir, 'registry.yaml')
  const write = (brokers: Array<[FakeBroker, string[]]>) =>
    writeFileSync(path, [
      'brokers:',
      ...brokers.map(([b, topics]) => `  - { address: "${b.address}", topics: [${topics.join(', ')}], env: test }`),
      'bindings: []',
      '',
    ].join('\n'))
  return { path, uri: pathToFileURL(path).href, write }
}

function nextEvent(client: KiteQClient, event: 'broker-up' | 'broker-down', address: string): Promise<void> {
  return new Promise((resolve) => {
    const on = (a: string) => {
      if (a !== address) return
      client.off(event, on)
      resolve()
    }
    client.on(event, on)
  })
}

const clientOptions = { connection: { heartbeat: false as const, reconnect: { initialDelayMs: 5, maxDelayMs: 50 } }, startTimeoutMs: 3000 }

test('file registry: connects to the brokers of its topics only, and follows the file as brokers are added and removed', async (t) => {
  const [a, b, c, d] = await Promise.all([0, 1, 2, 3].map(() => FakeBroker.start()))
  for (const broker of [a, b, c, d]) t.teardown(() => broker.stop())
  const topic = randomName('trade')
  const bindTopic = randomName('feed')
  const registry = registryFile(t)
  registry.write([[a, [topic]], [b, ['unrelated', bindTopic]], [c, ['unrelated']]])

  const client = new KiteQClient({ groupId: randomName('g'), registry: registry.uri, ...clientOptions })
  t.teardown(() => client.close())
  client.setTopics([topic])
  client.setBindings([bindDirect('', bindTopic, 'news')])
  client.setListener({ onMessage: () => true })
  await client.start()
  t.is(a.framesOf(Cmd.CONN_META).length, 1)
  t.is(b.framesOf(Cmd.CONN_META).length, 1) // serves a binding topic
  t.regex(BindRequestCodec.decode((await b.waitForCmd(Cmd.BIND)).body).bindings, new RegExp(`"topic":"${bindTopic}"`))

  const dUp = nextEvent(client, 'broker-up', d.address)
  registry.write([[a, [topic]], [b, ['unrelated', bindTopic]], [c, ['unrelated']], [d, [topic]]])
  await dUp
  t.is(d.framesOf(Cmd.CONN_META).length, 1)

  const aDown = nextEvent(client, 'broker-down', a.address)
  registry.write([[b, ['unrelated', bindTopic]], [c, ['unrelated']], [d, [topic]]])
  await aDown
  await Promise.all(Array.from({ length: 10 }, () => client.sendStringMessage({ topic, messageType: 'm', body: 'x' })))
  t.is(d.framesOf(Cmd.STRING_MESSAGE).length, 10)
  t.is(a.framesOf(Cmd.STRING_MESSAGE).length, 0)
  t.is(c.accepted, 0, 'a broker serving none of our topics is never dialled')
  t.is(a.connections.length, 0)

  const unlisted = await t.throwsAsync(client.sendStringMessage({ topic: 'nobody-serves-this', messageType: 'm', body: 'x' }))
  t.is((unlisted as { code?: string }).code, ErrorCodes.INVALID_ARGUMENT)
  t.regex(unlisted!.message, /'nobody-serves-this' is neither in setTopics\(\) nor bound/)
})

test('file registry: a topic no broker serves fails start() with NO_BROKER; a missing file with CONFIG', async (t) => {
  const a = await FakeBroker.start()
  t.teardown(() => a.stop())
  const registry = registryFile(t)
  registry.write([[a, ['served']]])
  const client = new KiteQClient({ groupId: 'g', registry: registry.uri, ...clientOptions, startTimeoutMs: 200 })
  client.setTopics(['served', 'orphan'])
  const err = await t.throwsAsync(client.start())
  t.is((err as { code?: string }).code, ErrorCodes.NO_BROKER)
  t.regex(err?.message ?? '', /orphan/)

  const missing = new KiteQClient({ groupId: 'g', registry: pathToFileURL(registry.path + '.nope').href, ...clientOptions })
  const config = await t.throwsAsync(missing.start())
  t.is((config as { code?: string }).code, ErrorCodes.CONFIG)
})

test('a broker given up after reconnect.maxRetries is dialled again once the registry lists it anew', async (t) => {
  const a = await FakeBroker.start()
  t.teardown(() => a.stop())
  const down = await FakeBroker.start()
  const port = down.port
  await down.stop() // nobody listens on its port now
  const topic = randomName('topic')
  const registry = registryFile(t)
  registry.write([[a, [topic]], [down, [topic]]])
  const errors: string[] = []
  const logger = { ...silentLogger, error: (_: unknown, msg?: string) => { errors.push(msg ?? '') }, child: () => logger }
  const client = new KiteQClient({
    ...clientOptions, registry: registry.uri, groupId: randomName('p'), logger, startTimeoutMs: 300,
    connection: { heartbeat: false, reconnect: { initialDelayMs: 5, maxDelayMs: 5, maxRetries: 1 } },
  })
  t.teardown(() => client.close())
  client.setTopics([topic])
  await client.start() // the topic has a ready broker: the other is tolerated
  await eventually(() => errors.includes('giving up on broker'), 5000, 'the client gave up on the broker')
  const back = await FakeBroker.start({}, port)
  t.teardown(() => back.stop())
  const up = nextEvent(client, 'broker-up', back.address)
  registry.write([[a, [topic]], [back, [topic, 'another']]])
  await up
  t.is(back.framesOf(Cmd.CONN_META).length, 1)
})
