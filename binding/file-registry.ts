/**
 * KiteQ's file registry: one YAML file naming the brokers (with the topics each serves) and the
 * bindings, re-read whenever it changes.
 *
 *   brokers:
 *     - { address: "127.0.0.1:13800", topics: [trade, feed], env: dev }
 *   bindings:
 *     - { groupIds: [s-mts-test], topic: trade, messageType: pay-succ, bindType: direct, watermark: 1000, persistent: true }
 *
 * Unlike KiteQ, topic lists need not be sorted (KiteQ binary-searched them) and change events carry
 * the real group id.
 */
import { EventEmitter } from 'node:events'
import { readFileSync, stat, statSync, type Stats } from 'node:fs'
import { parse as parseYaml } from 'yaml'
import { ErrorCodes, KiteQError } from '../protocol/errors.ts'
import { silentLogger, type Logger } from '../protocol/logger.ts'
import { BINDING_VERSION, bindTypeFromName, type Binding } from './binding.ts'
import type { BindingRegistry } from './registry.ts'

export interface RegistryBroker {
  address: string
  topics: string[]
  env?: string
}

export interface RegistryDocument {
  brokers: RegistryBroker[]
  bindings: Binding[]
}

function configError(path: string, what: string): KiteQError {
  return new KiteQError(ErrorCodes.CONFIG, `registry file ${path}: ${what}`)
}

export function parseRegistryYaml(text: string, path = '<inline>'): RegistryDocument {
  let doc: unknown
  try {
    doc = parseYaml(text)
  } catch (err) {
    throw configError(path, `YAML does not parse: ${(err as Error).message}`)
  }
  if (doc === null || doc === undefined) return { brokers: [], bindings: [] }
  if (typeof doc !== 'object') throw configError(path, 'must be a mapping with "brokers" and "bindings"')
  const root = doc as Record<string, unknown>
  const brokers: RegistryBroker[] = []
  const seen = new Set<string>()
  for (const [i, raw] of asList(root.brokers, path, 'brokers').entries()) {
    const b = raw as Record<string, unknown>
    if (typeof b?.address !== 'string' || b.address === '') throw configError(path, `brokers[${i}] needs an address`)
    if (seen.has(b.address)) throw configError(path, `broker ${b.address} is listed twice`)
    seen.add(b.address)
    brokers.push({
      address: b.address,
      topics: asList(b.topics, path, `brokers[${i}].topics`).map(String),
      ...(typeof b.env === 'string' ? { env: b.env } : {}),
    })
  }
  const bindings: Binding[] = []
  for (const [i, raw] of asList(root.bindings, path, 'bindings').entries()) {
    const b = raw as Record<string, unknown>
    if (typeof b?.topic !== 'string' || b.topic === '') throw configError(path, `bindings[${i}] needs a topic`)
    const bindType = bindTypeFromName(b.bindType)
    const messageType = bindType === 2 && typeof b.messageType !== 'string' ? '*' : b.messageType
    if (typeof messageType !== 'string' || messageType === '') throw configError(path, `bindings[${i}] needs a messageType`)
    for (const groupId of asList(b.groupIds, path, `bindings[${i}].groupIds`)) {
      bindings.push({
        groupId: String(groupId),
        topic: b.topic,
        messageType,
        bindType,
        version: BINDING_VERSION,
        watermark: typeof b.watermark === 'number' ? b.watermark : 1000,
        persistent: typeof b.persistent === 'boolean' ? b.persistent : true,
      })
    }
  }
  return { brokers, bindings }
}

function asList(value: unknown, path: string, what: string): unknown[] {
  if (value === undefined || value === null) return []
  if (!Array.isArray(value)) throw configError(path, `${what} must be a list`)
  return value
}

export interface FileRegistryEvents {
  change: [doc: RegistryDocument, previous: RegistryDocument]
}

export interface FileRegistryOptions {
  logger?: Logger
  /** How often the file's mtime is checked. */
  pollIntervalMs?: number
}

/** A registry file, loaded at construction (a bad file is a start-up error) and re-read on change. */
export class FileRegistry extends EventEmitter<FileRegistryEvents> implements BindingRegistry {
  readonly kind = 'file'
  readonly path: string
  #doc: RegistryDocument
  readonly #logger: Logger
  readonly #pollIntervalMs: number
  #poller: NodeJS.Timeout | undefined
  /**
   * The file's (mtime, size) when it was last read, or tried. Each poll compares with this: with
   * fs.watchFile, which compares with its own first look, a write between the read and that look
   * was never seen as a change.
   */
  #seen = { mtimeMs: -1, size: -1 }

  constructor(path: string, options: FileRegistryOptions = {}) {
    super()
    this.path = path
    this.#logger = options.logger ?? silentLogger
    this.#pollIntervalMs = options.pollIntervalMs ?? 500
    this.#doc = this.#read()
  }

  get document(): RegistryDocument {
    return this.#doc
  }

  /** Broker addresses that serve `topic` (exact match). */
  brokersFor(topic: string): string[] {
    return this.#doc.brokers.filter((b) => b.topics.includes(topic)).map((b) => b.address)
  }

  bindingsFor(topic: string): Binding[] {
    return this.#doc.bindings.filter((b) => b.topic === topic)
  }

  /** KiteQ's file registry announces nothing: it only follows the file. */
  async start(): Promise<void> {
    this.watch()
  }

  async updateTopics(): Promise<void> {}

  watch(): void {
    if (this.#poller !== undefined) return
    this.#poller = setInterval(() => stat(this.path, this.#onStat), this.#pollIntervalMs)
    // following the file never keeps the process alive
    this.#poller.unref()
  }

  async close(): Promise<void> {
    this.stopWatching()
  }

  stopWatching(): void {
    clearInterval(this.#poller)
    this.#poller = undefined
  }

  /** Re-reads the file now; a bad file keeps the previous document (and is logged). */
  reload(): boolean {
    let next: RegistryDocument
    try {
      next = this.#read()
    } catch (err) {
      this.#logger.error({ code: (err as KiteQError).code, err: (err as Error).message }, 'registry reload failed; keeping the previous one')
      return false
    }
    const previous = this.#doc
    this.#doc = next
    this.#logger.info({ path: this.path, brokers: next.brokers.length, bindings: next.bindings.length }, 'registry file reloaded')
    this.emit('change', next, previous)
    return true
  }

  readonly #onStat = (err: Error | null, current: Stats | undefined): void => {
    if (this.#poller === undefined) return
    // a missing file counts as a change too: reload() logs it
    const now = err === null && current !== undefined ? { mtimeMs: current.mtimeMs, size: current.size } : { mtimeMs: 0, size: 0 }
    if (now.mtimeMs === this.#seen.mtimeMs && now.size === this.#seen.size) return
    // tried once per change: a broken file is logged once, not at every poll
    this.#seen = now
    this.reload()
  }

  #read(): RegistryDocument {
    let text: string
    try {
      // looked at before reading: a write in between is seen as a change at the next poll
      const stat = statSync(this.path)
      this.#seen = { mtimeMs: stat.mtimeMs, size: stat.size }
      text = readFileSync(this.path, 'utf8')
    } catch (err) {
      throw configError(this.path, `cannot be read: ${(err as Error).message}`)
    }
    return parseRegistryYaml(text, this.path)
  }
}
