import test from 'ava'
import { bindDirect } from '../../binding/index.ts'
import { Cmd, type Header } from '../../protocol/index.ts'
import { KiteQClient, type MessageListener, type ReceivedMessage, type TxCheck } from '../../client/index.ts'
import { FakeBroker, deliveryHeader, gate, randomName, testClientOptions } from './fake-broker.ts'

async function consumer(t: { teardown(fn: () => unknown): void }, listener?: MessageListener) {
  const broker = await FakeBroker.start()
  t.teardown(() => broker.stop())
  const client = new KiteQClient(testClientOptions([broker], { groupId: randomName('consumer') }))
  t.teardown(() => client.close())
  client.setBindings([bindDirect('', 'trade', 'pay-succ')])
  if (listener) client.setListener(listener)
  await client.start()
  return { broker, client, connection: await broker.authedConnection() }
}

test('delivery: the listener gets the message; DELIVER_ACK answers with the delivery\'s opaque and the publisher group', async (t) => {
  const received: ReceivedMessage[] = []
  const { broker, connection } = await consumer(t, { onMessage: (m) => (received.push(m), true) })
  connection.nextOpaque() // skip one, so the delivery's opaque matches none the client used itself
  const header = deliveryHeader({ groupId: 'the-publisher', properties: [{ key: 'k', value: 'v' }], deliverAt: 1_900_000_000_000 })
  const { opaque, replyOpaque, ack } = await broker.deliver(connection, Cmd.STRING_MESSAGE, header, 'hello')
  t.is(replyOpaque, opaque)
  t.deepEqual({ ...ack }, {
    messageId: header.messageId, topic: 'trade', messageType: 'pay-succ', groupId: 'the-publisher', status: true, feedback: '',
  })
  t.is(received.length, 1)
  t.like(received[0], {
    messageId: header.messageId, topic: 'trade', messageType: 'pay-succ', publisherGroup: 'the-publisher',
    body: 'hello', isString: true, properties: { k: 'v' }, deliverAt: 1_900_000_000_000,
  })
  t.deepEqual(received[0].header, header)

  const bytes = await broker.deliver(connection, Cmd.BYTES_MESSAGE, deliveryHeader(), Buffer.from([0, 1, 2]))
  t.true(bytes.ack.status)
  t.false(received[1].isString)
  t.deepEqual([...(received[1].body as Buffer)], [0, 1, 2])
})

test('delivery: listener false, throw, rejection ⇒ status=false with a reason; an async true waits for the promise', async (t) => {
  const release = gate()
  let released = false
  const { broker, connection } = await consumer(t, {
    onMessage: async (m) => {
      const body = m.body as string
      if (body === 'false') return false
      if (body === 'throw') throw new Error('handler blew up')
      if (body === 'reject') return Promise.reject(new Error('async failure'))
      if (body === 'not-a-boolean') return 'yes' as unknown as boolean
      await release.promise
      released = true
      return true
    },
  })
  const ack = async (body: string) => (await broker.deliver(connection, Cmd.STRING_MESSAGE, deliveryHeader(), body)).ack
  t.like(await ack('false'), { status: false, feedback: 'listener returned false' })
  t.like(await ack('throw'), { status: false, feedback: 'handler blew up' })
  t.like(await ack('reject'), { status: false, feedback: 'async failure' })
  t.like(await ack('not-a-boolean'), { status: false })
  const slow = ack('slow')
  release.open() // `released` is set just before the listener resolves: an early ack would find it false
  t.like(await slow, { status: true, feedback: '' })
  t.true(released)
})

test('delivery: a throwing synchronous listener and no listener at all are both status=false', async (t) => {
  const { broker, client, connection } = await consumer(t)
  t.like((await broker.deliver(connection, Cmd.STRING_MESSAGE, deliveryHeader(), 'x')).ack, { status: false, feedback: 'no listener' })
  client.setListener({
    onMessage: () => {
      throw new TypeError('sync throw')
    },
  })
  t.like((await broker.deliver(connection, Cmd.BYTES_MESSAGE, deliveryHeader(), Buffer.from('x'))).ack, { status: false, feedback: 'sync throw' })
})

