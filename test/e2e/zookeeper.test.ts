// Brokers and clients meeting through the real ZooKeeper of scripts/services.sh (KITEQ_TEST_ZK), in
// KiteQ's znode layout. Without KITEQ_TEST_ZK these tests fail: CI must never pass without it.
// The layout is fixed at /kiteq, so every test uses its own random topics and groups and removes
// its persistent nodes afterwards. Serial: one of them stops and restarts ZooKeeper, and two cores
// are shared.
import test, { type ExecutionContext } from 'ava'
import { spawn, type ChildProcess } from 'node:child_process'
import { hostname } from 'node:os'
import { fileURLToPath } from 'node:url'
import { bindDirect, bindingsToJson, type Binding } from '../../binding/binding.ts'
import { ZkRegistry } from '../../binding/zk-registry.ts'
import { zkPaths } from '../../binding/zk/paths.ts'
import { ZkSession } from '../../binding/zk/zk-session.ts'
import { ZkDiscovery } from '../../client/zk-discovery.ts'
import { KiteQClient, type ReceivedMessage } from '../../client/index.ts'
import { parseCli, createServer } from '../../kiteq.ts'
import { ErrorCodes } from '../../protocol/errors.ts'
import { silentLogger } from '../../protocol/logger.ts'
import { KiteQServer } from '../../server/kiteq-server.ts'
import { randomName } from '../helpers/broker.ts'
import { eventually } from '../helpers/clients.ts'
import { buildHarness, runHarness } from '../helpers/go-harness.ts'
import { runScript } from '../helpers/scripts.ts'

const SESSION_TIMEOUT_MS = 3000
/** ZooKeeper expires sessions on tick boundaries (tickTime=2000 in scripts/zookeeper.sh). */
const ZK_TICK_MS = 2000
const root = fileURLToPath(new URL('../../', import.meta.url))
/** Asynchronous: the brokers and clients of this process must keep running while ZooKeeper stops and starts. */
const zookeeperScript = (action: 'start' | 'stop') => runScript('scripts/zookeeper.sh', [action], 120_000)

function zkHosts(): string {
  const hosts = process.env.KITEQ_TEST_ZK
  if (hosts === undefined || hosts === '') {
    throw new Error('KITEQ_TEST_ZK is not set: run `bash scripts/services.sh start` and pass the lines of .services/env')
  }
  return hosts
}

const registryUri = () => `zk://${zkHosts()}?sessionTimeoutMs=${SESSION_TIMEOUT_MS}`
const NO_OWNER = Buffer.alloc(8)
const hex = (b: Buffer | undefined) => b?.toString('hex')

/** A plain session to look at the tree; it also removes what the test left (persistent nodes outlive everyone). */
async function inspector(t: ExecutionContext, topics: () => string[], addresses: () => string[] = () => []): Promise<ZkSession> {
  const zk = new ZkSession({ connectString: zkHosts(), sessionTimeoutMs: 10_000 })
  zk.open()
  t.teardown(async () => {
    await zk.waitConnected(15_000).catch(() => {})
    for (const topic of topics()) {
      for (const path of [zkPaths.serverTopic(topic), zkPaths.pubTopic(topic), zkPaths.subTopic(topic)]) await removeTree(zk, path).catch(() => {})
    }
    for (const address of addresses()) await zk.remove(zkPaths.all(address)).catch(() => {})
    await zk.close()
  })
  await zk.waitConnected(15_000)
  return zk
}

async function removeTree(zk: ZkSession, path: string): Promise<void> {
  for (const child of (await zk.children(path)) ?? []) await removeTree(zk, `${path}/${child}`)
  await zk.remove(path)
}

async function startZkBroker(t: ExecutionContext, topics: string[]) {
  const registry = new ZkRegistry(zkHosts(), { sessionTimeoutMs: SESSION_TIMEOUT_MS })
  const server = new KiteQServer({ bind: '127.0.0.1:0', topics, registry })
  t.teardown(() => server.stop())
  const { port } = await server.start()
  return { server, registry, address: `127.0.0.1:${port}` }
}

interface ZkClient {
  client: KiteQClient
  received: ReceivedMessage[]
}

async function startZkClient(t: ExecutionContext, groupId: string, options: { topics?: string[]; bindings?: Binding[] }): Promise<ZkClient> {
  const client = new KiteQClient({
    groupId, registry: registryUri(), startTimeoutMs: 15_000,
    connection: { heartbeat: false, reconnect: { initialDelayMs: 20, maxDelayMs: 200 } },
  })
  t.teardown(() => client.close())
  const received: ReceivedMessage[] = []
  if (options.topics !== undefined) client.setTopics(options.topics)
  if (options.bindings !== undefined) client.setBindings(options.bindings)
  client.setListener({ onMessage: (m) => (received.push(m), true) })
  await client.start()
  return { client, received }
}

