/**
 * The operator's map from KiteQ topics (optionally narrowed by messageType) to Kafka topics, and
 * the bound consumer groups it becomes: one group `kafka:<kafka topic>` per Kafka topic.
 *
 * Syntax of one route (several are separated by commas; a comma inside a pattern is written `\,`):
 *
 *   topic[/selector]:kafkaTopic[@watermark]
 *
 *   selector   (absent) or `*`  Fanout: every messageType of the topic
 *              `=type`          Direct: exactly this messageType
 *              `~regex`         Regx: KiteQ's unanchored match (Go RE2 syntax, `(?i)` honoured)
 *              `regex`          the same as `~regex` (no prefix means a pattern, as in `feed/pay-.*`)
 *   watermark  deliveries per second into Kafka per broker (the binding's watermark); default 0 = no limit
 *
 * The Kafka topic is found after the LAST `:` because Kafka topic names cannot contain one, so a
 * pattern may.
 */
import { bindDirect, bindFanout, bindRegx, compileMessageTypePattern, type Binding } from '../binding/binding.ts'
import { ErrorCodes, KiteQError } from '../protocol/errors.ts'

export const RouteMatch = { FANOUT: 'fanout', DIRECT: 'direct', REGX: 'regx' } as const
export type RouteMatchValue = (typeof RouteMatch)[keyof typeof RouteMatch]

export interface KafkaRoute {
  kiteqTopic: string
  match: RouteMatchValue
  /** Direct: the messageType; Regx: the pattern; Fanout: "*". */
  messageType: string
  kafkaTopic: string
  /** Deliveries per second into Kafka per broker; 0 = no limit. */
  watermark: number
}

/** What the server's `deliveryTargets` option needs, minus the target itself. */
export interface KafkaGroup {
  groupId: string
  kafkaTopic: string
  bindings: Binding[]
}

const KAFKA_TOPIC = /^[A-Za-z0-9._-]{1,249}$/

function kafkaGroupId(kafkaTopic: string): string {
  return `kafka:${kafkaTopic}`
}

function routeError(route: string, why: string): KiteQError {
  return new KiteQError(ErrorCodes.CONFIG, `-kafkaRoutes: '${route}' ${why}`)
}

/** Splits at commas not preceded by a backslash, and turns `\,` back into a comma. */
function splitRoutes(spec: string): string[] {
  return spec
    .split(/(?<!\\),/)
    .map((r) => r.replace(/\\,/g, ',').trim())
    .filter((r) => r !== '')
}

function parseKafkaRoute(text: string): KafkaRoute {
  const colon = text.lastIndexOf(':')
  if (colon <= 0) throw routeError(text, 'is not topic[/selector]:kafkaTopic')
  const source = text.slice(0, colon)
  let kafkaTopic = text.slice(colon + 1)
  let watermark = 0
  const at = kafkaTopic.indexOf('@')
  if (at >= 0) {
    const raw = kafkaTopic.slice(at + 1)
    watermark = Number(raw)
    if (raw === '' || !Number.isInteger(watermark) || watermark < 0) throw routeError(text, `has watermark '${raw}' (a whole number ≥ 0)`)
    kafkaTopic = kafkaTopic.slice(0, at)
  }
  if (!KAFKA_TOPIC.test(kafkaTopic) || kafkaTopic === '.' || kafkaTopic === '..') {
    throw routeError(text, `names Kafka topic '${kafkaTopic}' (letters, digits, '.', '_', '-'; at most 249)`)
  }
  const slash = source.indexOf('/')
  const kiteqTopic = (slash < 0 ? source : source.slice(0, slash)).trim()
  if (kiteqTopic === '') throw routeError(text, 'has no KiteQ topic')
  const selector = slash < 0 ? '*' : source.slice(slash + 1)
  const base = { kiteqTopic, kafkaTopic, watermark }
  if (selector === '*') return { ...base, match: RouteMatch.FANOUT, messageType: '*' }
  if (selector.startsWith('=')) {
    if (selector.length === 1) throw routeError(text, 'has an empty messageType after "="')
    return { ...base, match: RouteMatch.DIRECT, messageType: selector.slice(1) }
  }
  const pattern = selector.startsWith('~') ? selector.slice(1) : selector
  if (pattern === '') throw routeError(text, 'has an empty messageType pattern')
  // the broker would silently never match an invalid pattern; at start-up it is a mistake
  if (compileMessageTypePattern(pattern) === null) throw routeError(text, `has an invalid pattern '${pattern}'`)
  return { ...base, match: RouteMatch.REGX, messageType: pattern }
}

/** Parses a whole -kafkaRoutes value (throws KITEQ_ERR_CONFIG naming the bad route). */
export function parseKafkaRoutes(spec: string): KafkaRoute[] {
  const routes = splitRoutes(spec).map(parseKafkaRoute)
  const seen = new Set<string>()
  const watermarks = new Map<string, number>()
  for (const r of routes) {
    const key = `${r.kiteqTopic}\u0000${r.match}\u0000${r.messageType}\u0000${r.kafkaTopic}`
    if (seen.has(key)) throw new KiteQError(ErrorCodes.CONFIG, `-kafkaRoutes: the route ${r.kiteqTopic} → ${r.kafkaTopic} (${r.match} ${r.messageType}) is given twice`)
    seen.add(key)
    // one group per Kafka topic has one limiter per KiteQ topic: a second rate would be ignored
    const w = watermarks.get(r.kafkaTopic)
    if (w !== undefined && w !== r.watermark) {
      throw new KiteQError(ErrorCodes.CONFIG, `-kafkaRoutes: routes into Kafka topic '${r.kafkaTopic}' give different watermarks (${w} and ${r.watermark})`)
    }
    watermarks.set(r.kafkaTopic, r.watermark)
  }
  return routes
}

/** The routes as bound consumer groups, one per Kafka topic. */
export function kafkaGroups(routes: readonly KafkaRoute[]): KafkaGroup[] {
  const groups = new Map<string, KafkaGroup>()
  for (const r of routes) {
    const groupId = kafkaGroupId(r.kafkaTopic)
    let group = groups.get(groupId)
    if (group === undefined) groups.set(groupId, (group = { groupId, kafkaTopic: r.kafkaTopic, bindings: [] }))
    group.bindings.push(
      r.match === RouteMatch.DIRECT ? bindDirect(groupId, r.kiteqTopic, r.messageType, r.watermark)
        : r.match === RouteMatch.REGX ? bindRegx(groupId, r.kiteqTopic, r.messageType, r.watermark)
          : bindFanout(groupId, r.kiteqTopic, r.watermark),
    )
  }
  return [...groups.values()]
}

/** Escapes one route for the comma-separated form (a config file may list routes one by one). */
export function escapeRoute(route: string): string {
  return route.replace(/(?<!\\),/g, '\\,')
}
