/** Opens the store a `-db` URI names. */
import { ErrorCodes, KiteQError } from '../protocol/errors.ts'
import type { Logger } from '../protocol/logger.ts'
import { FileStore, fileStoreDefaults } from './file-store.ts'
import { MemoryStore, memoryStoreDefaults } from './memory-store.ts'
import type { FsyncPolicy } from './message-store.ts'
import { SqliteStore, sqliteStoreDefaults } from './sqlite-store.ts'
import type { MessageStore } from './message-store.ts'
import { MysqlStore, mysqlOptionsFromUrl } from './mysql-store.ts'

export interface OpenStoreOptions {
  logger?: Logger
  /** The broker's listen address (host:port): `mysql://` derives its default broker identity from it. */
  bind?: string
}

/** KiteQ's convention for file URIs: the path is host + pathname, so `x://./data` is relative. */
function pathOfUri(url: URL): string {
  return decodeURIComponent(url.host + url.pathname)
}

function fsyncPolicy(url: URL, fallback: FsyncPolicy): FsyncPolicy {
  const raw = url.searchParams.get('fsync') ?? fallback
  if (raw !== 'batch' && raw !== 'interval' && raw !== 'never') {
    throw new KiteQError(ErrorCodes.CONFIG, `-db: fsync=${raw} must be batch, interval or never`)
  }
  return raw
}

function booleanParam(url: URL, name: string, fallback: boolean): boolean {
  const raw = url.searchParams.get(name)
  if (raw === null) return fallback
  if (raw !== 'true' && raw !== 'false') throw new KiteQError(ErrorCodes.CONFIG, `-db: ${name}=${raw} must be true or false`)
  return raw === 'true'
}

function positiveInt(url: URL, name: string, fallback: number): number {
  return integerParam(url, name, fallback, 1, 'a positive integer')
}

function nonNegativeInt(url: URL, name: string, fallback: number): number {
  return integerParam(url, name, fallback, 0, 'an integer ≥ 0')
}

function integerParam(url: URL, name: string, fallback: number, least: number, what: string): number {
  const raw = url.searchParams.get(name)
  if (raw === null) return fallback
  const n = Number(raw)
  if (!Number.isInteger(n) || n < least) throw new KiteQError(ErrorCodes.CONFIG, `-db: ${name}=${raw} must be ${what}`)
  return n
}

export function openStore(uri: string, _options: OpenStoreOptions = {}): MessageStore {
  let url: URL
  try {
    url = new URL(uri)
  } catch {
    throw new KiteQError(ErrorCodes.CONFIG, `-db '${uri}' is not a URI (e.g. memory://)`)
  }
  switch (url.protocol) {
    case 'memory:':
      return new MemoryStore({
        maxMessages: positiveInt(url, 'maxMessages', memoryStoreDefaults.maxMessages),
        maxBytes: positiveInt(url, 'maxBytes', memoryStoreDefaults.maxBytes),
      })
    case 'sqlite:': {
      const path = pathOfUri(url)
      if (path === '' || path.endsWith('/')) throw new KiteQError(ErrorCodes.CONFIG, `-db '${uri}' needs a database file path`)
      return new SqliteStore({
        path,
        fsync: fsyncPolicy(url, sqliteStoreDefaults.fsync),
        fsyncIntervalMs: positiveInt(url, 'fsyncIntervalMs', sqliteStoreDefaults.fsyncIntervalMs),
        walLimitBytes: positiveInt(url, 'walLimitBytes', sqliteStoreDefaults.walLimitBytes),
        maxMessages: url.searchParams.has('maxMessages') ? positiveInt(url, 'maxMessages', 0) : 0,
        ...(_options.logger ? { logger: _options.logger } : {}),
      })
    }
    case 'file:': {
      // file:///abs/dir, or relative the KiteQ way (host + path): file://./data is ./data
      const dir = pathOfUri(url)
      if (dir === '' || dir === '/') throw new KiteQError(ErrorCodes.CONFIG, `-db '${uri}' needs a directory (file:///abs/dir or file://./dir)`)
      const segmentBytes = positiveInt(url, 'segmentBytes', fileStoreDefaults.segmentBytes)
      if (segmentBytes > 2 ** 31) throw new KiteQError(ErrorCodes.CONFIG, `-db: segmentBytes=${segmentBytes} must be at most ${2 ** 31}`)
      return new FileStore({
        dir,
        fsync: fsyncPolicy(url, fileStoreDefaults.fsync),
        fsyncIntervalMs: positiveInt(url, 'fsyncIntervalMs', fileStoreDefaults.fsyncIntervalMs),
        segmentBytes,
        maxMessages: url.searchParams.has('maxMessages') ? positiveInt(url, 'maxMessages', 0) : 0,
        syncReadBytes: nonNegativeInt(url, 'syncReadBytes', fileStoreDefaults.syncReadBytes),
        readThread: booleanParam(url, 'readThread', fileStoreDefaults.readThread),
        ...(_options.logger ? { logger: _options.logger } : {}),
      })
    }
    case 'mysql:':
      return new MysqlStore({ ...mysqlOptionsFromUrl(url, _options.bind), ...(_options.logger ? { logger: _options.logger } : {}) })
    default:
      throw new KiteQError(ErrorCodes.CONFIG, `-db scheme '${url.protocol}' is not supported (memory://, file://, sqlite://, mysql://)`)
  }
}