/** Whether the broker routes `messageType` on `topic` to `groupId` (its bindings came through ZooKeeper). */
const routes = (server: KiteQServer, topic: string, messageType: string, groupId: string) =>
  server.exchanger.routes(topic, messageType).some((r) => r.groupId === groupId)

const ids = (messages: ReceivedMessage[]) => new Set(messages.map((m) => m.messageId))

test.before('build the Go harness', buildHarness)

test.serial('the znode tree after a broker, a producer and a consumer start: KiteQ\'s paths, node kinds and binding JSON', async (t) => {
  const topic = randomName('trade')
  const [producerGroup, consumerGroup] = [randomName('p'), randomName('s')]
  let address = ''
  const zk = await inspector(t, () => [topic], () => [address])
  const broker = await startZkBroker(t, [topic])
  address = broker.address
  await startZkClient(t, producerGroup, { topics: [topic] })
  const consumer = await startZkClient(t, consumerGroup, { bindings: [bindDirect(consumerGroup, topic, 'pay-succ', 1000, true)] })

  const brokerSession = hex(broker.registry.session!.id)
  const ephemeral = async (path: string) => t.is(hex((await zk.exists(path))?.ephemeralOwner), brokerSession, `${path} is the broker's ephemeral node`)
  const persistent = async (path: string) => t.deepEqual((await zk.exists(path))?.ephemeralOwner, NO_OWNER, `${path} is persistent`)
  await ephemeral(`/kiteq/server/${topic}/${address}`)
  await ephemeral(`/kiteq/alive_servers/${address}`)
  for (const path of ['/kiteq', `/kiteq/server/${topic}`, `/kiteq/pub/${topic}`, `/kiteq/sub/${topic}`, `/kiteq/all_servers/${address}`,
    `/kiteq/pub/${topic}/${producerGroup}`, `/kiteq/pub/${topic}/${producerGroup}/${hostname()}`, `/kiteq/sub/${topic}/${consumerGroup}-bind`]) {
    await persistent(path)
  }
  t.deepEqual(await zk.data(`/kiteq/server/${topic}/${address}`), Buffer.alloc(0), 'server nodes carry no data')
  t.is((await zk.data(`/kiteq/sub/${topic}/${consumerGroup}-bind`))?.toString(),
    `[{"groupId":"${consumerGroup}","topic":"${topic}","messageType":"pay-succ","bindType":0,"version":"1.0.0","watermark":1000,"persistent":true}]`)
  t.deepEqual(await zk.children(`/kiteq/server/${topic}`), [address])

  // the binding reached the broker through ZooKeeper, not over BIND
  await eventually(() => routes(broker.server, topic, 'pay-succ', consumerGroup), 2000, 'the broker routes to the consumer')
  t.deepEqual((await broker.server.store.loadBindings()).filter((b) => b.groupId === consumerGroup), [], 'no BIND was stored')
  const producer = await startZkClient(t, randomName('p2'), { topics: [topic] })
  const sent = await producer.client.sendStringMessage({ topic, messageType: 'pay-succ', body: 'hello' })
  await eventually(() => ids(consumer.received).has(sent.messageId), 10_000, 'delivery')
})

test.serial('a binding changed in ZooKeeper takes effect on the broker within 1 s', async (t) => {
  const topic = randomName('trade')
  const group = randomName('s')
  let address = ''
  const zk = await inspector(t, () => [topic], () => [address])
  const broker = await startZkBroker(t, [topic])
  address = broker.address
  const consumer = await startZkClient(t, group, { bindings: [bindDirect(group, topic, 'pay')] })
  const producer = await startZkClient(t, randomName('p'), { topics: [topic] })
  await eventually(() => routes(broker.server, topic, 'pay', group), 2000, 'the first binding')
  t.false(routes(broker.server, topic, 'refund', group))

  // an operator (or another client of the group) rewrites the group's bindings
  const t0 = Date.now()
  await zk.putPersistent(zkPaths.bind(topic, group), Buffer.from(bindingsToJson([bindDirect(group, topic, 'pay'), bindDirect(group, topic, 'refund')])))
  await eventually(() => routes(broker.server, topic, 'refund', group), 1000, 'the new binding on the broker')
  t.log(`binding applied ${Date.now() - t0} ms after setData`)
  const sent = await producer.client.sendStringMessage({ topic, messageType: 'refund', body: 'newly bound' })
  await eventually(() => ids(consumer.received).has(sent.messageId), 10_000, 'the newly bound type is delivered')
})

