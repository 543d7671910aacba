import test from 'ava'
import {
  BytesMessageCodec, Cmd, ErrorCodes, StringMessageCodec, TxACKPacketCodec, type Header,
} from '../../protocol/index.ts'
import { KiteQClient, type SentMessage } from '../../client/index.ts'
import { FakeBroker, gate, randomName, testClientOptions, type Recorded } from './fake-broker.ts'

const code = (err: unknown) => (err as { code?: string }).code

async function setup(t: { teardown(fn: () => unknown): void }, brokerCount = 1, overrides = {}, hooks = {}) {
  const brokers = await Promise.all(Array.from({ length: brokerCount }, () => FakeBroker.start(hooks)))
  for (const b of brokers) t.teardown(() => b.stop())
  const client = new KiteQClient(testClientOptions(brokers, overrides))
  t.teardown(() => client.close())
  const topic = randomName('topic')
  client.setTopics([topic])
  await client.start()
  return { brokers, broker: brokers[0], client, topic }
}

const headerOf = (f: Recorded): Header =>
  (f.cmdType === Cmd.STRING_MESSAGE ? StringMessageCodec : BytesMessageCodec).decode(f.body).header

test('publish: header as KiteQ needs it (our groupId, createTime now, every required field), store-ack feedback returned', async (t) => {
  const { broker, client, topic } = await setup(t)
  const before = Math.floor(Date.now() / 1000)
  const result = await client.sendStringMessage({ topic, messageType: 'pay-succ', body: 'hello', properties: { orderId: '42' } })
  const after = Math.floor(Date.now() / 1000)
  t.regex(result.messageId, /^[0-9a-f]{32}$/)
  t.is(result.feedback, 'Store Result true Cost:0')
  const frame = await broker.waitForCmd(Cmd.STRING_MESSAGE)
  const { header, body } = StringMessageCodec.decode(frame.body) // would throw if a required field were missing
  t.is(body, 'hello')
  t.like(header, {
    messageId: result.messageId, topic, messageType: 'pay-succ', expiredTime: -1, deliverLimit: 100,
    groupId: client.groupId, commit: true, fly: false,
  })
  t.deepEqual(header.properties, [{ key: 'orderId', value: '42' }])
  t.true(header.createTime! >= before && header.createTime! <= after)
  t.is(header.snappy, undefined)
  t.is(header.deliverAt, undefined)
})

test('publish: deliverAt from a Date, from epoch ms and from delayMs reaches Header field 12', async (t) => {
  const { broker, client, topic } = await setup(t)
  const m = { topic, messageType: 'later' }
  await client.sendStringMessage({ ...m, body: 'date', deliverAt: new Date(1_900_000_000_123) })
  await client.sendBytesMessage({ ...m, body: new Uint8Array([1, 2, 3]), deliverAt: 1_900_000_000_456 })
  const before = Date.now()
  await client.sendStringMessage({ ...m, body: 'delay', delayMs: 60_000 })
  const after = Date.now()
  const strings = broker.framesOf(Cmd.STRING_MESSAGE).map((f) => StringMessageCodec.decode(f.body))
  t.deepEqual(strings.map((s) => s.body), ['date', 'delay'])
  t.is(strings[0].header.deliverAt, 1_900_000_000_123)
  t.true(strings[1].header.deliverAt! >= before + 60_000 && strings[1].header.deliverAt! <= after + 60_000)
  const bytes = BytesMessageCodec.decode(broker.framesOf(Cmd.BYTES_MESSAGE)[0].body)
  t.is(bytes.header.deliverAt, 1_900_000_000_456)
  t.deepEqual([...bytes.body], [1, 2, 3])
  const both = await t.throwsAsync(client.sendStringMessage({ ...m, body: 'x', deliverAt: 1, delayMs: 1 }))
  t.is(code(both), ErrorCodes.INVALID_ARGUMENT)
})

test('publish: snappy bodies on the wire are golang/snappy blocks (string: base64 of the block)', async (t) => {
  const { broker, client, topic } = await setup(t)
  await client.sendStringMessage({ topic, messageType: 'z', body: 'hello', snappy: true })
  await client.sendBytesMessage({ topic, messageType: 'z', body: Buffer.alloc(100, 'a'), snappy: true })
  const str = StringMessageCodec.decode((await broker.waitForCmd(Cmd.STRING_MESSAGE)).body)
  t.true(str.header.snappy)
  t.is(str.body, 'BRBoZWxsbw==')
  const bytes = BytesMessageCodec.decode((await broker.waitForCmd(Cmd.BYTES_MESSAGE)).body)
  t.true(bytes.header.snappy)
  t.is(bytes.body.toString('hex'), '640061fe01008a0100')
})

