import test from 'ava'
import { duplexPair } from 'node:stream'
import { connect, type Socket } from 'node:net'
import { once } from 'node:events'
import {
  Cmd, ErrorCodes, HeartBeatCodec, encodePacket, type Frame, BackpressureError,
} from '../../protocol/index.ts'
import { Connection, listenTcp, configureSocket } from '../../remoting/index.ts'
import type { MessageCodec } from '../../protocol/schema.ts'

async function tcpPair(onServerFrame: (frame: Frame, conn: Connection) => void, clientOptions = {}) {
  let serverSocket: Socket | undefined
  const server = await listenTcp({
    host: '127.0.0.1',
    port: 0,
    onConnection: (conn, socket) => {
      serverSocket = socket
      conn.setFrameHandler(onServerFrame)
    },
  })
  const socket = connect({ host: '127.0.0.1', port: server.port })
  configureSocket(socket)
  await once(socket, 'connect')
  const client = new Connection(socket, { label: 'client', ...clientOptions })
  while (server.connections.size === 0) await new Promise((r) => setImmediate(r))
  return { server, client, serverSocket: () => serverSocket!, serverConn: [...server.connections][0] }
}

test('100 000 request/response pairs over TCP, some timing out on purpose: each settles once, nothing left pending', async (t) => {
  const TOTAL = 100_000
  const WINDOW = 500
  // the server never answers every 50th request, and answers every 77th only after its timeout
  const { server, client } = await tcpPair((frame, conn) => {
    const { version } = HeartBeatCodec.decode(frame.body)
    if (version % 50 === 0) return
    const answer = () => {
      if (!conn.closed) conn.sendMessage(frame.opaque, Cmd.HEARTBEAT, HeartBeatCodec, { version })
    }
    if (version % 77 === 0) setTimeout(answer, 60)
    else answer()
  })
  let stray = 0
  client.setFrameHandler(() => stray++) // late answers whose request timed out land here
  const settled = new Uint8Array(TOTAL)
  let resolved = 0
  let timedOut = 0
  let wrong = 0
  let next = 0
  async function worker() {
    while (next < TOTAL) {
      const i = next++
      const late = i % 50 === 0 || (i % 77 === 0)
      try {
        const frame = await client.requestMessage(Cmd.HEARTBEAT, HeartBeatCodec, { version: i }, Cmd.HEARTBEAT, late ? 20 : 10_000)
        if (HeartBeatCodec.decode(frame.body).version !== i) wrong++
        resolved++
      } catch (err) {
        if ((err as { code?: string }).code === ErrorCodes.TIMEOUT) timedOut++
        else throw err
      }
      settled[i]++
    }
  }
  await Promise.all(Array.from({ length: WINDOW }, worker))
  const expectedTimeouts = Array.from({ length: TOTAL }, (_, i) => i).filter((i) => i % 50 === 0 || i % 77 === 0).length
  t.is(wrong, 0)
  t.is(resolved + timedOut, TOTAL)
  t.is(timedOut, expectedTimeouts)
  t.true(settled.every((n) => n === 1), 'every promise settled exactly once')
  t.is(client.pendingRequests, 0, 'no pending entry left behind')
  // the late answers (i % 77, not % 50) arrive after their timeout and are routed, not matched
  await new Promise((r) => setTimeout(r, 100))
  t.is(stray, Array.from({ length: TOTAL }, (_, i) => i).filter((i) => i % 77 === 0 && i % 50 !== 0).length)
  client.close()
  server.closeAll()
  await server.stopAccepting()
})

