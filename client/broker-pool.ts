/**
 * One ClientConnection per broker address (shared by every topic the broker serves), and the choice
 * of a live one. The remoting layer redials and heartbeats; the pool adds what it cannot know: an
 * auth refusal is permanent, so a refused broker is closed for good instead of redialled forever.
 */
import { EventEmitter } from 'node:events'
import { ErrorCodes, type KiteQError } from '../protocol/errors.ts'
import type { Logger } from '../protocol/logger.ts'
import { ClientConnection, type HeartbeatOptions, type ReconnectOptions } from '../remoting/client-connection.ts'
import type { Connection, FrameHandler } from '../remoting/connection.ts'
import { parseAddress } from './discovery.ts'

export interface ConnectionTuning {
  heartbeat?: Partial<HeartbeatOptions> | false
  reconnect?: Partial<ReconnectOptions>
  maxQueuedBytes?: number
}

export interface BrokerPoolOptions {
  /** Runs on every (re)connection; a KiteQError with code AUTH stops that broker for good. */
  handshake: (connection: Connection) => Promise<void>
  onFrame: FrameHandler
  connection?: ConnectionTuning
  logger: Logger
}

export interface BrokerPoolEvents {
  up: [address: string]
  down: [address: string]
  refused: [address: string, error: KiteQError]
  /** reconnect.maxRetries dials in a row failed: the address is forgotten until sync() names it again. */
  'gave-up': [address: string, reason: Error]
}

export class BrokerPool extends EventEmitter<BrokerPoolEvents> {
  readonly #options: BrokerPoolOptions
  readonly #brokers = new Map<string, ClientConnection>()
  readonly #refusals = new Map<string, KiteQError>()
  #closed = false

  constructor(options: BrokerPoolOptions) {
    super()
    this.#options = options
  }

  get addresses(): string[] {
    return [...this.#brokers.keys()]
  }

  /** The first auth refusal met, if any. */
  get refusal(): KiteQError | undefined {
    return this.#refusals.values().next().value
  }

  /** Connects to addresses not yet known and closes the ones no longer wanted. */
  sync(wanted: ReadonlySet<string>): void {
    for (const address of [...this.#brokers.keys()]) if (!wanted.has(address)) this.remove(address)
    for (const address of wanted) this.add(address)
  }

  add(address: string): void {
    if (this.#closed || this.#brokers.has(address) || this.#refusals.has(address)) return
    let host: string
    let port: number
    try {
      ;({ host, port } = parseAddress(address))
    } catch (err) {
      this.#options.logger.error({ broker: address, err: (err as Error).message }, 'skipping a broker address that does not parse')
      return
    }
    const broker: ClientConnection = new ClientConnection({
      host,
      port,
      handshake: (connection) => this.#handshake(address, broker, connection),
      onFrame: this.#options.onFrame,
      heartbeat: this.#options.connection?.heartbeat,
      reconnect: this.#options.connection?.reconnect,
      maxQueuedBytes: this.#options.connection?.maxQueuedBytes,
      logger: this.#options.logger,
    })
    broker.on('ready', () => this.emit('up', address))
    broker.on('down', () => this.emit('down', address))
    broker.on('giveup', (reason) => {
      // the connection closed itself; forgotten, so that a later sync() may dial it again
      if (this.#closed || this.#brokers.get(address) !== broker) return
      this.#brokers.delete(address)
      broker.removeAllListeners()
      this.emit('gave-up', address, reason)
    })
    this.#brokers.set(address, broker)
    broker.start()
  }

  remove(address: string): void {
    const broker = this.#brokers.get(address)
    if (broker === undefined) return
    this.#brokers.delete(address)
    broker.close() // emits 'down' first if it was ready
    broker.removeAllListeners()
  }

  /** Handshaken connections among `addresses`. */
  readyConnections(addresses: Iterable<string>): Connection[] {
    const ready: Connection[] = []
    for (const address of addresses) {
      const connection = this.#brokers.get(address)?.connection
      if (connection !== undefined && !connection.closed) ready.push(connection)
    }
    return ready
  }

  /** A handshaken connection among `addresses`, uniformly at random (as kiteq-client-go picks). */
  pick(addresses: Iterable<string>): Connection | undefined {
    const ready = this.readyConnections(addresses)
    return ready.length === 0 ? undefined : ready[Math.floor(Math.random() * ready.length)]
  }

  close(): void {
    this.#closed = true
    for (const address of [...this.#brokers.keys()]) this.remove(address)
  }

  async #handshake(address: string, broker: ClientConnection, connection: Connection): Promise<void> {
    try {
      await this.#options.handshake(connection)
    } catch (err) {
      if ((err as KiteQError).code === ErrorCodes.AUTH && this.#brokers.get(address) === broker) {
        this.#options.logger.error({ broker: address, err: (err as Error).message }, 'broker refused our credentials; not dialling it again')
        this.#refusals.set(address, err as KiteQError)
        this.#brokers.delete(address)
        broker.close()
        broker.removeAllListeners()
        this.emit('refused', address, err as KiteQError)
      }
      throw err
    }
  }
}