test('publish: a store-ack with status=false is REJECTED with the broker\'s feedback; retriable only for an overflow or a failed store', async (t) => {
  const { client, topic } = await setup(t, 1, {}, {
    store: (h: Header) => ({ messageId: h.messageId, status: false, feedback: h.messageType }),
  })
  const refusal = async (feedback: string) => {
    const err = await t.throwsAsync(client.sendStringMessage({ topic, messageType: feedback, body: 'x' }))
    t.is(code(err), ErrorCodes.REJECTED)
    t.is(err?.message, feedback)
    return (err as { retriable?: boolean }).retriable
  }
  t.false(await refusal('UnSupport Topic Message!'))
  t.false(await refusal('Expired Message! expiredTime 1 is in the past'))
  t.true(await refusal('Store Result KiteQ OverFlow [127.0.0.1:13800]'))
  t.true(await refusal('Store Result KiteQ OverFlow [broker stopping]'))
  t.true(await refusal('Store Result false Cost:3'))
})

test('publish: no store-ack within publishTimeoutMs is TIMEOUT', async (t) => {
  const { client, topic } = await setup(t, 1, { publishTimeoutMs: 100 }, { store: () => null })
  const started = Date.now()
  const err = await t.throwsAsync(client.sendBytesMessage({ topic, messageType: 'm', body: Buffer.from('x') }))
  t.is(code(err), ErrorCodes.TIMEOUT)
  t.true(Date.now() - started >= 90)
})

test('no ready broker: a send before start() is a usage error; start() fails with NO_BROKER once startTimeoutMs passes', async (t) => {
  const gone = await FakeBroker.start()
  await gone.stop() // nobody listens on its port now
  const client = new KiteQClient(testClientOptions([gone], { startTimeoutMs: 200 }))
  const early = await t.throwsAsync(client.sendStringMessage({ topic: 't', messageType: 'm', body: 'x' }))
  t.is(code(early), ErrorCodes.INVALID_ARGUMENT)
  t.regex(early!.message, /start\(\) has not been called/)
  t.false((early as { retriable?: boolean }).retriable)
  client.setTopics(['t'])
  const err = await t.throwsAsync(client.start())
  t.is(code(err), ErrorCodes.NO_BROKER)
  t.true((err as { retriable?: boolean }).retriable)
})

test('close(): a publish waiting for its store-ack gets it before connections close; sends after close() fail', async (t) => {
  const held = gate()
  const { broker, client, topic } = await setup(t, 1, {}, {
    store: (h: Header) => held.promise.then(() => ({ messageId: h.messageId, status: true, feedback: 'Store Result true Cost:0' })),
  })
  const pending = client.sendStringMessage({ topic, messageType: 'm', body: 'x' })
  await broker.waitForCmd(Cmd.STRING_MESSAGE)
  let closed = false
  const closing = client.close().then(() => (closed = true))
  t.is(client.close(), client.close(), 'every close() waits for the same closing')
  t.is(code(await t.throwsAsync(client.sendStringMessage({ topic, messageType: 'm', body: 'x' }))), ErrorCodes.CONNECTION_CLOSED)
  await new Promise((r) => setImmediate(r))
  t.false(closed, 'close() waits for the store-ack')
  held.open()
  t.regex((await pending).feedback, /Store Result true/)
  await closing
})

test('close(): a publish still unanswered after publishTimeoutMs fails as the connection closes', async (t) => {
  const { broker, client, topic } = await setup(t, 1, { publishTimeoutMs: 1000 }, { store: () => null })
  const pending = client.sendStringMessage({ topic, messageType: 'm', body: 'x' })
  await broker.waitForCmd(Cmd.STRING_MESSAGE)
  const started = Date.now()
  await client.close()
  const err = await t.throwsAsync(pending)
  t.true([ErrorCodes.CONNECTION_CLOSED, ErrorCodes.TIMEOUT].includes(code(err) as never), code(err))
  t.true(Date.now() - started >= 900, 'close() waited publishTimeoutMs')
})

test('publish: brokers are picked at random among the ready ones', async (t) => {
  const { brokers, client, topic } = await setup(t, 2)
  await Promise.all(Array.from({ length: 40 }, () => client.sendStringMessage({ topic, messageType: 'm', body: 'x' })))
  const counts = brokers.map((b) => b.framesOf(Cmd.STRING_MESSAGE).length)
  t.is(counts[0] + counts[1], 40)
  t.true(counts[0] > 0 && counts[1] > 0, `${counts}`) // all 40 on one broker: p = 2^-39
})

