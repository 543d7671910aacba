// node-zookeeper-client ships no types. Only what binding/zk/ calls, as version 1.1.x behaves
// (longs such as session ids and ephemeralOwner come back as 8-byte Buffers).
declare module 'node-zookeeper-client' {
  export interface Stat {
    version: number
    cversion: number
    /** The owning session's id for an ephemeral node; all zero bytes for a persistent one. */
    ephemeralOwner: Buffer
    dataLength: number
    numChildren: number
  }

  export interface Exception extends Error {
    getCode(): number
    getName(): string
    getPath(): string | undefined
  }

  export interface Event {
    getType(): number
    getName(): string
    getPath(): string
  }

  export interface State {
    getName(): string
    getCode(): number
  }

  export type Watcher = (event: Event) => void
  type Done<T> = (error: Exception | null | undefined, result: T) => void

  export interface ClientOptions {
    sessionTimeout?: number
    spinDelay?: number
    retries?: number
    sessionId?: Buffer
    sessionPassword?: Buffer
  }

  export interface Transaction {
    create(path: string, data: Buffer | null, mode: number): Transaction
    /** version 0 is taken as -1 (any) by the library. */
    remove(path: string, version: number): Transaction
    commit(callback: (error: Exception | null | undefined) => void): void
  }

  export interface Client {
    connect(): void
    transaction(): Transaction
    close(): void
    getState(): State
    getSessionId(): Buffer
    getSessionPassword(): Buffer
    getSessionTimeout(): number
    create(path: string, data: Buffer | null, mode: number, callback: Done<string>): void
    remove(path: string, version: number, callback: (error: Exception | null | undefined) => void): void
    setData(path: string, data: Buffer, version: number, callback: Done<Stat>): void
    getData(path: string, watcher: Watcher | undefined, callback: (error: Exception | null | undefined, data: Buffer | undefined, stat: Stat) => void): void
    exists(path: string, watcher: Watcher | undefined, callback: Done<Stat | null>): void
    getChildren(path: string, watcher: Watcher | undefined, callback: (error: Exception | null | undefined, children: string[], stat: Stat) => void): void
    mkdirp(path: string, callback: Done<string>): void
    on(event: 'connected' | 'disconnected' | 'expired' | 'authenticationFailed' | 'connectedReadOnly', listener: () => void): this
    on(event: 'state', listener: (state: State) => void): this
    removeAllListeners(): this
  }

  export function createClient(connectionString: string, options?: ClientOptions): Client

  export const CreateMode: { PERSISTENT: 0; EPHEMERAL: 1; PERSISTENT_SEQUENTIAL: 2; EPHEMERAL_SEQUENTIAL: 3 }
  export const Exception: { NO_NODE: -101; NODE_EXISTS: -110; NOT_EMPTY: -111; CONNECTION_LOSS: -4; SESSION_EXPIRED: -112 }
  export const Event: { NODE_CREATED: 1; NODE_DELETED: 2; NODE_DATA_CHANGED: 3; NODE_CHILDREN_CHANGED: 4 }
}
