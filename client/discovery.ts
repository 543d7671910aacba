/**
 * Where brokers come from. Standalone: a fixed list, every broker assumed to serve every topic.
 * File: KiteQ's YAML registry (binding/FileRegistry), followed as it changes. ZooKeeper: KiteQ's
 * znode layout (zk-discovery.ts), which also carries the client's announcement and bindings.
 */
import { isAbsolute, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Binding } from '../binding/binding.ts'
import { FileRegistry } from '../binding/file-registry.ts'
import { ErrorCodes, KiteQError } from '../protocol/errors.ts'
import type { Logger } from '../protocol/logger.ts'
import { ZkDiscovery } from './zk-discovery.ts'

/** Who the client is, for registries where clients announce themselves (ZooKeeper). */
export interface ClientIdentity {
  groupId: string
  publishTopics: readonly string[]
  bindings: readonly Binding[]
}

export interface Discovery {
  readonly kind: 'standalone' | 'file' | 'zk'
  /** Loads and starts following the source; `onChange` runs whenever the broker lists may differ. */
  open(onChange: () => void, identity?: ClientIdentity): void
  /** Addresses ('host:port') of the brokers serving `topic`. */
  brokersFor(topic: string): string[]
  /** Every address worth a connection for these topics. */
  addressesFor(topics: Iterable<string>): Set<string>
  close(): void | Promise<void>
}

export interface BrokerAddress {
  host: string
  port: number
}

function configError(message: string): KiteQError {
  return new KiteQError(ErrorCodes.CONFIG, message)
}

/** 'host:port', or '[v6]:port'. */
export function parseAddress(address: string): BrokerAddress {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(typeof address === 'string' ? address.trim() : '')
  const port = m ? Number(m[3]) : NaN
  if (!m || port < 1 || port > 65535) throw configError(`broker address '${String(address)}' is not 'host:port'`)
  return { host: m[1] ?? m[2], port }
}

export class StaticDiscovery implements Discovery {
  readonly kind = 'standalone'
  readonly #addresses: string[]

  constructor(addresses: readonly string[]) {
    if (!Array.isArray(addresses) || addresses.length === 0) throw configError('brokers must list at least one address')
    for (const a of addresses) parseAddress(a)
    this.#addresses = [...new Set(addresses.map((a) => a.trim()))]
  }

  open(): void {}

  brokersFor(): string[] {
    return this.#addresses
  }

  addressesFor(): Set<string> {
    return new Set(this.#addresses)
  }

  close(): void {}
}

export class FileDiscovery implements Discovery {
  readonly kind = 'file'
  readonly path: string
  readonly #logger: Logger
  #registry: FileRegistry | undefined

  constructor(path: string, logger: Logger) {
    this.path = path
    this.#logger = logger
  }

  /** Reads the file now: a missing or malformed file is a CONFIG error of start(). */
  open(onChange: () => void): void {
    if (this.#registry !== undefined) return
    const registry = new FileRegistry(this.path, { logger: this.#logger })
    registry.on('change', onChange)
    registry.watch()
    this.#registry = registry
  }

  brokersFor(topic: string): string[] {
    return this.#registry?.brokersFor(topic) ?? []
  }

  addressesFor(topics: Iterable<string>): Set<string> {
    const addresses = new Set<string>()
    for (const topic of topics) for (const a of this.brokersFor(topic)) addresses.add(a)
    return addresses
  }

  close(): void {
    this.#registry?.stopWatching()
    this.#registry?.removeAllListeners('change')
  }
}

/**
 * The discovery a registry URI names. 'file:///abs/path.yaml' (a proper file URL), or KiteQ's own
 * spelling 'file://relative/or/abs/path' (everything after the scheme taken as a path), or
 * 'zk://h:p[,h:p]'.
 */
export function discoveryFromRegistry(uri: string, logger: Logger): Discovery {
  if (typeof uri !== 'string' || uri === '') throw configError('registry must be a non-empty URI')
  if (uri.startsWith('zk://')) return new ZkDiscovery(uri, logger)
  if (!uri.startsWith('file://')) throw configError(`registry '${uri}' is neither file:// nor zk://`)
  let path: string
  if (uri.startsWith('file:///')) {
    try {
      path = fileURLToPath(uri)
    } catch (err) {
      throw configError(`registry '${uri}' is not a valid file URL: ${(err as Error).message}`)
    }
  } else {
    path = uri.slice('file://'.length)
  }
  if (path === '') throw configError(`registry '${uri}' names no file`)
  return new FileDiscovery(isAbsolute(path) ? path : resolve(path), logger)
}
