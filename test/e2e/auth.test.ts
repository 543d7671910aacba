import test from 'ava'
import { connect } from 'node:net'
import { once } from 'node:events'
import { KiteQClient } from '../../client/index.ts'
import { Cmd, ConnAuthAckCodec, HeartBeatCodec, FrameDecoder, encodePacket, type Frame } from '../../protocol/index.ts'
import { randomName, startBroker } from '../helpers/broker.ts'
import { startProducer } from '../helpers/clients.ts'

test('auth off (no secrets configured): every group is accepted, whatever its secretKey', async (t) => {
  const topic = randomName('t')
  const broker = await startBroker({ topics: [topic] })
  const producer = await startProducer(broker.address, randomName('any'), [topic], { secretKey: 'whatever' })
  t.truthy((await producer.sendStringMessage({ topic, messageType: 'm', body: 'x' })).messageId)
  await Promise.all([producer.close(), broker.server.stop()])
})

test('auth on: the right secret connects; a wrong or missing one, or an unknown group, is refused with a reason', async (t) => {
  const topic = randomName('t')
  const broker = await startBroker({ topics: [topic], secrets: { 'g-ok': 's3cret' } })
  const ok = await startProducer(broker.address, 'g-ok', [topic], { secretKey: 's3cret' })
  t.truthy((await ok.sendStringMessage({ topic, messageType: 'm', body: 'x' })).messageId)
  for (const [groupId, secretKey, reason] of [
    ['g-ok', 'wrong', /wrong secretKey for group 'g-ok'/],
    ['g-ok', '', /wrong secretKey/],
    ['g-other', 's3cret', /group 'g-other' is not allowed/],
  ] as const) {
    const client = new KiteQClient({ brokers: [broker.address], groupId, secretKey, connection: { heartbeat: false } })
    client.setTopics([topic])
    const err = await t.throwsAsync(client.start())
    t.is((err as { code?: string }).code, 'KITEQ_ERR_AUTH')
    t.regex(err!.message, reason)
    await client.close()
  }
  t.is(broker.server.sessions.size, 1, 'only the good producer is connected')
  await Promise.all([ok.close(), broker.server.stop()])
})

test('a packet before the handshake gets ConnAuthAck(false) with opaque 0 and the connection is closed', async (t) => {
  const broker = await startBroker({ topics: ['t'] })
  const socket = connect({ host: '127.0.0.1', port: broker.port })
  await once(socket, 'connect')
  const frames: Frame[] = []
  const decoder = new FrameDecoder((f) => frames.push({ ...f, body: Buffer.from(f.body) }))
  socket.on('data', (d) => decoder.push(d))
  socket.write(encodePacket(5, Cmd.HEARTBEAT, HeartBeatCodec, { version: 1 }))
  await once(socket, 'close')
  t.is(frames.length, 1)
  t.is(frames[0].cmdType, Cmd.CONN_AUTH)
  t.is(frames[0].opaque, 0)
  t.deepEqual(ConnAuthAckCodec.decode(frames[0].body), { status: false, feedback: 'Unauthorized,Connection broken!' })
  await broker.server.stop()
})
