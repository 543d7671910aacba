import test from 'ava'
import { bindDirect } from '../../binding/binding.ts'
import { randomName, startBroker } from '../helpers/broker.ts'
import { startConsumer, startProducer } from '../helpers/clients.ts'

test('rejections are MessageStoreAck(false) whose feedback says why', async (t) => {
  const topic = randomName('t')
  const broker = await startBroker({ topics: [topic] })
  const producer = await startProducer(broker.address, randomName('p'), [topic, 'elsewhere'])
  const reject = async (msg: Parameters<typeof producer.sendStringMessage>[0], pattern: RegExp) => {
    const err = await t.throwsAsync(producer.sendStringMessage(msg))
    t.is((err as { code?: string }).code, 'KITEQ_ERR_REJECTED')
    t.regex(err!.message, pattern)
  }
  await reject({ topic: 'elsewhere', messageType: 'm', body: 'x' }, /UnSupport Topic Message! topic 'elsewhere' is not served/)
  // exact membership: a topic sorting before a served one is not accepted (KiteQ's sort bug)
  await reject({ topic: 'a', messageType: 'm', body: 'x' }, /UnSupport Topic Message!/)
  await reject({ topic, messageType: 'm', body: 'x', messageId: 'not-hex' }, /Invalid MessageId For UUID!/)
  await reject({ topic, messageType: 'm', body: 'x', messageId: 'g'.repeat(32) }, /Invalid MessageId For UUID!/)
  await reject({ topic, messageType: 'm', body: 'x', expiredTime: Math.floor(Date.now() / 1000) - 10 }, /Expired Message!/)
  t.is(broker.server.stats.totals.rejected, 5)
  await Promise.all([producer.close(), broker.server.stop()])
})

test('normalisation: expiry ≤ 0 or beyond 7 days becomes now + 7 days; deliverLimit ≤ 0 or > 100 becomes 100', async (t) => {
  const topic = randomName('t')
  const broker = await startBroker({ topics: [topic] })
  const group = randomName('s')
  const consumer = await startConsumer({ address: broker.address, group, bindings: [bindDirect(group, topic, 'm')] })
  const producer = await startProducer(broker.address, randomName('p'), [topic])
  const before = Math.floor(Date.now() / 1000)
  await producer.sendStringMessage({ topic, messageType: 'm', body: '1', expiredTime: -1, deliverLimit: 0 })
  await producer.sendStringMessage({ topic, messageType: 'm', body: '2', expiredTime: before + 30 * 86400, deliverLimit: 1000 })
  await producer.sendStringMessage({ topic, messageType: 'm', body: '3', expiredTime: before + 3600, deliverLimit: 7 })
  const got = (await consumer.waitFor(3)).sort((a, b) => String(a.body).localeCompare(String(b.body)))
  const week = 7 * 86400
  for (const m of got.slice(0, 2)) {
    t.true(m.header.expiredTime >= before + week && m.header.expiredTime <= before + week + 5)
    t.is(m.header.deliverLimit, 100)
  }
  t.is(got[2].header.expiredTime, before + 3600)
  t.is(got[2].header.deliverLimit, 7)
  await Promise.all([consumer.client.close(), producer.close(), broker.server.stop()])
})