test.serial('two brokers serving a topic: publishes spread over both, one group receives from both', async (t) => {
  const topic = randomName('trade')
  const group = randomName('s')
  const addresses: string[] = []
  await inspector(t, () => [topic], () => addresses)
  const brokers = [await startZkBroker(t, [topic]), await startZkBroker(t, [topic])]
  addresses.push(...brokers.map((b) => b.address))
  const consumer = await startZkClient(t, group, { bindings: [bindDirect(group, topic, 'evt')] })
  const producer = await startZkClient(t, randomName('p'), { topics: [topic] })
  for (const b of brokers) await eventually(() => routes(b.server, topic, 'evt', group), 2000, `binding on ${b.address}`)

  const sent = new Set<string>()
  for (let i = 0; i < 60; i++) sent.add((await producer.client.sendStringMessage({ topic, messageType: 'evt', body: `m${i}` })).messageId)
  await eventually(() => consumer.received.length >= sent.size, 15_000, 'every message delivered')
  t.deepEqual(ids(consumer.received), sent)
  const stored = brokers.map((b) => b.server.stats.receivedByTopic.get(topic) ?? 0)
  const delivered = brokers.map((b) => b.server.stats.deliveredByTopic.get(topic) ?? 0)
  t.log(`stored per broker: ${stored.join(' / ')}; delivered per broker: ${delivered.join(' / ')}`)
  t.is(stored[0] + stored[1], sent.size)
  t.true(stored.every((n) => n > 0), 'both brokers stored some')
  t.true(delivered.every((n) => n > 0), 'the group received from both')
})

/** A broker in its own process (the CLI), so it can die without saying goodbye to ZooKeeper. */
async function spawnBroker(t: ExecutionContext, topic: string): Promise<{ child: ChildProcess; address: string }> {
  const tsx = `--import=${import.meta.resolve('tsx')}`
  const child = spawn(process.execPath, [tsx, `${root}kiteq.ts`, '-bind=127.0.0.1:0', `-topics=${topic}`, `-registry=${registryUri()}`, '-db=memory://'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  t.teardown(() => {
    child.kill('SIGKILL')
  })
  let out = ''
  let err = ''
  child.stderr!.on('data', (d) => (err += d))
  const address = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      out += d
      const started = out.split('\n').find((l) => l.includes('"broker started"'))
      if (started !== undefined) resolve((JSON.parse(started) as { bind: string }).bind)
    })
    child.on('exit', (code) => reject(new Error(`the broker exited (${code}) before starting: ${err}${out}`)))
  })
  return { child, address }
}

test.serial('a killed broker leaves the clients within the session timeout; messages keep flowing through the other', async (t) => {
  const topic = randomName('trade')
  const group = randomName('s')
  const addresses: string[] = []
  await inspector(t, () => [topic], () => addresses)
  const survivor = await startZkBroker(t, [topic])
  const doomed = await spawnBroker(t, topic)
  addresses.push(survivor.address, doomed.address)
  // what the clients see of ZooKeeper, watched the same way they do
  const view = new ZkDiscovery(registryUri(), silentLogger)
  t.teardown(() => view.close())
  view.open(() => {}, { groupId: randomName('view'), publishTopics: [topic], bindings: [] })
  await eventually(() => view.brokersFor(topic).length === 2, 10_000, 'both brokers listed')

  const consumer = await startZkClient(t, group, { bindings: [bindDirect(group, topic, 'evt')] })
  const producer = await startZkClient(t, randomName('p'), { topics: [topic] })
  await eventually(() => routes(survivor.server, topic, 'evt', group), 2000, 'binding on the survivor')

  const acked = new Set<string>()
  let failures = 0
  let stop = false
  const publishing = (async () => {
    for (let i = 0; !stop; i++) {
      try {
        acked.add((await producer.client.sendStringMessage({ topic, messageType: 'evt', body: `m${i}` })).messageId)
      } catch {
        failures++ // a publish in flight on the killed broker
      }
      await new Promise((r) => setTimeout(r, 10))
    }
  })()
  await eventually(() => acked.size >= 20, 10_000, 'publishing before the kill')
  const killedAt = Date.now()
  doomed.child.kill('SIGKILL')
  await eventually(() => !view.brokersFor(topic).includes(doomed.address), SESSION_TIMEOUT_MS + ZK_TICK_MS + 2000, 'the killed broker dropped')
  const droppedAfterMs = Date.now() - killedAt
  t.log(`dropped ${droppedAfterMs} ms after SIGKILL (session timeout ${SESSION_TIMEOUT_MS} ms); ${failures} publish(es) failed at the kill`)
  t.deepEqual(view.brokersFor(topic), [survivor.address])
  const afterDrop = acked.size
  await eventually(() => acked.size >= afterDrop + 20, 10_000, 'publishing after the drop')
  stop = true
  await publishing
  t.true(failures <= 2, `at most the publish in flight on the killed broker fails (${failures})`)
  // what the killed broker acknowledged died with its memory store; the survivor's messages all arrive
  const viaSurvivor = survivor.server.stats.receivedByTopic.get(topic) ?? 0
  await eventually(() => (survivor.server.stats.deliveredByTopic.get(topic) ?? 0) >= viaSurvivor, 15_000, 'the survivor delivered everything it stored')
  t.true(consumer.received.length >= viaSurvivor)
})

