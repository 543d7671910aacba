/**
 * Bytes in and out of the broker's client port, for /stat's network section and /metrics.
 *
 * The broker's sockets are private to the transport, so they are seen through Node's built-in
 * diagnostics channel `net.server.socket` (published for every accepted TCP connection in the
 * process) and kept when they were accepted on the broker's port; the HTTP port's own sockets,
 * and other servers in the same process, are left out that way.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { Socket } from 'node:net'

const CHANNEL = 'net.server.socket'

export interface NetworkTotals {
  readBytes: number
  writtenBytes: number
  /** Connections accepted on the port since counting began. */
  accepted: number
  open: number
}

export class NetworkCounters {
  readonly #port: number
  readonly #open = new Set<Socket>()
  #closedReadBytes = 0
  #closedWrittenBytes = 0
  #accepted = 0
  #closed = false

  readonly #onSocket = (message: unknown): void => {
    const socket = (message as { socket?: unknown } | null)?.socket
    if (!(socket instanceof Socket) || socket.localPort !== this.#port) return
    this.#accepted++
    this.#open.add(socket)
    socket.once('close', () => {
      // a destroyed socket keeps its final byte counts
      this.#closedReadBytes += socket.bytesRead
      this.#closedWrittenBytes += socket.bytesWritten
      this.#open.delete(socket)
    })
  }

  /** Counts connections accepted from now on, on `port` (the broker's client port). */
  constructor(port: number) {
    this.#port = port
    subscribe(CHANNEL, this.#onSocket)
  }

  totals(): NetworkTotals {
    let readBytes = this.#closedReadBytes
    let writtenBytes = this.#closedWrittenBytes
    for (const s of this.#open) {
      readBytes += s.bytesRead
      writtenBytes += s.bytesWritten
    }
    return { readBytes, writtenBytes, accepted: this.#accepted, open: this.#open.size }
  }

  close(): void {
    if (this.#closed) return
    this.#closed = true
    unsubscribe(CHANNEL, this.#onSocket)
  }
}