test('a peer that stops reading: queued bytes stay under the bound and the sender sees back-pressure', async (t) => {
  const maxQueuedBytes = 1024 * 1024
  const { server, client, serverSocket } = await tcpPair(() => {}, { maxQueuedBytes })
  serverSocket().pause()
  const frame = encodePacket(0, Cmd.BYTES_MESSAGE, HeartBeatCodec, { version: 1 })
  const big = Buffer.concat([frame, Buffer.alloc(16 * 1024 - frame.length)])
  big.writeInt32BE(big.length - 19, 15)
  let sent = 0
  let refused: unknown
  let maxSeen = 0
  // keep sending across event-loop turns, as a producer would, until refused
  for (let turn = 0; turn < 10_000 && refused === undefined; turn++) {
    for (let i = 0; i < 64; i++) {
      try {
        client.send(big)
        sent++
      } catch (err) {
        refused = err
        break
      }
      maxSeen = Math.max(maxSeen, client.queuedBytes)
    }
    await new Promise((r) => setImmediate(r))
  }
  t.true(refused instanceof BackpressureError)
  t.is((refused as BackpressureError).code, ErrorCodes.BACKPRESSURE)
  t.true((refused as BackpressureError).retriable)
  t.true(client.backpressured)
  t.true(maxSeen <= maxQueuedBytes, `queued ${maxSeen} > bound ${maxQueuedBytes}`)
  t.log(`sent ${sent} frames of 16 KiB before back-pressure; max queued ${maxSeen} bytes`)
  // the peer reads again: everything sent arrives, and 'drain' fires
  let received = 0
  const serverConn = [...server.connections][0]
  serverConn.setFrameHandler(() => received++)
  // every sender refused in this episode waits on one listener, not a pair each (Node warns past ten)
  const waits = Array.from({ length: 50 }, () => client.waitForDrain())
  t.is(client.listenerCount('drain'), 1)
  t.is(client.listenerCount('close'), 1)
  serverSocket().resume()
  await Promise.all(waits)
  t.is(client.listenerCount('drain'), 0)
  while (received < sent) await new Promise((r) => setTimeout(r, 5))
  t.is(received, sent)
  t.false(client.backpressured)
  client.close()
  server.closeAll()
  await server.stopAccepting()
})

test('senders waiting out back-pressure all fail with connection-closed when the connection closes', async (t) => {
  const [a, b] = duplexPair()
  const client = new Connection(a)
  void b // a peer that never reads
  const frame = encodePacket(0, Cmd.HEARTBEAT, HeartBeatCodec, { version: 1 })
  for (let i = 0; i < 1000 && !client.backpressured; i++) {
    client.send(Buffer.concat([frame, frame, frame, frame]))
    await new Promise((r) => setImmediate(r))
  }
  t.true(client.backpressured)
  const waits = Array.from({ length: 20 }, () => client.waitForDrain())
  t.is(client.listenerCount('close'), 1)
  client.close(new Error('gone'))
  for (const w of waits) await t.throwsAsync(w, { code: ErrorCodes.CONNECTION_CLOSED })
  t.is(client.listenerCount('drain'), 0)
  await t.throwsAsync(client.waitForDrain(), { code: ErrorCodes.CONNECTION_CLOSED })
})

test('closing a connection fails every pending request with connection-closed', async (t) => {
  const [a, b] = duplexPair()
  const client = new Connection(a)
  new Connection(b) // a peer that never answers
  const requests = Array.from({ length: 10 }, (_, i) =>
    client.requestMessage(Cmd.HEARTBEAT, HeartBeatCodec, { version: i }, Cmd.HEARTBEAT, 60_000),
  )
  await new Promise((r) => setImmediate(r))
  t.is(client.pendingRequests, 10)
  client.close()
  for (const r of requests) {
    const err = await t.throwsAsync(r)
    t.is((err as { code?: string }).code, ErrorCodes.CONNECTION_CLOSED)
  }
  t.is(client.pendingRequests, 0)
  await t.throwsAsync(client.requestMessage(Cmd.HEARTBEAT, HeartBeatCodec, { version: 1 }, Cmd.HEARTBEAT), {
    code: ErrorCodes.CONNECTION_CLOSED,
  } as never)
})

test('requestMessageAs: the answer, a timeout, a closed connection and back-pressure all go through interpret; it never rejects', async (t) => {
  const [a, b] = duplexPair()
  const client = new Connection(a, { maxQueuedBytes: 1024 })
  const peer = new Connection(b)
  // the peer answers version 1 with version 2 and leaves every other request unanswered
  peer.setFrameHandler((f) => {
    const { version } = HeartBeatCodec.decode(f.body)
    if (version === 1) peer.sendMessage(f.opaque, Cmd.HEARTBEAT, HeartBeatCodec, { version: 2 })
  })
  const interpret = (answer: Frame | Error) => (answer instanceof Error ? `failed: ${(answer as { code?: string }).code}` : `answer v${HeartBeatCodec.decode(answer.body).version}`)
  const ask = (version: number, timeoutMs: number) => client.requestMessageAs(Cmd.HEARTBEAT, HeartBeatCodec, { version }, Cmd.HEARTBEAT, timeoutMs, interpret)
  t.is(await ask(1, 5_000), 'answer v2')
  t.is(await ask(3, 20), `failed: ${ErrorCodes.TIMEOUT}`)
  const tooBig = client.requestMessageAs(Cmd.BYTES_MESSAGE, RawBody, Buffer.alloc(4096), Cmd.HEARTBEAT, 5_000, interpret)
  t.is(await tooBig, `failed: ${ErrorCodes.BACKPRESSURE}`)
  const unanswered = ask(4, 60_000)
  await new Promise((r) => setImmediate(r))
  client.close()
  t.is(await unanswered, `failed: ${ErrorCodes.CONNECTION_CLOSED}`)
  t.is(await ask(5, 5_000), `failed: ${ErrorCodes.CONNECTION_CLOSED}`)
  t.is(client.pendingRequests, 0)
})