test.serial('[outage] ZooKeeper stopped and restarted mid-run: flow goes on with the known broker, no acknowledged message is lost, registrations come back', async (t) => {
  const topic = randomName('trade')
  const group = randomName('s')
  const addresses: string[] = []
  const admin = await inspector(t, () => [topic], () => addresses)
  const broker = await startZkBroker(t, [topic])
  const address = broker.address
  addresses.push(address)
  const consumer = await startZkClient(t, group, { bindings: [bindDirect(group, topic, 'evt')] })
  const producer = await startZkClient(t, randomName('p'), { topics: [topic] })
  await eventually(() => routes(broker.server, topic, 'evt', group), 2000, 'the binding on the broker')
  // A group no client owns: the consumer re-announces its own bindings whenever its session is new,
  // which may come after the broker's and would overwrite a change the test makes to its node.
  const operatorGroup = randomName('op')
  await admin.putPersistent(zkPaths.bind(topic, operatorGroup), Buffer.from(bindingsToJson([bindDirect(operatorGroup, topic, 'audit')])))
  await eventually(() => routes(broker.server, topic, 'audit', operatorGroup), 2000, 'the operator group\'s binding on the broker')
  const sessionBefore = hex(broker.registry.session!.id)

  const acked = new Set<string>()
  const failures: string[] = []
  let stop = false
  const publishing = (async () => {
    for (let i = 0; !stop; i++) {
      try {
        acked.add((await producer.client.sendStringMessage({ topic, messageType: 'evt', body: `m${i}` })).messageId)
      } catch (err) {
        failures.push((err as Error).message)
      }
      await new Promise((r) => setTimeout(r, 10))
    }
  })()
  let zkDown = false
  t.teardown(async () => {
    if (zkDown) await zookeeperScript('start')
  })
  try {
    await eventually(() => acked.size >= 20, 10_000, 'publishing before the outage')
    zkDown = true
    await zookeeperScript('stop')
    const stoppedAt = Date.now()
    const ackedAtStop = acked.size
    // longer than the session timeout, so that every session is given up and replaced
    await eventually(() => Date.now() - stoppedAt > SESSION_TIMEOUT_MS + 500 && acked.size >= ackedAtStop + 20, 30_000, 'publishing during the outage')
    t.log(`${acked.size - ackedAtStop} messages acknowledged during ${Date.now() - stoppedAt} ms without ZooKeeper`)
    await zookeeperScript('start')
    zkDown = false
    const restartedAt = Date.now()

    const zk = new ZkSession({ connectString: zkHosts(), sessionTimeoutMs: 10_000 })
    t.teardown(() => zk.close())
    zk.open()
    await zk.waitConnected(15_000)
    const ownedNow = async (path: string) => {
      const owner = hex((await zk.exists(path).catch(() => null))?.ephemeralOwner)
      return owner !== undefined && owner === hex(broker.registry.session?.id)
    }
    await eventually(async () => (await ownedNow(zkPaths.server(topic, address))) && ownedNow(zkPaths.alive(address)), 15_000, 'the broker registered again')
    t.log(`registered again ${Date.now() - restartedAt} ms after ZooKeeper was back (session ${sessionBefore} → ${hex(broker.registry.session?.id)})`)
    t.not(hex(broker.registry.session?.id), sessionBefore, 'the outage outlasted the session: a new one registered')
    // watches are set again too: a change to a group's node, and a group added, are followed
    await zk.putPersistent(zkPaths.bind(topic, operatorGroup), Buffer.from(bindingsToJson([bindDirect(operatorGroup, topic, 'audit'), bindDirect(operatorGroup, topic, 'audit2')])))
    await eventually(() => routes(broker.server, topic, 'audit2', operatorGroup), 1000, 'a binding change after the restart')
    const addedGroup = randomName('op')
    await zk.putPersistent(zkPaths.bind(topic, addedGroup), Buffer.from(bindingsToJson([bindDirect(addedGroup, topic, 'audit')])))
    await eventually(() => routes(broker.server, topic, 'audit', addedGroup), 1000, 'a group bound after the restart')
    // and the clients' new sessions watch again: a broker added now gets publishes
    const late = await startZkBroker(t, [topic])
    addresses.push(late.address)
    await eventually(() => (late.server.stats.receivedByTopic.get(topic) ?? 0) > 0, 10_000, 'publishes reach a broker added after the restart')
    const ackedAtRestart = acked.size
    await eventually(() => acked.size >= ackedAtRestart + 20, 10_000, 'publishing after the restart')
  } finally {
    stop = true
    await publishing
  }
  await eventually(() => [...acked].every((id) => ids(consumer.received).has(id)), 20_000, 'every acknowledged message delivered')
  t.log(`${acked.size} acknowledged, all delivered; ${failures.length} publish(es) failed${failures.length > 0 ? `: ${failures[0]}` : ''}`)
  t.is(failures.length, 0, 'the broker connection never depended on ZooKeeper')
})

