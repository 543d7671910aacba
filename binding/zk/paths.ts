/**
 * KiteQ's znode layout (kiteq-common registry_zk.go), fixed at /kiteq so that Go brokers and
 * clients and ours find each other, and the parsing of the ZooKeeper host lists KiteQ accepts.
 */
import { ErrorCodes, KiteQError } from '../../protocol/errors.ts'

export const KITEQ_ROOT = '/kiteq'
const SERVER = `${KITEQ_ROOT}/server`
const PUB = `${KITEQ_ROOT}/pub`
const SUB = `${KITEQ_ROOT}/sub`
const ALIVE = `${KITEQ_ROOT}/alive_servers`
const ALL = `${KITEQ_ROOT}/all_servers`
const BIND_SUFFIX = '-bind'

export const zkPaths = {
  serverTopic: (topic: string) => `${SERVER}/${topic}`,
  /** Ephemeral: the broker at `hostport` serves `topic`. */
  server: (topic: string, hostport: string) => `${SERVER}/${topic}/${hostport}`,
  pubTopic: (topic: string) => `${PUB}/${topic}`,
  /** Persistent: a producer of `groupId` on host `hostname` publishes to `topic`. */
  pub: (topic: string, groupId: string, hostname: string) => `${PUB}/${topic}/${groupId}/${hostname}`,
  subTopic: (topic: string) => `${SUB}/${topic}`,
  /** Persistent, data = the group's binding JSON for this topic. */
  bind: (topic: string, groupId: string) => `${SUB}/${topic}/${groupId}${BIND_SUFFIX}`,
  alive: (hostport: string) => `${ALIVE}/${hostport}`,
  all: (hostport: string) => `${ALL}/${hostport}`,
} as const

/** The group id of a child of /kiteq/sub/{topic}, or undefined for a node that is not a binding. */
export function groupOfBindNode(name: string): string | undefined {
  return name.endsWith(BIND_SUFFIX) && name.length > BIND_SUFFIX.length ? name.slice(0, -BIND_SUFFIX.length) : undefined
}

/** A path segment ZooKeeper accepts and that keeps KiteQ's layout intact. */
export function assertSegment(value: string, what: string): void {
  if (value === '' || value === '.' || value === '..' || value.includes('/') || value.includes('\u0000')) {
    throw new KiteQError(ErrorCodes.CONFIG, `${what} '${value}' cannot be a ZooKeeper path segment`)
  }
}

/**
 * 'h:p[,h:p]' from `-zkhost`, or 'zk://h:p[,h:p][?k=v]' from a registry URI, as node-zookeeper-client's
 * connection string. KiteQ parses and ignores the query; so do we.
 */
export function zkConnectString(hostsOrUri: string): string {
  if (typeof hostsOrUri !== 'string') throw new KiteQError(ErrorCodes.CONFIG, 'ZooKeeper hosts must be a string')
  let hosts = hostsOrUri.trim()
  if (hosts.startsWith('zk://')) hosts = hosts.slice('zk://'.length)
  hosts = hosts.split(/[?/#]/, 1)[0]
  const list = hosts.split(',').map((h) => h.trim()).filter(Boolean)
  if (list.length === 0) throw new KiteQError(ErrorCodes.CONFIG, `'${hostsOrUri}' names no ZooKeeper host`)
  for (const h of list) {
    const m = /^(?:\[[^\]]+\]|[^:[\]]+):(\d{1,5})$/.exec(h)
    const port = m ? Number(m[1]) : NaN
    if (!m || port < 1 || port > 65535) throw new KiteQError(ErrorCodes.CONFIG, `ZooKeeper host '${h}' in '${hostsOrUri}' is not host:port`)
  }
  return list.join(',')
}

/**
 * Options a zk:// URI may carry besides the hosts. KiteQ parses and ignores the query, so URIs with
 * it still mean the same ensemble to Go brokers and clients.
 */
export function zkUriOptions(uri: string): { sessionTimeoutMs?: number } {
  const q = uri.indexOf('?')
  if (q < 0) return {}
  const raw = new URLSearchParams(uri.slice(q + 1)).get('sessionTimeoutMs')
  if (raw === null) return {}
  const ms = Number(raw)
  if (!Number.isInteger(ms) || ms <= 0) throw new KiteQError(ErrorCodes.CONFIG, `sessionTimeoutMs=${raw} in '${uri}' is not a positive whole number`)
  return { sessionTimeoutMs: ms }
}
