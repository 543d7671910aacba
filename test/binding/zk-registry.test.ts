// ZkRegistry (the broker side of KiteQ's ZooKeeper registry) against the real ZooKeeper of
// scripts/services.sh (KITEQ_TEST_ZK). Without it these tests fail: CI must never pass without the
// service. KiteQ's layout is fixed at /kiteq, so every test uses its own random topics, groups and
// broker addresses.
import test, { type ExecutionContext } from 'ava'
import { connect as connectTcp, createServer, type AddressInfo, type Socket } from 'node:net'
import type { Stat } from 'node-zookeeper-client'
import { bindDirect, bindingsToJson, type Binding } from '../../binding/binding.ts'
import { ZkRegistry } from '../../binding/zk-registry.ts'
import { groupOfBindNode, zkConnectString, zkPaths, zkUriOptions } from '../../binding/zk/paths.ts'
import { ZkSession } from '../../binding/zk/zk-session.ts'
import { ErrorCodes } from '../../protocol/errors.ts'
import { randomName } from '../helpers/broker.ts'
import { eventually } from '../helpers/clients.ts'

const SESSION_TIMEOUT_MS = 3000

function zkHosts(): string {
  const hosts = process.env.KITEQ_TEST_ZK
  if (hosts === undefined || hosts === '') {
    throw new Error('KITEQ_TEST_ZK is not set: run `bash scripts/services.sh start` and pass the lines of .services/env')
  }
  return hosts
}

/**
 * A plain session to look at (and meddle with) the tree the registry writes. At the end it removes
 * the persistent nodes of the topics and broker addresses the test lists in `leftovers`.
 */
async function inspector(t: ExecutionContext, leftovers: { topics: string[]; addresses: string[] }): Promise<ZkSession> {
  const session = new ZkSession({ connectString: zkHosts(), sessionTimeoutMs: 10_000 })
  t.teardown(async () => {
    await session.waitConnected(15_000).catch(() => {})
    for (const topic of leftovers.topics) {
      for (const path of [zkPaths.serverTopic(topic), zkPaths.pubTopic(topic), zkPaths.subTopic(topic)]) await removeTree(session, path).catch(() => {})
    }
    for (const address of leftovers.addresses) await session.remove(zkPaths.all(address)).catch(() => {})
    await session.close()
  })
  session.open()
  await session.waitConnected(15_000)
  return session
}

async function removeTree(zk: ZkSession, path: string): Promise<void> {
  for (const child of (await zk.children(path)) ?? []) await removeTree(zk, `${path}/${child}`)
  await zk.remove(path)
}

const testAddress = () => `${randomName('zk-test')}:13800`

function startedRegistry(t: ExecutionContext, topics: string[], address: string) {
  const registry = new ZkRegistry(zkHosts(), { sessionTimeoutMs: SESSION_TIMEOUT_MS })
  t.teardown(() => registry.close())
  return { registry, address, started: registry.start({ address, topics }) }
}

const NO_OWNER = Buffer.alloc(8)
const codeOf = (err: unknown) => (err as { code?: string } | undefined)?.code
const ownerOf = (stat: Stat | null) => stat?.ephemeralOwner.toString('hex')