test.serial('the CLI: -zkhost and -registry=zk:// select the ZooKeeper registry; both at once, or a bad host list, stop start-up', async (t) => {
  const topic = randomName('trade')
  let address = ''
  const zk = await inspector(t, () => [topic], () => [address])
  const base = ['-bind=127.0.0.1:0', `-topics=${topic}`, '-db=memory://']
  const server = createServer(parseCli([...base, `-zkhost=${zkHosts()}`], {}), silentLogger)
  t.teardown(() => server.stop())
  const { port } = await server.start()
  address = `127.0.0.1:${port}`
  t.not(await zk.exists(zkPaths.server(topic, address)), null, '-zkhost registered the broker')
  await server.stop()
  t.is(await zk.exists(zkPaths.server(topic, address)), null, 'and a graceful stop withdrew it')
  for (const bad of [[`-zkhost=${zkHosts()}`, `-registry=zk://${zkHosts()}`], ['-zkhost=nohost'], ['-registry=zk://h:1?sessionTimeoutMs=x']]) {
    t.is((t.throws(() => parseCli([...base, ...bad], {})) as { code?: string } | undefined)?.code, ErrorCodes.CONFIG, bad.join(' '))
  }
})

test.serial('Go producer and Go consumer find our broker through ZooKeeper; the Go consumer\'s binding reaches it', async (t) => {
  const topic = randomName('trade')
  const [consumerGroup, producerGroup] = [randomName('go-s'), randomName('go-p')]
  let address = ''
  const zk = await inspector(t, () => [topic], () => [address])
  const broker = await startZkBroker(t, [topic])
  address = broker.address
  const registry = `zk://${zkHosts()}`
  const consumer = runHarness(['consume', '-registry', registry, '-group', consumerGroup, '-topic', topic, '-type', 'pay',
    '-watermark', '2000', '-persistent=false', '-expect', '30', '-timeout', '60s'])
  t.teardown(() => {
    consumer.child.kill('SIGKILL')
  })
  await consumer.waitFor('ready')
  t.is((await zk.data(zkPaths.bind(topic, consumerGroup)))?.toString(),
    `[{"groupId":"${consumerGroup}","topic":"${topic}","messageType":"pay","bindType":0,"version":"1.0.0","watermark":2000,"persistent":false}]`)
  await eventually(() => routes(broker.server, topic, 'pay', consumerGroup), 2000, 'the Go consumer\'s binding on our broker')
  t.deepEqual(broker.registry.bindingsFor(topic), [bindDirect(consumerGroup, topic, 'pay', 2000, false)])

  const producer = runHarness(['produce', '-registry', registry, '-group', producerGroup, '-topic', topic, '-type', 'pay', '-n', '30', '-kind', 'mixed'])
  t.is(await producer.exit, 0, producer.stderr())
  t.is(producer.events.at(-1)?.sent, 30)
  t.is(await consumer.exit, 0, consumer.stderr())
  const consumed = consumer.events.at(-1)!
  t.is(consumed.received, 30)
  t.is(consumed.corrupt, 0)
  t.not(await zk.exists(`/kiteq/pub/${topic}/${producerGroup}/${hostname()}`), null, 'the Go producer announced itself')
})
