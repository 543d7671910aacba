/**
 * A client's connection to one broker address: dials, runs the handshake, keeps the connection
 * alive with heartbeats, and when it drops dials again with exponential backoff (and jitter, so a
 * broker restart is not met by every client at the same instant), re-running the handshake.
 */
import { EventEmitter } from 'node:events'
import { connect } from 'node:net'
import { Cmd } from '../protocol/commands.ts'
import { ConnectionClosedError, ErrorCodes, KiteQError, TimeoutError } from '../protocol/errors.ts'
import { silentLogger, type Logger } from '../protocol/logger.ts'
import { HeartBeatCodec } from '../protocol/messages.ts'
import { Connection, type ConnectionOptions, type FrameHandler } from './connection.ts'
import { configureSocket } from './tcp-server.ts'

export interface ReconnectOptions {
  initialDelayMs: number
  maxDelayMs: number
  /** Consecutive failed attempts after which the address is given up ('giveup'). */
  maxRetries: number
  /** Each delay is scaled by a random factor in [1 - jitter, 1 + jitter]. */
  jitter: number
}

export interface HeartbeatOptions {
  intervalMs: number
  /** How long one heartbeat may wait for its echo. */
  timeoutMs: number
  /** Heartbeats missed in a row after which the connection is closed and dialled again. */
  maxMisses: number
}

export const reconnectDefaults: ReconnectOptions = { initialDelayMs: 200, maxDelayMs: 30_000, maxRetries: Infinity, jitter: 0.2 }
export const heartbeatDefaults: HeartbeatOptions = { intervalMs: 10_000, timeoutMs: 5_000, maxMisses: 3 }

export interface ClientConnectionOptions extends ConnectionOptions {
  host: string
  port: number
  /** Runs on every fresh connection before it counts as ready; a rejection closes it. */
  handshake: (connection: Connection) => Promise<void>
  onFrame: FrameHandler
  connectTimeoutMs?: number
  reconnect?: Partial<ReconnectOptions>
  /** false disables heartbeats. */
  heartbeat?: Partial<HeartbeatOptions> | false
}

export interface ClientConnectionEvents {
  ready: [connection: Connection]
  down: [reason: Error | undefined]
  giveup: [reason: Error]
}

export class ClientConnection extends EventEmitter<ClientConnectionEvents> {
  readonly address: string
  readonly #options: ClientConnectionOptions
  readonly #reconnect: ReconnectOptions
  readonly #heartbeat: HeartbeatOptions | false
  readonly #logger: Logger
  #connection: Connection | undefined
  #ready = false
  #closed = false
  #failures = 0
  #retryTimer: NodeJS.Timeout | undefined
  #heartbeatTimer: NodeJS.Timeout | undefined
  #lastError: Error | undefined
  #readyWait: Promise<Connection> | undefined

  constructor(options: ClientConnectionOptions) {
    super()
    this.#options = options
    this.address = `${options.host}:${options.port}`
    this.#logger = (options.logger ?? silentLogger).child({ broker: this.address })
    this.#reconnect = { ...reconnectDefaults, ...options.reconnect }
    this.#heartbeat = options.heartbeat === false ? false : { ...heartbeatDefaults, ...options.heartbeat }
  }

  /** The handshaken connection, if there is one now. */
  get connection(): Connection | undefined {
    return this.#ready ? this.#connection : undefined
  }

  get isReady(): boolean {
    return this.#ready
  }

  get closed(): boolean {
    return this.#closed
  }