test('delivery: messages are handled concurrently (a slow one does not hold up the next)', async (t) => {
  const second = gate()
  const { broker, connection } = await consumer(t, {
    onMessage: async (m) => {
      if (m.body === 'first') await second.promise // deadlocks (and times out) if handled one at a time
      else second.open()
      return true
    },
  })
  const [a, b] = await Promise.all([
    broker.deliver(connection, Cmd.STRING_MESSAGE, deliveryHeader(), 'first'),
    broker.deliver(connection, Cmd.STRING_MESSAGE, deliveryHeader(), 'second'),
  ])
  t.true(a.ack.status && b.ack.status)
})

test('delivery: snappy bodies (golang/snappy blocks) are decompressed; a bad snappy string is refused with the reason', async (t) => {
  const received: ReceivedMessage[] = []
  const { broker, connection } = await consumer(t, { onMessage: (m) => (received.push(m), true) })
  const snappy = { snappy: true }
  // golang/snappy output for "hello" (base64 of the block) and for 100 × 'a'
  t.true((await broker.deliver(connection, Cmd.STRING_MESSAGE, deliveryHeader(snappy), 'BRBoZWxsbw==')).ack.status)
  t.true((await broker.deliver(connection, Cmd.BYTES_MESSAGE, deliveryHeader(snappy), Buffer.from('640061fe01008a0100', 'hex'))).ack.status)
  t.is(received[0].body, 'hello')
  t.true((received[1].body as Buffer).equals(Buffer.alloc(100, 'a')))

  const bad = await broker.deliver(connection, Cmd.STRING_MESSAGE, deliveryHeader(snappy), '%%% not base64')
  t.false(bad.ack.status)
  t.regex(bad.ack.feedback ?? '', /snappy/)
  t.is(received.length, 2, 'the listener never saw the undecodable one')

  // kiteq-client-go passes a bytes body that does not decompress on as it came
  const raw = await broker.deliver(connection, Cmd.BYTES_MESSAGE, deliveryHeader(snappy), Buffer.from('plain'))
  t.true(raw.ack.status)
  t.is(received[2].body.toString(), 'plain')
})

test('server check: TX_ACK status 0 is answered per onMessageCheck, with the same opaque and the header as received', async (t) => {
  const checks: TxCheck[] = []
  const answers: Record<string, () => unknown> = {
    c: () => 'commit',
    r: () => 'rollback',
    u: () => 'unknown',
    a: async () => 'rollback',
    t: () => {
      throw new Error('cannot tell yet')
    },
    x: () => 'maybe',
  }
  const { broker, client, connection } = await consumer(t, {
    onMessage: () => true,
    onMessageCheck: (tx) => {
      checks.push(tx)
      return answers[tx.messageType]() as never
    },
  })
  const check = async (messageType: string, extra: Partial<Header> = {}) => {
    const header = deliveryHeader({ messageType, commit: false, properties: [{ key: 'orderId', value: '7' }], ...extra })
    const r = await broker.txCheck(connection, header)
    t.is(r.replyOpaque, r.opaque)
    t.deepEqual(r.answer.header, header)
    return r.answer
  }
  t.like(await check('c'), { status: 1, feedback: '' })
  t.like(await check('r'), { status: 2 })
  t.like(await check('u'), { status: 0 })
  t.like(await check('a'), { status: 2 })
  t.like(await check('t'), { status: 0, feedback: 'cannot tell yet' })
  t.like(await check('x'), { status: 0 })
  t.deepEqual(checks[0].properties, { orderId: '7' })
  t.is(checks[0].messageType, 'c')
  t.is(checks[0].topic, 'trade')

  // without onMessageCheck nobody knows how it ended: 'unknown', where kiteq-client-go's default commits
  client.setListener({ onMessage: () => true })
  t.like(await check('anything'), { status: 0, feedback: 'no onMessageCheck in this client' })
})