async function changes(registry: ZkRegistry, n: number, timeoutMs: number): Promise<void> {
  let seen = 0
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${seen} of ${n} 'change' events within ${timeoutMs} ms`)), timeoutMs)
    registry.on('change', () => {
      if (++seen === n) {
        clearTimeout(timer)
        resolve()
      }
    })
  })
}

/**
 * The standard trick: attach a second client to the session and close it, so that ZooKeeper ends
 * the session and its owner learns on reconnection that it expired. The owner redials within a
 * millisecond and could take the session back before a separate close arrives, so the connect
 * request and the close go out in one write, in ZooKeeper's wire format. Repeated (rarely needed)
 * until the owner reports a new session; returns the attempts it took.
 */
async function forceExpiry(owner: { readonly session: { id: Buffer; password: Buffer } | undefined }): Promise<number> {
  const { id, password } = owner.session!
  const [host, port] = zkHosts().split(',')[0].split(':')
  const connect = Buffer.alloc(4 + 4 + 8 + 4 + 8 + 4 + 16)
  connect.writeInt32BE(connect.length - 4, 0)
  connect.writeInt32BE(0, 4) // protocolVersion
  connect.writeBigInt64BE(0n, 8) // lastZxidSeen
  connect.writeInt32BE(SESSION_TIMEOUT_MS, 16)
  id.copy(connect, 20)
  connect.writeInt32BE(16, 28)
  password.copy(connect, 32)
  const closeSession = Buffer.alloc(12)
  closeSession.writeInt32BE(8, 0)
  closeSession.writeInt32BE(1, 4) // xid
  closeSession.writeInt32BE(-11, 8) // OpCode.closeSession
  for (let attempt = 1; attempt <= 5; attempt++) {
    await new Promise<void>((resolve, reject) => {
      const socket = connectTcp(Number(port), host, () => socket.end(Buffer.concat([connect, closeSession])))
      socket.on('error', reject)
      socket.on('close', () => resolve())
      socket.resume()
    })
    const renewed = await eventually(() => owner.session !== undefined && !owner.session.id.equals(id), 5000).then(() => true, () => false)
    if (renewed) return attempt
  }
  throw new Error('the session could not be made to expire in 5 attempts')
}

// ------------------------------------------------------------------------------ no ZooKeeper needed

test('host lists and zk:// URIs: KiteQ spellings accepted, anything else is a CONFIG error', (t) => {
  t.is(zkConnectString('zk://127.0.0.1:2181,10.0.0.2:2182'), '127.0.0.1:2181,10.0.0.2:2182')
  t.is(zkConnectString(' h1:2181 , h2:2181 '), 'h1:2181,h2:2181')
  t.is(zkConnectString('zk://h1:2181?env=online'), 'h1:2181')
  t.deepEqual(zkUriOptions('zk://h1:2181?sessionTimeoutMs=3000'), { sessionTimeoutMs: 3000 })
  t.deepEqual(zkUriOptions('zk://h1:2181?env=x'), {})
  for (const bad of ['', 'zk://', 'h1', 'h1:0', 'h1:99999', 'zk://h1:2181,h2']) {
    t.is(codeOf(t.throws(() => zkConnectString(bad), undefined, bad)), ErrorCodes.CONFIG, bad)
  }
  t.is(codeOf(t.throws(() => zkUriOptions('zk://h:1?sessionTimeoutMs=soon'))), ErrorCodes.CONFIG)
  t.is(codeOf(t.throws(() => new ZkRegistry('nohost'))), ErrorCodes.CONFIG)
})

test('binding node names: the group id is the name without -bind; other nodes are not bindings', (t) => {
  t.is(groupOfBindNode('s-mts-test-bind'), 's-mts-test')
  t.is(groupOfBindNode('s-mts-test'), undefined)
  t.is(groupOfBindNode('-bind'), undefined)
  t.is(zkPaths.bind('trade', 's-mts-test'), '/kiteq/sub/trade/s-mts-test-bind')
  t.is(zkPaths.server('trade', '10.0.0.1:13800'), '/kiteq/server/trade/10.0.0.1:13800')
  t.is(zkPaths.pub('trade', 'p', 'host-1'), '/kiteq/pub/trade/p/host-1')
})

test('start() fails with REGISTRY when ZooKeeper cannot be reached, and leaves nothing running', async (t) => {
  const registry = new ZkRegistry('127.0.0.1:1', { startTimeoutMs: 300 })
  const err = await t.throwsAsync(registry.start({ address: '127.0.0.1:13800', topics: ['t'] }))
  t.is(codeOf(err), ErrorCodes.REGISTRY)
  t.deepEqual(registry.bindingsFor('t'), [])
})

test('closing a session that never got connected cuts it off: no goodbye, nothing read afterwards', async (t) => {
  // A server that accepts but has not greeted yet: the client is still connecting when it is closed.
  // node-zookeeper-client's own close() would queue a goodbye on that socket and then take the
  // greeting for its answer, throwing from its socket handler (a crash, seen in practice).
  const sockets: Socket[] = []
  const server = createServer((socket) => sockets.push(socket))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => server.close())
  const session = new ZkSession({ connectString: `127.0.0.1:${(server.address() as AddressInfo).port}`, sessionTimeoutMs: 4000 })
  session.open()
  await eventually(() => sockets.length === 1, 5000, 'the client connects')
  const received: Buffer[] = []
  sockets[0].on('data', (d) => received.push(d))
  const clientGone = new Promise((resolve) => sockets[0].on('close', resolve))
  await session.close()
  const greeting = Buffer.alloc(40)
  greeting.writeInt32BE(36, 0) // length; protocolVersion 0 reads as xid 0, the id of a first request
  greeting.writeInt32BE(4000, 8)
  greeting.writeInt32BE(-0x0912fffd, 16) // the session id's low half reads as an error code
  greeting.writeInt32BE(16, 20)
  sockets[0].write(greeting)
  await clientGone
  t.is(sockets.length, 1, 'no redial')
  const sent = Buffer.concat(received)
  t.is(sent.readInt32BE(0), 44, 'the connect request')
  t.is(sent.length, 48, 'and nothing after it (no goodbye)')
})

// ----------------------------------------------------------------------------- against ZooKeeper

test.serial('start() registers KiteQ\'s znodes (ephemeral where KiteQ makes them so); close() withdraws them', async (t) => {
  const topics = [randomName('trade'), randomName('feed')]
  const address = testAddress()
  const zk = await inspector(t, { topics, addresses: [address] })
  const { registry, started } = startedRegistry(t, topics, address)
  await started
  const session = registry.session!.id
  for (const topic of topics) {
    t.is(ownerOf(await zk.exists(zkPaths.server(topic, address))), session.toString('hex'), `server node of ${topic}`)
    for (const parent of [zkPaths.serverTopic(topic), zkPaths.pubTopic(topic), zkPaths.subTopic(topic)]) {
      t.deepEqual((await zk.exists(parent))?.ephemeralOwner, NO_OWNER, `${parent} is persistent`)
    }
  }
  t.is(ownerOf(await zk.exists(zkPaths.alive(address))), session.toString('hex'))
  t.deepEqual((await zk.exists(zkPaths.all(address)))?.ephemeralOwner, NO_OWNER)

  await registry.close()
  for (const topic of topics) t.is(await zk.exists(zkPaths.server(topic, address)), null)
  t.is(await zk.exists(zkPaths.alive(address)), null)
  t.not(await zk.exists(zkPaths.all(address)), null, 'all_servers keeps every broker ever seen')
})

test.serial('binding nodes are read at start and followed: created, changed, deleted, bad JSON', async (t) => {
  const topic = randomName('trade')
  const address = testAddress()
  const zk = await inspector(t, { topics: [topic], addresses: [address] })
  const [a, b] = [randomName('a'), randomName('b')]
  await zk.putPersistent(zkPaths.bind(topic, a), Buffer.from(bindingsToJson([bindDirect(a, topic, 'pay')])))
  await zk.putPersistent(`${zkPaths.subTopic(topic)}/not-a-binding`, Buffer.from('x'))
  const { registry, started } = startedRegistry(t, [topic], address)
  await started
  t.deepEqual(registry.bindingsFor(topic), [bindDirect(a, topic, 'pay')])

  const within = async (what: string, change: () => Promise<void>, expected: Binding[]) => {
    const changed = changes(registry, 1, 1000)
    const t0 = Date.now()
    await change()
    await changed
    t.deepEqual(sorted(registry.bindingsFor(topic)), sorted(expected), what)
    t.log(`${what}: ${Date.now() - t0} ms`)
  }
  // the group and topic come from the path, as KiteQ's OnBindChanged(topic, groupId) has them
  await within('a group appears', () => zk.putPersistent(zkPaths.bind(topic, b), Buffer.from(bindingsToJson([bindDirect('other', 'other', 'x')]))),
    [bindDirect(a, topic, 'pay'), bindDirect(b, topic, 'x')])
  await within('a group changes', () => zk.putPersistent(zkPaths.bind(topic, a), Buffer.from(bindingsToJson([bindDirect(a, topic, 'refund', 50, false)]))),
    [bindDirect(a, topic, 'refund', 50, false), bindDirect(b, topic, 'x')])
  await within('a group goes', () => zk.remove(zkPaths.bind(topic, b)), [bindDirect(a, topic, 'refund', 50, false)])

  // unreadable JSON keeps what the group had; the next good write applies
  await zk.putPersistent(zkPaths.bind(topic, a), Buffer.from('{not json'))
  await within('after bad JSON, good JSON', () => zk.putPersistent(zkPaths.bind(topic, a), Buffer.from(bindingsToJson([bindDirect(a, topic, 'pay')]))),
    [bindDirect(a, topic, 'pay')])
  t.deepEqual(registry.bindingsFor(randomName('unserved')), [])
})

test.serial('updateTopics (the /reload case) announces new topics, withdraws dropped ones and follows their bindings', async (t) => {
  const [t1, t2] = [randomName('t1'), randomName('t2')]
  const address = testAddress()
  const zk = await inspector(t, { topics: [t1, t2], addresses: [address] })
  const group = randomName('g')
  await zk.putPersistent(zkPaths.bind(t2, group), Buffer.from(bindingsToJson([bindDirect(group, t2, 'm')])))
  const { registry, started } = startedRegistry(t, [t1], address)
  await started
  t.not(await zk.exists(zkPaths.server(t1, address)), null)
  await registry.updateTopics([t2])
  t.is(await zk.exists(zkPaths.server(t1, address)), null)
  t.is(ownerOf(await zk.exists(zkPaths.server(t2, address))), registry.session!.id.toString('hex'))
  t.deepEqual(registry.bindingsFor(t2), [bindDirect(group, t2, 'm')])
  t.deepEqual(registry.bindingsFor(t1), [])
  await registry.close()
})

test.serial('a registration left by an earlier session (NODE_EXISTS) is replaced, never lost', async (t) => {
  const topic = randomName('trade')
  const address = testAddress()
  const zk = await inspector(t, { topics: [topic], addresses: [address] })
  // what a crashed predecessor leaves: ephemeral nodes of a session ZooKeeper has not expired yet
  const predecessor = new ZkSession({ connectString: zkHosts(), sessionTimeoutMs: 10_000 })
  t.teardown(() => predecessor.close())
  predecessor.open()
  await predecessor.waitConnected(15_000)
  await predecessor.putEphemeral(zkPaths.server(topic, address))
  await predecessor.putEphemeral(zkPaths.alive(address))
  const old = predecessor.credentials!.id.toString('hex')
  t.is(ownerOf(await zk.exists(zkPaths.server(topic, address))), old)

  const { registry, started } = startedRegistry(t, [topic], address)
  await started
  const mine = registry.session!.id.toString('hex')
  t.not(mine, old)
  t.is(ownerOf(await zk.exists(zkPaths.server(topic, address))), mine)
  t.is(ownerOf(await zk.exists(zkPaths.alive(address))), mine)
  // the predecessor's session ending no longer takes our nodes with it
  await predecessor.close()
  t.is(ownerOf(await zk.exists(zkPaths.server(topic, address))), mine)
  await registry.close()
})

test.serial('a forced session expiry: a new session registers the broker again and follows bindings again', async (t) => {
  const topic = randomName('trade')
  const group = randomName('g')
  const address = testAddress()
  const zk = await inspector(t, { topics: [topic], addresses: [address] })
  const { registry, started } = startedRegistry(t, [topic], address)
  await started
  const before = registry.session!
  const t0 = Date.now()
  t.log(`expired after ${await forceExpiry(registry)} attempt(s)`)
  const ownedByNewSession = async (path: string) => {
    const owner = ownerOf(await zk.exists(path).catch(() => null))
    return owner !== undefined && owner !== before.id.toString('hex') && owner === registry.session?.id.toString('hex')
  }
  await eventually(async () => (await ownedByNewSession(zkPaths.server(topic, address))) && ownedByNewSession(zkPaths.alive(address)),
    15_000, 'server and alive nodes owned by the new session')
  t.log(`expired and registered again within ${Date.now() - t0} ms`)
  // watches are the new session's too
  const changed = changes(registry, 1, 1000)
  await zk.putPersistent(zkPaths.bind(topic, group), Buffer.from(bindingsToJson([bindDirect(group, topic, 'm')])))
  await changed
  t.deepEqual(registry.bindingsFor(topic), [bindDirect(group, topic, 'm')])
  await registry.close()
})

function sorted(bindings: Binding[]): Binding[] {
  return [...bindings].sort((x, y) => x.groupId.localeCompare(y.groupId))
}