test('a peer request reusing our pending opaque is routed as a request, not taken as the answer', async (t) => {
  const [a, b] = duplexPair()
  const client = new Connection(a)
  const peer = new Connection(b)
  const routed: Frame[] = []
  client.setFrameHandler((f) => routed.push(f))
  let requestOpaque = 0
  peer.setFrameHandler((f) => {
    requestOpaque = f.opaque
    // the peer first sends its own request (a delivery) with the same opaque, then the real answer
    peer.sendMessage(f.opaque, Cmd.BYTES_MESSAGE, HeartBeatCodec, { version: 99 })
    peer.sendMessage(f.opaque, Cmd.MESSAGE_STORE_ACK, HeartBeatCodec, { version: 7 })
  })
  const answer = await client.requestMessage(Cmd.STRING_MESSAGE, HeartBeatCodec, { version: 1 }, Cmd.MESSAGE_STORE_ACK)
  t.is(answer.cmdType, Cmd.MESSAGE_STORE_ACK)
  t.is(routed.length, 1)
  t.is(routed[0].cmdType, Cmd.BYTES_MESSAGE)
  t.is(routed[0].opaque, requestOpaque)
  client.close()
})

test('a malformed frame closes only that connection, with a ProtocolError reason', async (t) => {
  const { server, client } = await tcpPair(() => {})
  const good = connect({ host: '127.0.0.1', port: server.port })
  await once(good, 'connect')
  while (server.connections.size < 2) await new Promise((r) => setImmediate(r))
  const [badConn, goodConn] = [...server.connections]
  const closed = once(badConn, 'close')
  const bogus = Buffer.alloc(19)
  bogus.writeInt32BE(-7, 15)
  client.send(bogus)
  const [reason] = await closed
  t.is((reason as { code?: string }).code, ErrorCodes.PROTOCOL)
  t.false(goodConn.closed)
  good.destroy()
  server.closeAll()
  await server.stopAccepting()
})

test('writes are coalesced: many frames sent in one turn leave in one write', async (t) => {
  const [a, b] = duplexPair()
  let writes = 0
  const originalWrite = a.write.bind(a)
  a.write = ((chunk: unknown, ...rest: unknown[]) => {
    writes++
    return (originalWrite as (...args: unknown[]) => boolean)(chunk, ...rest)
  }) as typeof a.write
  const sender = new Connection(a, { flushThresholdBytes: 64 * 1024 })
  const receiver = new Connection(b)
  let got = 0
  receiver.setFrameHandler(() => got++)
  for (let i = 0; i < 1000; i++) sender.sendMessage(i + 1, Cmd.HEARTBEAT, HeartBeatCodec, { version: i }) // 25 bytes each
  t.is(writes, 0, 'nothing is written synchronously below the threshold')
  while (got < 1000) await new Promise((r) => setImmediate(r))
  t.is(writes, 1)
  sender.close()
})

test('past the byte threshold a flush happens at once', (t) => {
  const [a] = duplexPair()
  let writes = 0
  const originalWrite = a.write.bind(a)
  a.write = ((chunk: unknown, ...rest: unknown[]) => {
    writes++
    return (originalWrite as (...args: unknown[]) => boolean)(chunk, ...rest)
  }) as typeof a.write
  const sender = new Connection(a, { flushThresholdBytes: 1000 })
  for (let i = 0; i < 100; i++) sender.sendMessage(i + 1, Cmd.HEARTBEAT, HeartBeatCodec, { version: i }) // 25 bytes each
  t.is(writes, 2) // at 1000 and 2000 bytes... of 2500
  sender.close()
})