  start(): void {
    if (this.#connection === undefined && this.#retryTimer === undefined && !this.#closed) this.#dial()
  }

  /**
   * Resolves with a ready connection, waiting through reconnects; rejects on give-up or close.
   * Callers waiting at the same time share one promise (and one pair of listeners).
   */
  ready(): Promise<Connection> {
    if (this.#ready && this.#connection) return Promise.resolve(this.#connection)
    if (this.#closed) return Promise.reject(new ConnectionClosedError(`${this.address}: closed`))
    return (this.#readyWait ??= new Promise((resolve, reject) => {
      const cleanup = () => {
        this.off('ready', onReady)
        this.off('giveup', onGiveUp)
        this.#readyWait = undefined
      }
      const onReady = (c: Connection) => {
        cleanup()
        resolve(c)
      }
      const onGiveUp = (err: Error) => {
        cleanup()
        reject(err)
      }
      this.on('ready', onReady)
      this.on('giveup', onGiveUp)
    }))
  }

  close(): void {
    if (this.#closed) return
    this.#closed = true
    clearTimeout(this.#retryTimer)
    this.#retryTimer = undefined
    this.#stopHeartbeat()
    this.#connection?.close()
    this.emit('giveup', new ConnectionClosedError(`${this.address}: closed by the client`))
  }

  #dial(): void {
    const socket = connect({ host: this.#options.host, port: this.#options.port })
    configureSocket(socket)
    const connection = new Connection(socket, { ...this.#options, label: this.address, logger: this.#logger })
    connection.setFrameHandler(this.#options.onFrame)
    this.#connection = connection
    const connectTimer = setTimeout(
      () => connection.close(new TimeoutError(`${this.address}: connect timed out`)),
      this.#options.connectTimeoutMs ?? 5000,
    )
    socket.once('connect', () => {
      clearTimeout(connectTimer)
      this.#options.handshake(connection).then(
        () => {
          if (connection.closed) return
          this.#failures = 0
          this.#ready = true
          this.#startHeartbeat(connection)
          this.#logger.info('connected')
          this.emit('ready', connection)
        },
        (err: Error) => {
          this.#lastError = err
          this.#logger.warn({ err: err.message, code: (err as KiteQError).code }, 'handshake failed')
          connection.close(err)
        },
      )
    })
    connection.once('close', (reason) => {
      clearTimeout(connectTimer)
      this.#onClosed(connection, reason)
    })
  }

  #onClosed(connection: Connection, reason: Error | undefined): void {
    if (this.#connection !== connection) return
    const wasReady = this.#ready
    this.#ready = false
    this.#connection = undefined
    this.#stopHeartbeat()
    if (reason) this.#lastError = reason
    if (wasReady) {
      this.#logger.warn({ err: reason?.message }, 'connection lost')
      this.emit('down', reason)
    } else {
      this.#failures++
    }
    if (this.#closed) return
    if (this.#failures > this.#reconnect.maxRetries) {
      this.#closed = true
      const err = new KiteQError(ErrorCodes.NO_BROKER, `${this.address}: gave up after ${this.#failures} failed attempts`, {
        cause: this.#lastError,
      })
      this.#logger.error({ err: err.message }, 'giving up on broker')
      this.emit('giveup', err)
      return
    }
    const delay = this.#backoffDelay()
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined
      if (!this.#closed) this.#dial()
    }, delay)
  }

  #backoffDelay(): number {
    if (this.#failures === 0) return 0 // a ready connection dropped: dial again at once
    const { initialDelayMs, maxDelayMs, jitter } = this.#reconnect
    const base = Math.min(maxDelayMs, initialDelayMs * 2 ** Math.min(this.#failures - 1, 30))
    return Math.round(base * (1 - jitter + Math.random() * 2 * jitter))
  }

  #startHeartbeat(connection: Connection): void {
    const hb = this.#heartbeat
    if (hb === false) return
    const beat = async () => {
      for (let miss = 0; miss < hb.maxMisses; ) {
        if (connection.closed) return
        try {
          await connection.requestMessage(
            Cmd.HEARTBEAT, HeartBeatCodec, { version: Math.floor(Date.now() / 1000) }, Cmd.HEARTBEAT, hb.timeoutMs,
          )
          return
        } catch (err) {
          const code = (err as KiteQError).code
          if (code !== ErrorCodes.TIMEOUT && code !== ErrorCodes.BACKPRESSURE) return // closed
          // refused because the queue is full: the broker has not read for a while, which is as
          // much a miss as no answer (else a broker that stopped reading is never given up on)
          if (code === ErrorCodes.BACKPRESSURE) await new Promise((resolve) => setTimeout(resolve, hb.timeoutMs).unref())
          miss++
          this.#logger.warn({ miss, code }, 'heartbeat missed')
        }
      }
      connection.close(new TimeoutError(`${this.address}: ${hb.maxMisses} heartbeats missed`))
    }
    let running = false
    this.#heartbeatTimer = setInterval(() => {
      if (running) return
      running = true
      void beat().finally(() => (running = false))
    }, hb.intervalMs)
    this.#heartbeatTimer.unref()
  }

  #stopHeartbeat(): void {
    clearInterval(this.#heartbeatTimer)
    this.#heartbeatTimer = undefined
  }
}
