/** Opens the store a `-db` URI names. */
import { ErrorCodes, KiteQError } from '../protocol/errors.ts'
import type { Logger } from '../protocol/logger.ts'
import { MemoryStore, memoryStoreDefaults } from './memory-store.ts'
import type { MessageStore } from './message-store.ts'

export interface OpenStoreOptions {
  logger?: Logger
}

function positiveInt(url: URL, name: string, fallback: number): number {
  const raw = url.searchParams.get(name)
  if (raw === null) return fallback
  const n = Number(raw)
  if (!Number.isInteger(n) || n <= 0) throw new KiteQError(ErrorCodes.CONFIG, `-db: ${name}=${raw} must be a positive integer`)
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
    default:
      throw new KiteQError(ErrorCodes.CONFIG, `-db scheme '${url.protocol}' is not supported (memory://)`)
  }
}
