/**
 * One ZooKeeper session that outlives its own death. node-zookeeper-client's client is dead once
 * its session expired, so this owns one client at a time and opens a new one when the session is
 * reported expired, or when ZooKeeper stayed unreachable longer than the session timeout (expiry
 * is only reported on reconnection, which may never come during a partition). A server that stops
 * answering, or takes a connection and never greets, is noticed too (see #watch). Whoever
 * registers things listens for 'connected' and (re)does it: with `fresh` every ephemeral node and
 * watch of the previous session is gone.
 *
 * Requests are refused at once while disconnected, instead of being queued by the library until
 * some later reconnection replays them out of context; the owner resynchronises on 'connected'.
 */
import { EventEmitter } from 'node:events'
import {
  CreateMode, Exception as ZkException, createClient, type Client, type Exception, type Stat, type Watcher,
} from 'node-zookeeper-client'
import { ErrorCodes, KiteQError } from '../../protocol/errors.ts'
import { silentLogger, type Logger } from '../../protocol/logger.ts'

export interface ZkSessionOptions {
  /** 'h:p[,h:p]' */
  connectString: string
  /** Asked of ZooKeeper, which clamps it to [2, 20] ticks (here 2 s … 60 s). Default 5000, as KiteQ. */
  sessionTimeoutMs?: number
  /** Longest wait for one answer. Default: the session timeout. */
  requestTimeoutMs?: number
  logger?: Logger
}

export interface ZkSessionEvents {
  /** Usable again; `fresh` when this is a new session (nothing ephemeral or watched survives). */
  connected: [fresh: boolean]
}

export const zkSessionDefaults = { sessionTimeoutMs: 5000 } as const

/** The library's reconnect spin: a random wait up to this before trying the server list again. */
const SPIN_DELAY_MS = 500
/** How long close() lets the library say goodbye to the server before cutting the socket. */
const CLOSE_GRACE_MS = 2000
/** node-zookeeper-client's State.DISCONNECTED code. */
const DISCONNECTED_STATE = 0

function isZk(err: unknown, code: number): boolean {
  return typeof (err as Exception | undefined)?.getCode === 'function' && (err as Exception).getCode() === code
}

export class ZkSession extends EventEmitter<ZkSessionEvents> {
  readonly connectString: string
  readonly sessionTimeoutMs: number
  readonly #requestTimeoutMs: number
  readonly #logger: Logger
  #client: Client | undefined
  #connected = false
  #closed = false
  #outageSinceMs: number | undefined
  #presumeLostTimer: NodeJS.Timeout | undefined
  #watchTimer: NodeJS.Timeout | undefined
  #probing = false
  /** When the current dial began (set while not connected). */
  #dialingSinceMs = 0
  readonly #connectWaiters = new Set<(err?: Error) => void>()

  constructor(options: ZkSessionOptions) {
    super()
    this.connectString = options.connectString
    this.sessionTimeoutMs = options.sessionTimeoutMs ?? zkSessionDefaults.sessionTimeoutMs
    this.#requestTimeoutMs = options.requestTimeoutMs ?? this.sessionTimeoutMs
    this.#logger = options.logger ?? silentLogger
  }

  get connected(): boolean {
    return this.#connected
  }

  /** The live session's id and password (hex ids appear in ZooKeeper's logs; tests force expiry with them). */
  get credentials(): { id: Buffer; password: Buffer } | undefined {
    return this.#connected && this.#client !== undefined
      ? { id: this.#client.getSessionId(), password: this.#client.getSessionPassword() }
      : undefined
  }

  open(): void {
    if (this.#client !== undefined || this.#closed) return
    this.#client = this.#newClient()
    this.#watchTimer = setInterval(() => this.#watch(), Math.max(200, Math.floor(this.sessionTimeoutMs / 3))).unref()
  }

  /** Resolves once connected; fails with REGISTRY after `timeoutMs` or when closed meanwhile. */
  waitConnected(timeoutMs: number): Promise<void> {
    if (this.#connected) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const done = (err?: Error) => {
        clearTimeout(timer)
        this.off('connected', onConnected)
        this.#connectWaiters.delete(done)
        if (err === undefined) resolve()
        else reject(err)
      }
      const onConnected = () => done()
      const timer = setTimeout(() => {
        done(new KiteQError(ErrorCodes.REGISTRY, `no ZooKeeper session with ${this.connectString} within ${timeoutMs} ms`, { retriable: true }))
      }, timeoutMs)
      this.on('connected', onConnected)
      this.#connectWaiters.add(done)
    })
  }

