/**
 * Request/response round trips per second over loopback TCP with 100 requests in flight: an echo
 * server (child process) answers HEARTBEAT frames; the client correlates each answer by opaque.
 * Target (issue 3): ≥ 200 000 round trips/s.
 *   node --import=tsx bench/echo.ts [durationMs] [inFlight]
 */
import { fork } from 'node:child_process'
import { once } from 'node:events'
import { connect } from 'node:net'
import { fileURLToPath } from 'node:url'
import { Cmd, HeartBeatCodec } from '../protocol/index.ts'
import { Connection, configureSocket, listenTcp } from '../remoting/index.ts'
import { formatRate, printMachine } from './machine.ts'

if (process.argv[2] === '--server') {
  const server = await listenTcp({
    host: '127.0.0.1',
    port: 0,
    onConnection: (conn) => {
      // echo the body as is: the answer carries the request's opaque
      conn.setFrameHandler((frame, c) => {
        const out = Buffer.allocUnsafe(19 + frame.body.length)
        out.writeUInt32BE(frame.opaque, 0)
        out[4] = Cmd.HEARTBEAT
        out.fill(0, 5, 15)
        out.writeInt32BE(frame.body.length, 15)
        frame.body.copy(out, 19)
        c.send(out)
      })
    },
  })
  process.send!({ port: server.port })
} else {
  const durationMs = Number(process.argv[2] ?? 5000)
  const inFlight = Number(process.argv[3] ?? 100)
  const child = fork(fileURLToPath(import.meta.url), ['--server'], { execArgv: ['--import=tsx'] })
  const [{ port }] = (await once(child, 'message')) as [{ port: number }]
  const socket = connect({ host: '127.0.0.1', port })
  configureSocket(socket)
  await once(socket, 'connect')
  const conn = new Connection(socket)
  let done = 0
  let stop = false
  const worker = async () => {
    let v = 0
    while (!stop) {
      await conn.requestMessage(Cmd.HEARTBEAT, HeartBeatCodec, { version: v++ }, Cmd.HEARTBEAT)
      done++
    }
  }
  // warm up, then measure
  const warm = Array.from({ length: inFlight }, worker)
  await new Promise((r) => setTimeout(r, 1000))
  const startDone = done
  const start = performance.now()
  await new Promise((r) => setTimeout(r, durationMs))
  const elapsed = performance.now() - start
  const measured = done - startDone
  stop = true
  await Promise.all(warm)
  printMachine('bench/echo: request/response over loopback TCP')
  console.log('| in flight | round trips | seconds | round trips/s |')
  console.log('|---|---|---|---|')
  console.log(`| ${inFlight} | ${measured} | ${(elapsed / 1000).toFixed(1)} | ${formatRate((measured * 1000) / elapsed)} |`)
  conn.close()
  child.kill()
}
