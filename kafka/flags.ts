/**
 * The CLI's -kafka and -kafkaRoutes, checked together against the served topics, so a bad route
 * stops start-up with one line instead of a group that silently never receives anything.
 */
import { ErrorCodes, KiteQError } from '../protocol/errors.ts'
import { parseHostPort } from '../server/kiteq-server.ts'
import { parseKafkaRoutes, type KafkaRoute } from './routes.ts'

export interface KafkaFlags {
  /** host:port[,host:port]; '' = no bridge. */
  kafka: string
  kafkaRoutes: string
}

/** The brokers and routes, or undefined when no bridge is configured (throws KITEQ_ERR_CONFIG). */
export function kafkaFromFlags(flags: KafkaFlags, servedTopics: readonly string[]): { brokers: string[]; routes: KafkaRoute[] } | undefined {
  const brokers = flags.kafka.split(',').map((b) => b.trim()).filter(Boolean)
  const hasRoutes = flags.kafkaRoutes.trim() !== ''
  if (brokers.length === 0 && !hasRoutes) return undefined
  if (brokers.length === 0) throw new KiteQError(ErrorCodes.CONFIG, '-kafkaRoutes needs -kafka=host:port[,host:port]')
  if (!hasRoutes) throw new KiteQError(ErrorCodes.CONFIG, '-kafka needs -kafkaRoutes=topic[/selector]:kafkaTopic[,…]')
  for (const b of brokers) parseHostPort(b, '-kafka')
  const routes = parseKafkaRoutes(flags.kafkaRoutes)
  const served = new Set(servedTopics)
  for (const r of routes) {
    if (!served.has(r.kiteqTopic)) throw new KiteQError(ErrorCodes.CONFIG, `-kafkaRoutes: topic '${r.kiteqTopic}' is not served by this broker (-topics)`)
  }
  return { brokers, routes }
}