/** The broker and frame that stored message `id`, and the TX_ACK that followed on the same connection. */
async function storedAndAcked(brokers: FakeBroker[], id: string) {
  const holder = brokers.find((b) => b.frames.some((f) => (f.cmdType === Cmd.STRING_MESSAGE || f.cmdType === Cmd.BYTES_MESSAGE) && headerOf(f).messageId === id))!
  const stored = holder.frames.find((f) => (f.cmdType === Cmd.STRING_MESSAGE || f.cmdType === Cmd.BYTES_MESSAGE) && headerOf(f).messageId === id)!
  const txAck = await holder.waitForFrame((f) => f.cmdType === Cmd.TX_ACK && TxACKPacketCodec.decode(f.body).header.messageId === id)
  const elsewhere = brokers.filter((b) => b !== holder).flatMap((b) => b.framesOf(Cmd.TX_ACK))
  return { stored, storedHeader: headerOf(stored), txAck, packet: TxACKPacketCodec.decode(txAck.body), elsewhere }
}

test('tx commit: stored uncommitted, doTransaction runs after the store-ack, TX_ACK status 1 with opaque 0 on the storing connection', async (t) => {
  let storeGate = gate()
  const { brokers, client, topic } = await setup(t, 2, {}, {
    store: async (h: Header) => {
      await storeGate.promise
      return { messageId: h.messageId, status: true, feedback: 'Store Result true Cost:1' }
    },
  })
  for (let i = 0; i < 6; i++) {
    storeGate = gate()
    let seen: SentMessage | undefined
    const messageId = client.messageId()
    const sending = client.sendTxStringMessage({ topic, messageType: 'tx', body: `order ${i}`, messageId, commit: true }, (msg) => {
      seen = msg
      return true
    })
    await FakeBroker.waitForAny(brokers, (f) => f.cmdType === Cmd.STRING_MESSAGE && headerOf(f).messageId === messageId)
    t.is(seen, undefined, 'doTransaction waits for the store-ack')
    storeGate.open()
    const result = await sending
    t.deepEqual(result, { messageId, feedback: 'Store Result true Cost:1', committed: true })
    t.is(seen!.header.commit, false)
    t.is(seen!.body, `order ${i}`)
    const { stored, storedHeader, txAck, packet, elsewhere } = await storedAndAcked(brokers, messageId)
    t.false(storedHeader.commit)
    t.is(txAck.opaque, 0)
    t.is(txAck.connection, stored.connection)
    t.is(elsewhere.filter((f) => TxACKPacketCodec.decode(f.body).header.messageId === messageId).length, 0)
    t.deepEqual(packet, { header: storedHeader, status: 1, feedback: '' })
  }
})

test('tx rollback: doTransaction false ⇒ TX_ACK status 2, committed=false', async (t) => {
  const { brokers, client, topic } = await setup(t)
  const result = await client.sendTxBytesMessage({ topic, messageType: 'tx', body: Buffer.from('b') }, async (msg) => {
    msg.header.messageType = 'scribbled' // the TX_ACK still carries the header as sent
    return false
  })
  t.false(result.committed)
  const { txAck, packet, storedHeader } = await storedAndAcked(brokers, result.messageId)
  t.is(txAck.opaque, 0)
  t.deepEqual(packet, { header: storedHeader, status: 2, feedback: '' })
})

test('tx throw: the rollback goes out with the error text, then the same error is thrown', async (t) => {
  const { brokers, client, topic } = await setup(t)
  const boom = new Error('local transaction failed')
  let id = ''
  const err = await t.throwsAsync(client.sendTxStringMessage({ topic, messageType: 'tx', body: 'x' }, (msg) => {
    id = msg.messageId
    throw boom
  }))
  t.is(err, boom)
  const { txAck, packet } = await storedAndAcked(brokers, id)
  t.is(txAck.opaque, 0)
  t.is(packet.status, 2)
  t.is(packet.feedback, 'local transaction failed')
})

test('tx: a refused store never runs doTransaction and sends no TX_ACK', async (t) => {
  const { broker, client, topic } = await setup(t, 1, {}, {
    store: (h: Header) => ({ messageId: h.messageId, status: false, feedback: 'Expired Message!' }),
  })
  let ran = false
  const err = await t.throwsAsync(client.sendTxStringMessage({ topic, messageType: 'tx', body: 'x' }, () => (ran = true)))
  t.is(code(err), ErrorCodes.REJECTED)
  t.false(ran)
  // one more (plain) exchange on the same connection: anything sent before it has arrived by now
  await t.throwsAsync(client.sendStringMessage({ topic, messageType: 'm', body: 'y' }))
  t.is(broker.framesOf(Cmd.TX_ACK).length, 0)
})
