/** KiteQClient's options, their defaults, and the one place they are validated. */
import { ErrorCodes, KiteQError } from '../protocol/errors.ts'
import { silentLogger, type Logger } from '../protocol/logger.ts'
import type { HeartbeatOptions, ReconnectOptions } from '../remoting/client-connection.ts'
import { StaticDiscovery, discoveryFromRegistry, type Discovery } from './discovery.ts'

export interface KiteQClientOptions {
  groupId: string
  /** Default ''. KiteQ brokers do not check it. */
  secretKey?: string
  /** Default 0: the broker ramps deliveries up over this many seconds after we connect. */
  warmingupSec?: number
  /** Standalone mode: 'host:port' addresses, each assumed to serve every topic. */
  brokers?: string[]
  /** 'file:///abs/path.yaml' (KiteQ's YAML registry, followed as it changes) or 'zk://host:port[,host:port]'. */
  registry?: string
  /** Default 3000 (KiteQ): how long a publish waits for MESSAGE_STORE_ACK. */
  publishTimeoutMs?: number
  /** Default 10000: start() fails with NO_BROKER if a topic has no ready broker by then. */
  startTimeoutMs?: number
  connection?: { heartbeat?: Partial<HeartbeatOptions> | false; reconnect?: Partial<ReconnectOptions>; maxQueuedBytes?: number }
  logger?: Logger
}

export const clientDefaults = {
  secretKey: '',
  warmingupSec: 0,
  publishTimeoutMs: 3000,
  startTimeoutMs: 10_000,
  /** Per handshake request: KiteQ waits 5 s for CONN_AUTH. */
  handshakeTimeoutMs: 5000,
} as const

export interface ResolvedOptions {
  groupId: string
  secretKey: string
  warmingupSec: number
  publishTimeoutMs: number
  startTimeoutMs: number
  handshakeTimeoutMs: number
  connection: NonNullable<KiteQClientOptions['connection']>
  logger: Logger
  discovery: Discovery
}

function invalid(message: string): KiteQError {
  return new KiteQError(ErrorCodes.INVALID_ARGUMENT, message)
}

function positiveMs(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw invalid(`${name} must be a positive number of milliseconds`)
  return value
}

export function resolveOptions(options: KiteQClientOptions): ResolvedOptions {
  if (options === null || typeof options !== 'object') throw invalid('KiteQClient needs an options object')
  const { groupId, secretKey = clientDefaults.secretKey, warmingupSec = clientDefaults.warmingupSec } = options
  if (typeof groupId !== 'string' || groupId === '') throw invalid('groupId must be a non-empty string')
  if (typeof secretKey !== 'string') throw invalid('secretKey must be a string')
  if (!Number.isInteger(warmingupSec) || warmingupSec < 0 || warmingupSec > 0x7fffffff) {
    throw invalid('warmingupSec must be a non-negative whole number of seconds')
  }
  const logger = options.logger ?? silentLogger
  const hasBrokers = options.brokers !== undefined
  const hasRegistry = options.registry !== undefined
  if (hasBrokers === hasRegistry) throw new KiteQError(ErrorCodes.CONFIG, 'give exactly one of brokers (standalone) or registry')
  const discovery = hasBrokers ? new StaticDiscovery(options.brokers!) : discoveryFromRegistry(options.registry!, logger)
  return {
    groupId,
    secretKey,
    warmingupSec,
    publishTimeoutMs: positiveMs(options.publishTimeoutMs, 'publishTimeoutMs', clientDefaults.publishTimeoutMs),
    startTimeoutMs: positiveMs(options.startTimeoutMs, 'startTimeoutMs', clientDefaults.startTimeoutMs),
    handshakeTimeoutMs: clientDefaults.handshakeTimeoutMs,
    connection: options.connection ?? {},
    logger,
    discovery,
  }
}