  /** Ends the session (its ephemeral nodes go with it). */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    clearTimeout(this.#presumeLostTimer)
    clearInterval(this.#watchTimer)
    for (const fail of this.#connectWaiters) fail(new KiteQError(ErrorCodes.SHUTDOWN, 'the ZooKeeper session was closed'))
    this.#connectWaiters.clear()
    const client = this.#client
    const wasConnected = this.#connected
    this.#client = undefined
    this.#connected = false
    if (client !== undefined) await closeClient(client, wasConnected)
  }

  // ----------------------------------------------------------------------------------- requests

  /** The node's stat, or null when it does not exist; `watcher` fires on its creation, change or deletion. */
  exists(path: string, watcher?: Watcher): Promise<Stat | null> {
    return this.#request('exists', path, (c, done) => c.exists(path, watcher, (err, stat) => done(err, stat)))
  }

  /** The children's names, or undefined when the node does not exist. */
  children(path: string, watcher?: Watcher): Promise<string[] | undefined> {
    return this.#request('getChildren', path, (c, done) =>
      c.getChildren(path, watcher, (err, children) => (isZk(err, ZkException.NO_NODE) ? done(null, undefined) : done(err, children))))
  }

  /** The node's data (empty when it has none), or undefined when it does not exist. */
  data(path: string, watcher?: Watcher): Promise<Buffer | undefined> {
    return this.#request('getData', path, (c, done) =>
      c.getData(path, watcher, (err, data) => (isZk(err, ZkException.NO_NODE) ? done(null, undefined) : done(err, data ?? Buffer.alloc(0)))))
  }

  /** Creates the node and any missing parent as persistent, empty nodes; an existing node is left alone. */
  async ensurePersistent(path: string): Promise<void> {
    if ((await this.exists(path)) !== null) return
    await this.#request<string>('mkdirp', path, (c, done) => c.mkdirp(path, done))
  }

