/**
 * Sending through a Connection that may push back. A full queue means the broker (or the network)
 * is slower than we are for a moment; failing the send would turn that into an application error,
 * so we wait for the connection to drain and try once more. A second refusal is reported.
 */
import { BackpressureError, TimeoutError } from '../protocol/errors.ts'
import type { Frame } from '../protocol/frame.ts'
import type { Connection } from '../remoting/connection.ts'
import type { MessageCodec } from '../protocol/schema.ts'

/**
 * Runs `queue` (a send on `connection`); refused for back-pressure, runs it once more after a
 * drain. Undefined when it was queued at once, so the common path makes no promise.
 */
function queueOrAfterDrain(connection: Connection, queue: () => void): Promise<void> | undefined {
  try {
    queue()
    return undefined
  } catch (err) {
    if (!(err instanceof BackpressureError)) return Promise.reject(err)
    return connection.waitForDrain().then(queue)
  }
}

/** Queues an encoded one-way frame (an ack, an answer). */
export function sendFrame(connection: Connection, frame: Buffer): Promise<void> {
  return queueOrAfterDrain(connection, () => connection.send(frame)) ?? Promise.resolve()
}

/**
 * Encodes and queues a one-way message. Undefined when it is queued at once (no promise on the
 * common path); otherwise a promise settling once it was queued after a drain, or refused twice.
 */
export function sendMessageFrame<T>(
  connection: Connection, opaque: number, cmdType: number, codec: MessageCodec<T>, message: T,
): Promise<void> | undefined {
  return queueOrAfterDrain(connection, () => connection.sendMessage(opaque, cmdType, codec, message))
}

/** Sends a request whose frame was encoded with `opaque` (from connection.nextOpaque()). */
export function requestFrame(
  connection: Connection, opaque: number, frame: Buffer, responseCmd: number, timeoutMs: number,
): Promise<Frame> {
  // the common case needs no wrapper: the queue has room, so there is no refusal to wait out
  if (connection.canQueue(frame.length)) return connection.request(opaque, frame, responseCmd, timeoutMs)
  return requestAfterDrain(connection, opaque, frame, responseCmd, timeoutMs)
}

async function requestAfterDrain(
  connection: Connection, opaque: number, frame: Buffer, responseCmd: number, timeoutMs: number,
): Promise<Frame> {
  try {
    return await connection.request(opaque, frame, responseCmd, timeoutMs)
  } catch (err) {
    if (!(err instanceof BackpressureError)) throw err
    // the wait for a drain is part of the request's time: a broker that stopped reading must not
    // hold a publish past its timeout
    const startedAt = Date.now()
    await drainWithin(connection, timeoutMs)
    // The refused frame was never queued, so it can take a fresh opaque in place.
    const retryOpaque = connection.nextOpaque()
    frame.writeUInt32BE(retryOpaque, 0)
    return connection.request(retryOpaque, frame, responseCmd, Math.max(1, timeoutMs - (Date.now() - startedAt)))
  }
}

function drainWithin(connection: Connection, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`${connection.label}: still pushing back after ${timeoutMs} ms`)), timeoutMs)
  })
  return Promise.race([connection.waitForDrain(), expired]).finally(() => clearTimeout(timer))
}
