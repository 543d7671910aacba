#!/usr/bin/env node
/**
 * The broker's command line. Flags (`-flag=value` or `--flag value`), KITEQ_* environment
 * variables and a -config file (YAML or JSON with the flags' names as keys) map onto one options
 * object, validated once; a bad value stops start-up with one line saying what is wrong.
 * Precedence: flag > environment > config file > default.
 */
import { readFileSync, realpathSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
import { pino } from 'pino'
import yargs from 'yargs'
import { parse as parseYaml } from 'yaml'
import { FileRegistry } from './binding/file-registry.ts'
import { ZkRegistry } from './binding/zk-registry.ts'
import { zkConnectString, zkUriOptions } from './binding/zk/paths.ts'
import { ErrorCodes, KiteQError } from './protocol/errors.ts'
import type { Logger } from './protocol/logger.ts'
import { KiteQServer, parseHostPort, serverDefaults } from './server/kiteq-server.ts'
import { openStore } from './store/open-store.ts'
import { instrumentStore } from './stat/instrument-store.ts'
import { BrokerMetrics } from './stat/metrics.ts'
import { startOperatorView, type OperatorView } from './stat/operator-view.ts'
import { KafkaBridge, type KafkaDeliveryTarget } from './kafka/bridge.ts'
import { kafkaFromFlags } from './kafka/flags.ts'
import { escapeRoute } from './kafka/routes.ts'

export const cliDefaults = {
  bind: '127.0.0.1:13800',
  pport: -1,
  adminToken: '',
  protectReads: 'false',
  db: 'sqlite://./kiteq-data/kiteq.db',
  topics: '',
  zkhost: '',
  registry: '',
  secrets: '',
  config: '',
  logLevel: 'info',
  deliverySeconds: serverDefaults.deliveryTimeoutMs / 1000,
  acceptPermits: serverDefaults.acceptPermitsPerSecond,
  txCheckFirstSeconds: serverDefaults.txCheck.firstDelayMs / 1000,
  txCheckIntervalSeconds: serverDefaults.txCheck.intervalMs / 1000,
  txCheckMax: serverDefaults.txCheck.maxChecks,
  maxDelaySeconds: serverDefaults.maxDelayMs / 1000,
  dueGroupWindow: serverDefaults.dueGroupWindow,
  dueTopicQueue: serverDefaults.dueTopicQueue,
  overdueToDeadLetter: '',
  kafka: '',
  kafkaRoutes: '',
} as const

type CliOptions = { -readonly [K in keyof typeof cliDefaults]: (typeof cliDefaults)[K] extends number ? number : string }
type NumberOption = { [K in keyof CliOptions]: CliOptions[K] extends number ? K : never }[keyof CliOptions]

/** What each number option accepts: above 0, or a least or a most value; whole numbers only. */
const numberRules: Record<NumberOption, { positive?: true; min?: number; max?: number; whole?: true }> = {
  pport: { max: 65535, whole: true }, // ≤ 0 turns the HTTP port off
  deliverySeconds: { positive: true },
  acceptPermits: { min: 0 },
  txCheckFirstSeconds: { min: 0 },
  txCheckIntervalSeconds: { positive: true },
  txCheckMax: { min: 1, whole: true },
  maxDelaySeconds: { positive: true },
  dueGroupWindow: { min: 1, whole: true },
  dueTopicQueue: { min: 2, whole: true },
}

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']

const descriptions: Record<keyof CliOptions, string> = {
  bind: 'host:port to listen on',
  pport: 'HTTP port for /stat, /binds, /reload, /metrics, the JSON API /api/* and the web console (on the bind host); ≤ 0 disables it',
  adminToken: 'enables admin actions on the HTTP port (cancel, reschedule, re-drive, reload) for Authorization: Bearer <token>; unset, they are refused',
  protectReads: '-protectReads (or =true): the HTTP port\'s read-only pages need the admin token too',
  db: 'message store URI: sqlite://path.db (default, embedded; fsync=batch|interval|never, walLimitBytes=N), file://dir, mysql://host:port?db=kite&user=…, memory:// (maxMessages=N); every parameter: README.md, "Stores and durability"',
  topics: 'comma-separated topics this broker serves (required)',
  zkhost: 'ZooKeeper hosts, host:port[,host:port] (same as -registry=zk://…)',
  registry: 'registry URI: file:///path/registry.yaml or zk://host:port[,host:port][?sessionTimeoutMs=N]',
  secrets: 'per-group secrets, group:secret[,group:secret]; when set, only these groups may connect',
  config: 'a YAML or JSON file holding any of these options',
  logLevel: `log level: ${LOG_LEVELS.join(', ')}`,
  deliverySeconds: 'seconds a consumer has to answer a delivery',
  acceptPermits: 'broker-wide accept limit in messages per second (0 = none)',
  txCheckFirstSeconds: 'first check-back of an undecided transaction after this many seconds',
  txCheckIntervalSeconds: 'seconds between transaction check-backs',
  txCheckMax: 'check-backs before an undecided transaction is dead-lettered',
  maxDelaySeconds: 'how far ahead a producer may schedule a message (deliverAt); default one year',
  dueGroupWindow: 'scheduled deliveries (delayed messages, retries) per consumer group unanswered at most; a group that stops answering holds back only its own topics',
  dueTopicQueue: 'fired scheduled deliveries a topic keeps in memory at most; the rest stay in the store and are re-read as it drains',
  overdueToDeadLetter: 'comma-separated topics whose delayed messages that fell due while the broker was down are dead-lettered on start instead of delivered late',
  kafka: 'Kafka brokers host:port[,host:port] to forward messages to (with -kafkaRoutes)',
  kafkaRoutes: 'KiteQ → Kafka routes, topic[/=type|/~regex]:kafkaTopic[@perSecond][,…]; each Kafka topic is a bound group kafka:<topic> (see kafka/README.md)',
}

function configError(message: string): KiteQError {
  return new KiteQError(ErrorCodes.CONFIG, message)
}

/** Reads flags, environment and config file into validated options (throws KITEQ_ERR_CONFIG). */
export function parseCli(argv: string[], env: NodeJS.ProcessEnv = process.env): CliOptions {
  let parserError: string | undefined
  const parser = yargs(argv)
    .parserConfiguration({ 'short-option-groups': false, 'camel-case-expansion': false })
    .usage('./kiteq -bind=127.0.0.1:13800 -topics=trade,feed [options]')
    .strict()
    .exitProcess(false)
    .version(false)
    .fail((msg, err) => {
      parserError = msg ?? err?.message
    })
  for (const [name, fallback] of Object.entries(cliDefaults)) {
    parser.option(name, {
      type: 'string', // converted by validate(), so a bad number is reported as typed
      describe: descriptions[name as keyof CliOptions],
      default: fallback,
    })
  }
  const parsed = parser.parseSync() as Record<string, unknown>
  if (parserError !== undefined) throw configError(parserError)
  if (parsed.help) return { ...cliDefaults, help: true } as unknown as CliOptions

  const explicit = new Set(argv.map((a) => /^--?([A-Za-z]+)/.exec(a)?.[1]).filter(Boolean))
  // yargs hands a flag given without a value its default: say so rather than run on the default
  for (const name of flagsWithoutValue(argv)) {
    if (name === 'protectReads') parsed.protectReads = 'true'
    else if (name !== 'help' && name in cliDefaults) throw configError(`-${name} needs a value: -${name}=…`)
  }
  const envOf = (name: string) => env[`KITEQ_${name.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`]
  const configPath = explicit.has('config') ? String(parsed.config) : envOf('config') ?? ''
  const fromFile = configPath !== '' ? readConfigFile(configPath) : {}
  const options = { ...cliDefaults } as Record<string, unknown>
  for (const name of Object.keys(cliDefaults)) {
    const envValue = envOf(name)
    if (explicit.has(name)) options[name] = parsed[name]
    else if (envValue !== undefined) options[name] = envValue
    else if (name in fromFile) options[name] = fromFile[name]
  }
  return validate(options)
}

/** Flags written bare (`-name`, not `-name=value` nor `--name value`). */
function flagsWithoutValue(argv: string[]): string[] {
  return argv.flatMap((arg, i) => {
    const name = /^--?([A-Za-z]+)$/.exec(arg)?.[1]
    const next = argv[i + 1]
    const valueFollows = next !== undefined && (!next.startsWith('-') || /^-\d/.test(next))
    return name !== undefined && !valueFollows ? [name] : []
  })
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    throw configError(`-config ${path} cannot be read: ${(err as Error).message}`)
  }
  let doc: unknown
  try {
    doc = parseYaml(text) // YAML is a superset of JSON
  } catch (err) {
    // the parser's message goes on with the offending lines and a caret: its first line says it
    throw configError(`-config ${path} does not parse: ${(err as Error).message.split('\n')[0]}`)
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw configError(`-config ${path} must be a mapping of option names`)
  const unknown = Object.keys(doc).filter((k) => !(k in cliDefaults))
  if (unknown.length > 0) throw configError(`-config ${path}: unknown option ${unknown.join(', ')}`)
  const out = { ...(doc as Record<string, unknown>) }
  // lists are welcome in a file
  if (Array.isArray(out.kafkaRoutes)) out.kafkaRoutes = (out.kafkaRoutes as unknown[]).map((r) => escapeRoute(String(r))).join(',')
  for (const k of ['topics', 'secrets', 'overdueToDeadLetter', 'kafka'] as const) {
    if (Array.isArray(out[k])) out[k] = (out[k] as unknown[]).join(',')
    else if (k === 'secrets' && out[k] !== null && typeof out[k] === 'object') {
      out[k] = Object.entries(out[k] as Record<string, unknown>).map(([g, s]) => `${g}:${scalarText(s, `secrets.${g}`)}`).join(',')
    }
  }
  return out
}

/** A config file's value for a text option: YAML may hand in a number or a boolean, never a structure. */
function scalarText(value: unknown, name: string): string {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return String(value)
  throw configError(`-${name}: expected a single value, got ${Array.isArray(value) ? 'a list' : typeof value === 'object' ? 'a mapping' : typeof value}`)
}

function numberOption(name: NumberOption, value: unknown): number {
  // '' (a bare flag) and true are no numbers, though Number() makes them 0 and 1
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN
  if (!Number.isFinite(n)) throw configError(`-${name}: '${String(value)}' is not a number`)
  const { positive, min, max, whole } = numberRules[name]
  if (positive && !(n > 0)) throw configError(`-${name} must be positive, got ${n}`)
  if ((whole && !Number.isInteger(n)) || (min !== undefined && n < min) || (max !== undefined && n > max)) {
    const range = min !== undefined ? `of at least ${min}` : `of at most ${max}`
    throw configError(`-${name} must be ${whole ? 'a whole number' : 'a number'} ${range}, got ${n}`)
  }
  return n
}

function validate(raw: Record<string, unknown>): CliOptions {
  const out = {} as Record<string, unknown>
  for (const [name, fallback] of Object.entries(cliDefaults)) {
    const value = raw[name]
    if (typeof fallback === 'number') out[name] = numberOption(name as NumberOption, value)
    else out[name] = value === undefined || value === null ? '' : scalarText(value, name)
  }
  const o = out as CliOptions
  parseHostPort(o.bind, '-bind')
  if (topicList(o.topics).length === 0) throw configError('-topics is required: the comma-separated topics this broker serves')
  if (protectReadsOf(o) && o.adminToken === '') throw configError('-protectReads needs -adminToken: the token is what read-only pages are protected with')
  if (!LOG_LEVELS.includes(o.logLevel)) throw configError(`-logLevel '${o.logLevel}' is not one of ${LOG_LEVELS.join(', ')}`)
  if (o.registry !== '' && !/^(file|zk):\/\//.test(o.registry)) throw configError(`-registry '${o.registry}' must start with file:// or zk://`)
  if (o.zkhost !== '' && o.registry !== '') throw configError('give -zkhost or -registry, not both')
  const zk = o.zkhost !== '' ? o.zkhost : o.registry.startsWith('zk://') ? o.registry : ''
  if (zk !== '') {
    // a bad host list stops start-up here rather than at the first connection attempt
    zkConnectString(zk)
    zkUriOptions(zk)
  }
  parseSecrets(o.secrets)
  kafkaFromFlags(o, topicList(o.topics))
  return o
}

function parseSecrets(spec: string): Record<string, string> | undefined {
  if (spec.trim() === '') return undefined
  const out: Record<string, string> = {}
  for (const pair of spec.split(',')) {
    const i = pair.indexOf(':')
    if (i <= 0 || i === pair.length - 1) throw configError(`-secrets: '${pair}' is not group:secret`)
    out[pair.slice(0, i).trim()] = pair.slice(i + 1)
  }
  return out
}

/** -protectReads, -protectReads=true|1 or false|0 (a bare flag arrives as ''). */
function protectReadsOf(o: CliOptions): boolean {
  const v = o.protectReads.trim().toLowerCase()
  if (v === 'true' || v === '1' || v === '') return true
  if (v === 'false' || v === '0') return false
  throw configError(`-protectReads '${o.protectReads}' must be true or false`)
}

export function topicList(spec: string): string[] {
  return [...new Set(spec.split(',').map((t) => t.trim()).filter(Boolean))]
}

/** The Kafka bridge the flags ask for, if any (not started). */
function createKafkaBridge(o: CliOptions, logger: Logger, metrics?: BrokerMetrics): KafkaBridge | undefined {
  const kafka = kafkaFromFlags(o, topicList(o.topics))
  if (kafka === undefined) return undefined
  const onForward = metrics === undefined ? undefined
    : (topic: string, ok: boolean) => (ok ? metrics.kafkaForwarded(topic, 1) : metrics.kafkaFailed(topic, 1))
  return new KafkaBridge({ ...kafka, logger, ...(onForward ? { onForward } : {}) })
}

export function createServer(o: CliOptions, logger: Logger, deliveryTargets?: readonly KafkaDeliveryTarget[], metrics?: BrokerMetrics): KiteQServer {
  const zk = o.zkhost !== '' ? o.zkhost : o.registry.startsWith('zk://') ? o.registry : undefined
  const registry = o.registry.startsWith('file://')
    ? new FileRegistry(decodeURIComponent(new URL(o.registry).pathname), { logger })
    : zk !== undefined ? new ZkRegistry(zk, { logger }) : undefined
  return new KiteQServer({
    bind: o.bind,
    topics: topicList(o.topics),
    store: metrics === undefined ? openStore(o.db, { logger, bind: o.bind }) : instrumentStore(openStore(o.db, { logger, bind: o.bind }), metrics),
    ...(registry ? { registry } : {}),
    // KiteQ announces -bind verbatim; only a port chosen at listen time (0) needs the real one
    ...(parseHostPort(o.bind, '-bind').port !== 0 ? { advertisedAddress: o.bind } : {}),
    ...(o.secrets ? { secrets: parseSecrets(o.secrets)! } : {}),
    deliveryTimeoutMs: o.deliverySeconds * 1000,
    acceptPermitsPerSecond: o.acceptPermits,
    txCheck: { firstDelayMs: o.txCheckFirstSeconds * 1000, intervalMs: o.txCheckIntervalSeconds * 1000, maxChecks: o.txCheckMax },
    maxDelayMs: o.maxDelaySeconds * 1000,
    dueGroupWindow: o.dueGroupWindow,
    dueTopicQueue: o.dueTopicQueue,
    overdueToDeadLetter: topicList(o.overdueToDeadLetter),
    ...(deliveryTargets ? { deliveryTargets } : {}),
    logger,
  })
}

/** Puts the flag in a socket error's message ("listen EADDRINUSE …" alone does not say which port). */
function blame(flag: string, value: string): (err: Error & { syscall?: string }) => never {
  return (err) => {
    if (err.syscall !== 'listen') throw err
    throw new KiteQError(ErrorCodes.CONFIG, `${flag}=${value}: ${err.message}`, { cause: err })
  }
}

async function main(): Promise<void> {
  let options: CliOptions
  let server: KiteQServer
  try {
    options = parseCli(process.argv.slice(2))
    if ((options as unknown as { help?: boolean }).help) return
    // written synchronously: pino's asynchronous stdout retries a write to a closed pipe forever
    // when the process exits (a log reader gone: SIGTERM never finished)
    const logger = pino({ level: options.logLevel }, pino.destination({ dest: 1, sync: true })) as unknown as Logger
    const metrics = options.pport > 0 ? new BrokerMetrics() : undefined
    const bridge = createKafkaBridge(options, logger, metrics)
    server = createServer(options, logger, bridge?.deliveryTargets, metrics)
    let view: OperatorView | undefined
    let stopping = false
    const shutdown = (signal: string) => {
      if (stopping) return
      stopping = true
      logger.info({ signal }, 'shutting down')
      // the bridge last: the server's draining deliveries still need it
      Promise.resolve(view?.close()).then(() => server.stop()).then(() => bridge?.stop()).then(
        () => process.exit(0),
        (err: Error) => {
          logger.error({ err: err.message }, 'shutdown failed')
          process.exit(1)
        },
      )
    }
    // before start: a SIGTERM that arrives while starting must drain too, not kill
    process.on('SIGTERM', () => shutdown('SIGTERM'))
    process.on('SIGINT', () => shutdown('SIGINT'))
    bridge?.start()
    await server.start().catch(blame('-bind', options.bind))
    if (metrics !== undefined) {
      view = await startOperatorView({
        broker: server, host: parseHostPort(options.bind).host, port: options.pport, metrics, logger,
        adminToken: options.adminToken, protectReads: protectReadsOf(options),
        // /reload: flags, environment and -config file read again, as at start-up
        readTopics: () => topicList(parseCli(process.argv.slice(2)).topics),
      }).catch(blame('-pport', String(options.pport)))
    }
  } catch (err) {
    // one line saying what is wrong, then out
    const code = (err as { code?: string }).code ?? 'KITEQ_ERR'
    process.stderr.write(`kiteq: ${(err as Error).message} [${code}]\n`)
    process.exit(2)
  }
}

// run only as the entry point, so tests can import parseCli
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) await main()