test('requests with different timeouts each fail at their own deadline, whatever the order they were made in', async (t) => {
  const [a, b] = duplexPair()
  const client = new Connection(a)
  new Connection(b) // a peer that never answers
  const started = performance.now()
  const failedAt = new Map<number, number>()
  const timeouts = [400, 40, 200, 10, 800]
  const requests = timeouts.map((ms) =>
    client.requestMessage(Cmd.HEARTBEAT, HeartBeatCodec, { version: ms }, Cmd.HEARTBEAT, ms).then(
      () => t.fail('a peer that never answers cannot satisfy a request'),
      (err: { code?: string }) => {
        t.is(err.code, ErrorCodes.TIMEOUT)
        failedAt.set(ms, performance.now() - started)
      },
    ),
  )
  await Promise.all(requests)
  const order = [...failedAt.keys()]
  t.deepEqual(order, [...timeouts].sort((x, y) => x - y), 'they fail shortest timeout first')
  for (const [ms, at] of failedAt) t.true(at >= ms - 1, `the ${ms} ms request failed after ${at.toFixed(1)} ms`)
  t.is(client.pendingRequests, 0)
  client.close()
})

test('a timer that fires late fails the overdue requests earliest deadline first', async (t) => {
  const [a, b] = duplexPair()
  const client = new Connection(a)
  new Connection(b) // a peer that never answers
  const order: number[] = []
  const requests = [40, 10, 25].map((ms) =>
    client.requestMessage(Cmd.HEARTBEAT, HeartBeatCodec, { version: ms }, Cmd.HEARTBEAT, ms).catch(() => order.push(ms)))
  // a stalled event loop: by the time the timer runs, all three deadlines have passed
  const until = performance.now() + 60
  while (performance.now() < until) { /* busy */ }
  await Promise.all(requests)
  t.deepEqual(order, [10, 25, 40])
  client.close()
})

test('frames of every size arrive whole and in order across outbound slab boundaries', async (t) => {
  const [a, b] = duplexPair()
  const sender = new Connection(a, { flushThresholdBytes: 1 << 30 })
  const receiver = new Connection(b)
  const got: Frame[] = []
  receiver.setFrameHandler((f) => got.push({ ...f, body: Buffer.from(f.body) }))
  // seeded sizes from 0 to 200 KiB, mixing frames queued raw and frames encoded in place
  let seed = 7
  const random = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32)
  const sent: Buffer[] = []
  for (let turn = 0; turn < 20; turn++) {
    for (let i = 0; i < 30; i++) {
      const size = random() < 0.1 ? Math.floor(random() * 200_000) : Math.floor(random() * 3000)
      const body = Buffer.alloc(size, (turn * 30 + i) & 0xff)
      sent.push(body)
      if (i % 2 === 0) sender.send(encodePacket(sent.length, Cmd.BYTES_MESSAGE, RawBody, body))
      else sender.sendMessage(sent.length, Cmd.BYTES_MESSAGE, RawBody, body)
    }
    while (got.length < sent.length) await new Promise((r) => setImmediate(r))
  }
  t.is(got.length, sent.length)
  for (let i = 0; i < sent.length; i++) {
    t.is(got[i].opaque, i + 1)
    if (!got[i].body.equals(sent[i])) t.fail(`frame ${i + 1} (${sent[i].length} bytes) arrived changed`)
  }
  sender.close()
})

/** A codec writing a buffer as the whole body. */
const RawBody = {
  name: 'RawBody',
  size: (body: Buffer) => body.length,
  write: (w: { buf: Buffer; pos: number }, body: Buffer) => {
    body.copy(w.buf, w.pos)
    w.pos += body.length
  },
  decode: (bytes: Buffer) => bytes,
} as unknown as MessageCodec<Buffer>

test('a graceful close does not wait for good on a peer that never closes its side: the socket goes after a request timeout', async (t) => {
  const server = await listenTcp({ host: '127.0.0.1', port: 0, requestTimeoutMs: 200, onConnection: () => {} })
  // a peer that keeps its side open after our FIN, as a client ignoring end-of-stream does
  const peer = connect({ host: '127.0.0.1', port: server.port, allowHalfOpen: true })
  await once(peer, 'connect')
  while (server.connections.size === 0) await new Promise((r) => setImmediate(r))
  server.closeAll()
  const stopped = server.stopAccepting().then(() => 'stopped')
  const stuck = new Promise((r) => setTimeout(() => r('still open after 5 s'), 5000).unref())
  t.is(await Promise.race([stopped, stuck]), 'stopped')
  peer.destroy()
})
