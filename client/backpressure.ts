/**
 * Sending through a Connection that may push back. A full queue means the broker (or the network)
 * is slower than we are for a moment; failing the send would turn that into an application error,
 * so we wait for the connection to drain and try once more. A second refusal is reported.
 */
import { BackpressureError } from '../protocol/errors.ts'
import type { Frame } from '../protocol/frame.ts'
import type { Connection } from '../remoting/connection.ts'
import type { MessageCodec } from '../protocol/schema.ts'

/** Queues an encoded one-way frame (an ack, an answer). */
export async function sendFrame(connection: Connection, frame: Buffer): Promise<void> {
  try {
    connection.send(frame)
  } catch (err) {
    if (!(err instanceof BackpressureError)) throw err
    await connection.waitForDrain()
    connection.send(frame)
  }
}

/**
 * Encodes and queues a one-way message. Undefined when it is queued at once (no promise on the
 * common path); otherwise a promise settling once it was queued after a drain, or refused twice.
 */
export function sendMessageFrame<T>(
  connection: Connection, opaque: number, cmdType: number, codec: MessageCodec<T>, message: T,
): Promise<void> | undefined {
  try {
    connection.sendMessage(opaque, cmdType, codec, message)
    return undefined
  } catch (err) {
    if (!(err instanceof BackpressureError)) return Promise.reject(err)
    return connection.waitForDrain().then(() => connection.sendMessage(opaque, cmdType, codec, message))
  }
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
    await connection.waitForDrain()
    // The refused frame was never queued, so it can take a fresh opaque in place.
    const retryOpaque = connection.nextOpaque()
    frame.writeUInt32BE(retryOpaque, 0)
    return connection.request(retryOpaque, frame, responseCmd, timeoutMs)
  }
}
