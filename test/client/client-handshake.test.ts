import test from 'ava'
import { once } from 'node:events'
import { bindDirect, bindFanout, bindRegx, bindingsToJson } from '../../binding/index.ts'
import { BindRequestCodec, Cmd, ConnMetaCodec, ErrorCodes, silentLogger, type Logger } from '../../protocol/index.ts'
import { KiteQClient } from '../../client/index.ts'
import { BrokerPool } from '../../client/broker-pool.ts'
import { handshake } from '../../client/handshake.ts'
import { FakeBroker, randomName, testClientOptions } from './fake-broker.ts'

const code = (err: unknown) => (err as { code?: string }).code

test('handshake bytes: CONN_META exactly as kiteq-client-go writes it, warmingupSec=0 included', async (t) => {
  const broker = await FakeBroker.start()
  t.teardown(() => broker.stop())
  const client = new KiteQClient({ ...testClientOptions([broker]), groupId: 's-mts-test', secretKey: '123456' })
  t.teardown(() => client.close())
  await client.start()
  // kiteq-spec §1.5 (there with opaque 2; a fresh connection's first request is opaque 1 here)
  const expected = '00000001 02 0000 0000000000000000 00000016 0a0a732d6d74732d74657374 1206313233343536 1800'.replace(/ /g, '')
  t.is(Buffer.concat(broker.raw[0]).subarray(0, expected.length / 2).toString('hex'), expected)
})

test('handshake: secretKey and warmingupSec are sent as given', async (t) => {
  const broker = await FakeBroker.start()
  t.teardown(() => broker.stop())
  const client = new KiteQClient({ ...testClientOptions([broker]), secretKey: 'k', warmingupSec: 30 })
  t.teardown(() => client.close())
  await client.start()
  const meta = ConnMetaCodec.decode((await broker.waitForCmd(Cmd.CONN_META)).body)
  t.deepEqual({ ...meta }, { groupId: client.groupId, secretKey: 'k', warmingupSec: 30 })
})

test('auth refusal: start() rejects with AUTH and the feedback at once, and the broker is not dialled again', async (t) => {
  const broker = await FakeBroker.start({ auth: () => ({ status: false, feedback: 'who are you?' }) })
  t.teardown(() => broker.stop())
  const client = new KiteQClient(testClientOptions([broker], { startTimeoutMs: 5000 }))
  const started = Date.now()
  const err = await t.throwsAsync(client.start())
  t.is(code(err), ErrorCodes.AUTH)
  t.is(err?.message, 'who are you?')
  t.true(Date.now() - started < 2000, 'rejected on the refusal, not on the start timeout')
  t.is(broker.framesOf(Cmd.CONN_META).length, 1)
  // a failed start() closes the client: sends fail, no timers keep the process alive
  t.is(code(await t.throwsAsync(client.sendStringMessage({ topic: 't', messageType: 'm', body: '' }))), ErrorCodes.CONNECTION_CLOSED)
})

test('broker pool: an auth refusal stops redialling that broker for good', async (t) => {
  const broker = await FakeBroker.start({ auth: () => ({ status: false, feedback: 'no' }) })
  t.teardown(() => broker.stop())
  const pool = new BrokerPool({
    handshake: (c) => handshake(c, { groupId: 'g', secretKey: '', warmingupSec: 0, bindingsJson: undefined, timeoutMs: 1000, logger: silentLogger }),
    onFrame: () => {},
    connection: { heartbeat: false, reconnect: { initialDelayMs: 2, maxDelayMs: 4, jitter: 0 } },
    logger: silentLogger,
  })
  t.teardown(() => pool.close())
  pool.add(broker.address)
  const [address, error] = await once(pool, 'refused')
  t.is(address, broker.address)
  t.is(code(error), ErrorCodes.AUTH)
  t.deepEqual(pool.addresses, [])
  pool.add(broker.address) // remembered: not dialled again
  // Redials would come every 2–4 ms; in 150 ms there would be dozens. Absence needs some time to pass.
  await new Promise((r) => setTimeout(r, 150))
  t.is(broker.accepted, 1)
  t.is(broker.framesOf(Cmd.CONN_META).length, 1)
})

test('BIND: after the handshake, with the bindings as KiteQ JSON and our groupId, and again after a reconnect', async (t) => {
  const broker = await FakeBroker.start()
  t.teardown(() => broker.stop())
  const groupId = randomName('consumer')
  const client = new KiteQClient(testClientOptions([broker], { groupId }))
  t.teardown(() => client.close())
  client.setBindings([
    bindDirect('someone-else', 'trade', 'pay-succ', 1000, true),
    bindRegx('ignored', 'trade', 'pay-.*', 50, false),
    bindFanout('ignored', 'feed'),
  ])
  client.setListener({ onMessage: () => true })
  await client.start()
  const first = await broker.waitForCmd(Cmd.BIND)
  const order = broker.frames.map((f) => f.cmdType)
  t.deepEqual(order.slice(0, 2), [Cmd.CONN_META, Cmd.BIND])
  const json = BindRequestCodec.decode(first.body).bindings
  t.is(json, [
    `[{"groupId":"${groupId}","topic":"trade","messageType":"pay-succ","bindType":0,"version":"1.0.0","watermark":1000,"persistent":true}`,
    `{"groupId":"${groupId}","topic":"trade","messageType":"pay-.*","bindType":1,"version":"1.0.0","watermark":50,"persistent":false}`,
    `{"groupId":"${groupId}","topic":"feed","messageType":"*","bindType":2,"version":"1.0.0","watermark":1000,"persistent":true}]`,
  ].join(','))
  t.is(json, bindingsToJson([bindDirect(groupId, 'trade', 'pay-succ'), bindRegx(groupId, 'trade', 'pay-.*', 50, false), bindFanout(groupId, 'feed')]))

  const down = once(client, 'broker-down')
  const up = once(client, 'broker-up')
  broker.kick()
  await down
  await up
  const second = await broker.waitForCmd(Cmd.BIND, 1)
  t.is(second.connectionIndex, 1)
  t.is(BindRequestCodec.decode(second.body).bindings, json)
  t.is(broker.framesOf(Cmd.CONN_META).length, 2)
})

