import test from 'ava'
import { BackpressureError, ConnectionClosedError, ErrorCodes, type Frame } from '../../protocol/index.ts'
import type { Connection } from '../../remoting/index.ts'
import { requestFrame, sendFrame, sendMessageFrame } from '../../client/backpressure.ts'
import { HeartBeatCodec } from '../../protocol/messages.ts'

/** A Connection stand-in that refuses the first `refusals` sends with BackpressureError. */
function stubConnection(refusals: number) {
  const log: string[] = []
  let opaque = 10
  const refuse = () => {
    if (refusals-- > 0) throw new BackpressureError('queue full')
  }
  const stub = {
    nextOpaque: () => ++opaque,
    send: (frame: Buffer) => {
      log.push(`send ${frame.readUInt32BE(0)}`)
      refuse()
    },
    request: async (o: number, frame: Buffer): Promise<Frame> => {
      log.push(`request ${o} framed ${frame.readUInt32BE(0)}`)
      refuse()
      return { opaque: o, cmdType: 4, version: 0, extension: 0n, body: Buffer.alloc(0) }
    },
    sendMessage: (o: number) => {
      log.push(`sendMessage ${o}`)
      refuse()
    },
    // as with a real Connection, exactly when a send would be refused
    canQueue: () => refusals <= 0,
    waitForDrain: async () => {
      log.push('drain')
    },
  }
  return { connection: stub as unknown as Connection, log }
}

const frameWithOpaque = (o: number) => {
  const b = Buffer.alloc(19)
  b.writeUInt32BE(o, 0)
  return b
}

test('a request refused for back-pressure waits for drain and is retried once, under a fresh opaque', async (t) => {
  const { connection, log } = stubConnection(1)
  const reply = await requestFrame(connection, 5, frameWithOpaque(5), 4, 1000)
  t.deepEqual(log, ['request 5 framed 5', 'drain', 'request 11 framed 11'])
  t.is(reply.opaque, 11)
})

test('a second refusal is reported as BACKPRESSURE', async (t) => {
  const { connection, log } = stubConnection(2)
  const err = await t.throwsAsync(requestFrame(connection, 5, frameWithOpaque(5), 4, 1000))
  t.is((err as { code?: string }).code, ErrorCodes.BACKPRESSURE)
  t.is(log.length, 3)
})

test('one-way frames (acks) are retried after drain too; other errors are not retried', async (t) => {
  const { connection, log } = stubConnection(1)
  await sendFrame(connection, frameWithOpaque(0))
  t.deepEqual(log, ['send 0', 'drain', 'send 0'])

  const closed = {
    send: () => {
      throw new ConnectionClosedError()
    },
    waitForDrain: async () => t.fail('no drain wait for a closed connection'),
  } as unknown as Connection
  const err = await t.throwsAsync(sendFrame(closed, frameWithOpaque(0)))
  t.is((err as { code?: string }).code, ErrorCodes.CONNECTION_CLOSED)
})

test('one-way messages encoded in place: queued at once without a promise, or after one drain; a second refusal is reported', async (t) => {
  const ready = stubConnection(0)
  t.is(sendMessageFrame(ready.connection, 3, 4, HeartBeatCodec, { version: 1 }), undefined)
  t.deepEqual(ready.log, ['sendMessage 3'])

  const once = stubConnection(1)
  await sendMessageFrame(once.connection, 3, 4, HeartBeatCodec, { version: 1 })
  t.deepEqual(once.log, ['sendMessage 3', 'drain', 'sendMessage 3'])

  const twice = stubConnection(2)
  const err = await t.throwsAsync(sendMessageFrame(twice.connection, 3, 4, HeartBeatCodec, { version: 1 })!)
  t.is((err as { code?: string }).code, ErrorCodes.BACKPRESSURE)
})

test('a request waits for a drain only as long as its own timeout: a connection that never drains fails it with TIMEOUT', async (t) => {
  const { connection } = stubConnection(1)
  const neverDrains = Object.assign(Object.create(connection) as Connection, { waitForDrain: () => new Promise<void>(() => {}), label: 'stalled' })
  const startedAt = Date.now()
  const err = await t.throwsAsync(requestFrame(neverDrains, 5, frameWithOpaque(5), 4, 100))
  t.is((err as { code?: string }).code, ErrorCodes.TIMEOUT)
  t.true(Date.now() - startedAt >= 95)
})
