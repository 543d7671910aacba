import test from 'ava'
import { once } from 'node:events'
import { createServer, type Socket } from 'node:net'
import { Cmd, ConnMetaCodec, ConnAuthAckCodec, ErrorCodes, HeartBeatCodec, encodeFrame } from '../../protocol/index.ts'
import { ClientConnection, listenTcp, type Connection, type TcpServer } from '../../remoting/index.ts'

/** A minimal broker stand-in: answers the handshake and (optionally) heartbeats. */
async function fakeBroker(options: { answerHeartbeats: () => boolean; port?: number }) {
  let handshakes = 0
  let heartbeats = 0
  const server = await listenTcp({
    host: '127.0.0.1',
    port: options.port ?? 0,
    onConnection: (conn) => {
      conn.setFrameHandler((frame, c) => {
        if (frame.cmdType === Cmd.CONN_META) {
          handshakes++
          c.sendMessage(frame.opaque, Cmd.CONN_AUTH, ConnAuthAckCodec, { status: true, feedback: 'Auth Succ' })
        } else if (frame.cmdType === Cmd.HEARTBEAT) {
          heartbeats++
          if (options.answerHeartbeats()) c.sendMessage(frame.opaque, Cmd.HEARTBEAT, HeartBeatCodec, HeartBeatCodec.decode(frame.body))
        }
      })
    },
  })
  return { server, handshakes: () => handshakes, heartbeats: () => heartbeats }
}

async function handshake(conn: Connection): Promise<void> {
  const frame = await conn.requestMessage(Cmd.CONN_META, ConnMetaCodec, { groupId: 'g', secretKey: '' }, Cmd.CONN_AUTH, 1000)
  if (!ConnAuthAckCodec.decode(frame.body).status) throw new Error('auth refused')
}

async function stop(server: TcpServer) {
  server.closeAll(new Error('test over'))
  await server.stopAccepting()
}

test('reconnects after the broker drops the connection, and re-runs the handshake', async (t) => {
  const broker = await fakeBroker({ answerHeartbeats: () => true })
  const client = new ClientConnection({
    host: '127.0.0.1', port: broker.server.port, handshake, onFrame: () => {}, heartbeat: false,
    reconnect: { initialDelayMs: 10, maxDelayMs: 50 },
  })
  client.start()
  await client.ready()
  t.is(broker.handshakes(), 1)
  const down = once(client, 'down')
  broker.server.closeAll(new Error('broker kicked us'))
  await down
  t.false(client.isReady)
  await client.ready()
  t.is(broker.handshakes(), 2)
  client.close()
  await stop(broker.server)
})

test('dials with exponential backoff while the broker is away, and connects when it comes back', async (t) => {
  const probe = await listenTcp({ host: '127.0.0.1', port: 0, onConnection: () => {} })
  const port = probe.port
  await probe.stopAccepting() // nobody listens on `port` now
  const client = new ClientConnection({
    host: '127.0.0.1', port, handshake, onFrame: () => {}, heartbeat: false,
    reconnect: { initialDelayMs: 20, maxDelayMs: 200, jitter: 0 },
  })
  const started = Date.now()
  client.start()
  await new Promise((r) => setTimeout(r, 400)) // attempts at ~0, 20, 60, 140, 300 ms
  const broker = await fakeBroker({ answerHeartbeats: () => true, port })
  await client.ready()
  t.true(Date.now() - started >= 400)
  t.is(broker.handshakes(), 1)
  client.close()
  await stop(broker.server)
})

test('gives up after maxRetries failed attempts with NO_BROKER', async (t) => {
  const probe = await listenTcp({ host: '127.0.0.1', port: 0, onConnection: () => {} })
  await probe.stopAccepting()
  const client = new ClientConnection({
    host: '127.0.0.1', port: probe.port, handshake, onFrame: () => {}, heartbeat: false,
    reconnect: { initialDelayMs: 5, maxDelayMs: 10, maxRetries: 3 },
  })
  client.start()
  // many callers waiting through the retries share one wait (no listener pair each)
  const waits = Array.from({ length: 20 }, () => client.ready())
  t.is(client.listenerCount('giveup'), 1)
  for (const wait of waits) {
    const err = await t.throwsAsync(wait)
    t.is((err as { code?: string }).code, ErrorCodes.NO_BROKER)
  }
  t.is(client.listenerCount('giveup'), 0)
})

test('heartbeats: answered ones keep the connection; 3 misses close it and it is dialled again', async (t) => {
  let answer = true
  const broker = await fakeBroker({ answerHeartbeats: () => answer })
  const client = new ClientConnection({
    host: '127.0.0.1', port: broker.server.port, handshake, onFrame: () => {},
    heartbeat: { intervalMs: 50, timeoutMs: 300, maxMisses: 3 },
    reconnect: { initialDelayMs: 10 },
  })
  client.start()
  const first = await client.ready()
  await new Promise((r) => setTimeout(r, 400))
  t.true(broker.heartbeats() >= 3)
  t.false(first.closed)
  answer = false
  const down = once(client, 'down')
  const [reason] = await down
  t.is((reason as { code?: string }).code, ErrorCodes.TIMEOUT)
  answer = true
  const second = await client.ready()
  t.not(second, first)
  t.is(broker.handshakes(), 2)
  client.close()
  await stop(broker.server)
})

test('a broker that stopped reading is given up on: heartbeats refused for back-pressure count as misses', async (t) => {
  const sockets: Socket[] = []
  const stalled = createServer((socket) => {
    socket.pause() // a broker process that no longer reads its socket
    sockets.push(socket)
  })
  await new Promise<void>((resolve) => stalled.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    for (const s of sockets) s.destroy()
    stalled.close()
  })
  const port = (stalled.address() as { port: number }).port
  const client = new ClientConnection({
    host: '127.0.0.1', port, handshake: async () => {}, onFrame: () => {},
    maxQueuedBytes: 256 * 1024, heartbeat: { intervalMs: 100, timeoutMs: 50, maxMisses: 2 },
    reconnect: { maxRetries: 0 },
  })
  t.teardown(() => client.close())
  client.start()
  const connection = await client.ready()
  const frame = encodeFrame({ opaque: 0, cmdType: 0x30, body: Buffer.alloc(60_000) })
  // fill the kernel's buffers and then our queue, until sends are refused
  for (;;) {
    try {
      connection.send(frame)
    } catch (err) {
      t.is((err as { code?: string }).code, ErrorCodes.BACKPRESSURE)
      break
    }
    await new Promise((r) => setImmediate(r))
  }
  // and the last bytes of room, so that not even a heartbeat fits
  const tiny = encodeFrame({ opaque: 0, cmdType: 0x30, body: Buffer.alloc(0) })
  for (;;) {
    try {
      connection.send(tiny)
    } catch {
      break
    }
  }
  const [reason] = await once(connection, 'close')
  t.is((reason as { code?: string }).code, ErrorCodes.TIMEOUT)
  t.regex((reason as Error).message, /2 heartbeats missed/)
})
