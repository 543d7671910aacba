import test from 'ava'
import { connect, type Socket } from 'node:net'
import { once } from 'node:events'
import { bindDirect } from '../../binding/binding.ts'
import { KiteQClient } from '../../client/index.ts'
import { Cmd, ConnMetaCodec, encodePacket } from '../../protocol/index.ts'
import { randomName, startBroker } from '../helpers/broker.ts'
import { startConsumer, startProducer } from '../helpers/clients.ts'

async function rawSocket(port: number): Promise<Socket> {
  const s = connect({ host: '127.0.0.1', port })
  await once(s, 'connect')
  s.on('error', () => {})
  return s
}

test('bad frames, garbage connections and clients that vanish mid-delivery never disturb the others', async (t) => {
  const topic = randomName('t')
  const broker = await startBroker({ topics: [topic], deliveryTimeoutMs: 500 })
  const group = randomName('s')
  const consumer = await startConsumer({ address: broker.address, group, bindings: [bindDirect(group, topic, 'm')] })
  const producer = await startProducer(broker.address, randomName('p'), [topic])

  // a consumer of the same group that takes deliveries and then disappears without answering
  const vanishing = new KiteQClient({ brokers: [broker.address], groupId: group, connection: { heartbeat: false, reconnect: { maxRetries: 0 } } })
  vanishing.setBindings([bindDirect(group, topic, 'm')])
  let vanished = false
  vanishing.setListener({
    onMessage: () => {
      if (!vanished) {
        vanished = true
        void vanishing.close()
      }
      return new Promise<boolean>(() => {}) // never answers
    },
  })
  await vanishing.start()

  const troublemakers: Promise<unknown>[] = []
  const sent: string[] = []
  for (let round = 0; round < 20; round++) {
    // garbage bytes before any handshake
    const garbage = await rawSocket(broker.port)
    garbage.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n' + 'z'.repeat(100)))
    troublemakers.push(once(garbage, 'close'))
    // a handshaken peer that then sends a negative body length
    const liar = await rawSocket(broker.port)
    liar.write(encodePacket(1, Cmd.CONN_META, ConnMetaCodec, { groupId: 'liar', secretKey: '' }))
    const bad = Buffer.alloc(19)
    bad[4] = Cmd.STRING_MESSAGE
    bad.writeInt32BE(-1, 15)
    liar.write(bad)
    troublemakers.push(once(liar, 'close'))
    // a handshaken peer with a truncated protobuf body
    const truncated = await rawSocket(broker.port)
    truncated.write(encodePacket(1, Cmd.CONN_META, ConnMetaCodec, { groupId: 'trunc', secretKey: '' }))
    const body = Buffer.from('0a20' + 'ab'.repeat(10), 'hex')
    const frame = Buffer.alloc(19 + body.length)
    frame[4] = Cmd.STRING_MESSAGE
    frame.writeInt32BE(body.length, 15)
    body.copy(frame, 19)
    truncated.write(frame)
    troublemakers.push(once(truncated, 'close'))
    for (let i = 0; i < 25; i++) sent.push((await producer.sendStringMessage({ topic, messageType: 'm', body: `${round}-${i}` })).messageId)
  }
  await Promise.all(troublemakers)
  await consumer.waitFor(500, 30_000)
  t.deepEqual([...new Set(consumer.received.map((m) => m.messageId))].sort(), sent.sort())
  t.true(vanished, 'the vanishing consumer did take a delivery')
  t.is(broker.server.sessions.size, 2, 'only the good consumer and producer remain')
  await Promise.all([consumer.client.close(), producer.close(), broker.server.stop()])
})