  /** Creates the node with `data`, or overwrites the data of the existing one (KiteQ's "create or set"). */
  async putPersistent(path: string, data: Buffer): Promise<void> {
    const parent = path.slice(0, path.lastIndexOf('/'))
    if (parent !== '') await this.ensurePersistent(parent)
    const created = await this.#request<boolean>('create', path, (c, done) =>
      c.create(path, data, CreateMode.PERSISTENT, (err) => (isZk(err, ZkException.NODE_EXISTS) ? done(null, false) : done(err, true))))
    if (!created) await this.#request('setData', path, (c, done) => c.setData(path, data, -1, done))
  }

  /**
   * Makes the (empty) ephemeral node belong to this session. A node left by an earlier session of
   * ours (ZooKeeper keeps it until that session times out) is deleted and re-created, as KiteQ does;
   * both in one transaction, so that watchers never see the address missing.
   */
  async putEphemeral(path: string): Promise<void> {
    const parent = path.slice(0, path.lastIndexOf('/'))
    if (parent !== '') await this.ensurePersistent(parent)
    for (let attempt = 0; ; attempt++) {
      const created = await this.#request<boolean>('create', path, (c, done) =>
        c.create(path, null, CreateMode.EPHEMERAL, (err) => (isZk(err, ZkException.NODE_EXISTS) ? done(null, false) : done(err, true))))
      if (created) return
      const stat = await this.exists(path)
      if (stat === null) continue // its session just ended: create it again
      const mine = this.#client?.getSessionId()
      if (mine !== undefined && stat.ephemeralOwner.equals(mine)) return
      this.#logger.info({ path, owner: stat.ephemeralOwner.toString('hex') }, 'replacing a registration left by an earlier ZooKeeper session')
      try {
        await this.#request<void>('multi', path, (c, done) =>
          c.transaction().remove(path, stat.version).create(path, null, CreateMode.EPHEMERAL).commit((err) => done(err, undefined)))
        return
      } catch (err) {
        // lost a race with the old session's expiry or a concurrent registration: look again
        if (attempt >= 4 || !this.#connected) throw err
      }
    }
  }

  /** Deletes the node; one that does not exist is fine. */
  remove(path: string): Promise<void> {
    return this.#request('remove', path, (c, done) =>
      c.remove(path, -1, (err) => done(isZk(err, ZkException.NO_NODE) ? null : err, undefined)))
  }

  #request<T>(op: string, path: string, run: (client: Client, done: (err: Exception | null | undefined, value: T) => void) => void): Promise<T> {
    const client = this.#client
    if (client === undefined || !this.#connected) {
      const why = this.#closed ? 'the session is closed' : 'ZooKeeper is not connected'
      return Promise.reject(new KiteQError(ErrorCodes.REGISTRY, `zookeeper ${op} ${path}: ${why}`, { retriable: !this.#closed }))
    }
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new KiteQError(ErrorCodes.REGISTRY, `zookeeper ${op} ${path}: no answer within ${this.#requestTimeoutMs} ms`, { retriable: true }))
      }, this.#requestTimeoutMs)
      run(client, (err, value) => {
        clearTimeout(timer)
        if (err === null || err === undefined) resolve(value)
        else reject(new KiteQError(ErrorCodes.REGISTRY, `zookeeper ${op} ${path}: ${err.getName?.() ?? err.message}`, { cause: err, retriable: true }))
      })
    })
  }

  // ---------------------------------------------------------------------------------- lifecycle

  #newClient(): Client {
    const client = createClient(this.connectString, { sessionTimeout: this.sessionTimeoutMs, spinDelay: SPIN_DELAY_MS })
    let fresh = true
    client.on('connected', () => {
      if (this.#client !== client) return
      this.#connected = true
      clearTimeout(this.#presumeLostTimer)
      this.#presumeLostTimer = undefined
      if (this.#outageSinceMs !== undefined) {
        this.#logger.info({ zk: this.connectString, outageMs: Date.now() - this.#outageSinceMs, newSession: fresh }, 'ZooKeeper reachable again')
        this.#outageSinceMs = undefined
      }
      const wasFresh = fresh
      fresh = false
      this.emit('connected', wasFresh)
    })
    client.on('disconnected', () => {
      if (this.#client !== client) return
      this.#connected = false
      this.#dialingSinceMs = Date.now()
      this.#outageBegins()
    })
    client.on('expired', () => {
      if (this.#client !== client) return
      this.#connected = false
      this.#outageSinceMs ??= Date.now()
      this.#logger.warn({ zk: this.connectString }, 'ZooKeeper session expired: opening a new one and registering again')
      // after the library has finished handling the answer that told it
      setImmediate(() => this.#replaceClient())
    })
    this.#dialingSinceMs = Date.now()
    client.connect()
    return client
  }

  #outageBegins(): void {
    if (this.#outageSinceMs === undefined) {
      this.#outageSinceMs = Date.now()
      this.#logger.warn({ zk: this.connectString }, 'ZooKeeper unreachable: keeping the last known brokers and bindings, reconnecting')
    }
    this.#presumeLostTimer ??= setTimeout(() => {
      this.#presumeLostTimer = undefined
      if (this.#connected || this.#closed) return
      this.#logger.info({ zk: this.connectString, sessionTimeoutMs: this.sessionTimeoutMs }, 'ZooKeeper unreachable for longer than the session timeout: the session is presumed lost, opening a new one')
      this.#replaceClient()
    }, this.sessionTimeoutMs)
  }

  #replaceClient(): void {
    if (this.#closed) return
    const old = this.#client
    this.#client = this.#newClient()
    if (old !== undefined) void closeClient(old, false)
  }

  /**
   * The library notices a closed socket, but neither a server that stopped answering (a half-open
   * connection, a session ZooKeeper is closing under us) nor one that took the connection and never
   * greets (a server still starting up): it waits forever in both. So every third of the session
   * timeout: when connected, a cheap read goes out and no answer within two thirds of the session
   * timeout (the Java client's read timeout) drops the connection; when not, a dial pending that
   * long is dropped and made again. Reconnecting resumes the session or reports it expired.
   */
  #watch(): void {
    const client = this.#client
    if (client === undefined || this.#closed) return
    const readTimeoutMs = Math.floor((this.sessionTimeoutMs * 2) / 3)
    if (!this.#connected) {
      if (Date.now() - this.#dialingSinceMs < readTimeoutMs) return
      this.#dialingSinceMs = Date.now()
      destroySocket(client)
      return
    }
    if (this.#probing) return
    this.#probing = true
    const timer = setTimeout(() => {
      if (this.#client !== client || !this.#connected) return
      this.#logger.warn({ zk: this.connectString }, 'ZooKeeper stopped answering: dropping the connection to reconnect')
      destroySocket(client)
    }, readTimeoutMs)
    client.exists('/', undefined, () => {
      clearTimeout(timer)
      this.#probing = false
    })
  }
}

/**
 * node-zookeeper-client has neither "reconnect now" nor "give up now": its close() queues a goodbye
 * that a client without a live connection sends on its next connection, and then takes the
 * server's greeting for the answer (an uncaught exception when the ids happen to match). Both are
 * done here on its connection manager, whose states are CLOSING -1 and CLOSED -2.
 */
interface ConnectionManagerInternals {
  state: number
  setState(state: number): void
  socket?: { destroy(): void }
}

const CLOSING = -1
const CLOSED = -2

function managerOf(client: Client): ConnectionManagerInternals | undefined {
  return (client as unknown as { connectionManager?: ConnectionManagerInternals }).connectionManager
}

/** Drops the connection; the library redials (resuming the session) unless it is closing. */
function destroySocket(client: Client): void {
  managerOf(client)?.socket?.destroy()
}

/**
 * Closes a client for good. A connected one ends its session politely; one that is not connected
 * is cut off without a goodbye (its session, if any, expires on the server).
 */
async function closeClient(client: Client, connected: boolean): Promise<void> {
  if (!connected) {
    const manager = managerOf(client)
    if (manager !== undefined && manager.state !== CLOSED) manager.setState(CLOSING)
    destroySocket(client)
    return
  }
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      destroySocket(client)
      resolve()
    }, CLOSE_GRACE_MS)
    client.on('state', (state) => {
      if (state.getCode() !== DISCONNECTED_STATE) return
      clearTimeout(timer)
      resolve()
    })
    client.close()
  })
}