test('BIND refused or unanswered is logged, not fatal; no BIND at all without bindings', async (t) => {
  const warnings: string[] = []
  const logger: Logger = { ...silentLogger, warn: ((_: unknown, msg?: string) => warnings.push(String(msg))) as Logger['warn'], child: () => logger }
  const refusing = await FakeBroker.start({ bind: () => ({ status: false, feedback: 'no bindings here' }) })
  const silent = await FakeBroker.start({ bind: () => null }) // a KiteQ (Go) broker ignores BIND
  t.teardown(() => refusing.stop())
  t.teardown(() => silent.stop())
  const client = new KiteQClient(testClientOptions([refusing], { logger }))
  client.setBindings([bindDirect('x', 'trade', 'pay-succ')])
  await client.start()
  await client.close()
  t.true(warnings.includes('broker refused our bindings'))

  // Unanswered: tested on the handshake itself with a short timeout (the client uses KiteQ's 5 s).
  const pool = new BrokerPool({
    handshake: (c) => handshake(c, {
      groupId: 'g', secretKey: '', warmingupSec: 0, bindingsJson: '[]', timeoutMs: 100, logger,
    }),
    onFrame: () => {},
    connection: { heartbeat: false },
    logger: silentLogger,
  })
  t.teardown(() => pool.close())
  pool.add(silent.address)
  await once(pool, 'up')
  t.deepEqual(silent.frames.map((f) => f.cmdType), [Cmd.CONN_META, Cmd.BIND])
  t.true(warnings.some((w) => w.startsWith('no answer to BIND')))

  const plain = await FakeBroker.start()
  t.teardown(() => plain.stop())
  const producer = new KiteQClient(testClientOptions([plain]))
  producer.setTopics(['trade'])
  await producer.start()
  await producer.close()
  t.is(plain.framesOf(Cmd.BIND).length, 0)
})

test('options are validated once, in the constructor', (t) => {
  const cases: Array<[unknown, string]> = [
    [{ brokers: ['127.0.0.1:1'] }, ErrorCodes.INVALID_ARGUMENT],
    [{ groupId: '', brokers: ['127.0.0.1:1'] }, ErrorCodes.INVALID_ARGUMENT],
    [{ groupId: 'g' }, ErrorCodes.CONFIG],
    [{ groupId: 'g', brokers: ['127.0.0.1:1'], registry: 'file:///x.yaml' }, ErrorCodes.CONFIG],
    [{ groupId: 'g', brokers: [] }, ErrorCodes.CONFIG],
    [{ groupId: 'g', brokers: ['localhost'] }, ErrorCodes.CONFIG],
    [{ groupId: 'g', brokers: ['localhost:70000'] }, ErrorCodes.CONFIG],
    [{ groupId: 'g', registry: 'zk://nohost' }, ErrorCodes.CONFIG],
    [{ groupId: 'g', registry: 'etcd://x' }, ErrorCodes.CONFIG],
    [{ groupId: 'g', brokers: ['127.0.0.1:1'], publishTimeoutMs: 0 }, ErrorCodes.INVALID_ARGUMENT],
    [{ groupId: 'g', brokers: ['127.0.0.1:1'], warmingupSec: -1 }, ErrorCodes.INVALID_ARGUMENT],
  ]
  for (const [options, expected] of cases) {
    const err = t.throws(() => new KiteQClient(options as never), undefined, JSON.stringify(options))
    t.is(code(err), expected, JSON.stringify(options))
  }
  t.notThrows(() => new KiteQClient({ groupId: 'g', registry: 'zk://127.0.0.1:2181,127.0.0.2:2181' }))
  t.notThrows(() => new KiteQClient({ groupId: 'g', brokers: ['[::1]:13800', 'localhost:13800'] }))
})

test('connection options reach the connections: heartbeats at the given interval', async (t) => {
  const broker = await FakeBroker.start()
  t.teardown(() => broker.stop())
  const client = new KiteQClient(testClientOptions([broker], {
    connection: { heartbeat: { intervalMs: 20, timeoutMs: 500, maxMisses: 3 }, reconnect: { initialDelayMs: 5 } },
  }))
  t.teardown(() => client.close())
  await client.start()
  await broker.waitForCmd(Cmd.HEARTBEAT, 2) // three heartbeats, each echoed by the fake broker
  t.is(broker.accepted, 1)
})
