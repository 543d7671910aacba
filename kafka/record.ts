/**
 * One KiteQ message as one Kafka record. Key = messageId, so a Kafka consumer can drop the
 * duplicates at-least-once forwarding may produce, and all copies land in the same partition.
 * Value = the body exactly as stored (a snappy body stays compressed; `kiteq-snappy` says so).
 */
import type { Message } from 'kafkajs'
import { headerOf, type StoredMessage } from '../store/message-store.ts'

export const KafkaHeaders = {
  TOPIC: 'kiteq-topic',
  MESSAGE_TYPE: 'kiteq-message-type',
  /** The publishing group. */
  GROUP_ID: 'kiteq-group-id',
  /** Unix seconds, KiteQ's unit for Header.createTime. */
  CREATE_TIME: 'kiteq-create-time',
  /** Epoch milliseconds, only on delayed messages. */
  DELIVER_AT: 'kiteq-deliver-at',
  /** "true" when the value is KiteQ-snappy (raw block; base64 for string messages). */
  SNAPPY: 'kiteq-snappy',
  /** Prefix of one header per KiteQ property. */
  PROPERTY_PREFIX: 'kiteq-prop-',
} as const

type Headers = Record<string, string | string[]>

export function toKafkaMessage(m: StoredMessage): Message {
  const h = headerOf(m)
  const headers: Headers = {
    [KafkaHeaders.TOPIC]: m.topic,
    [KafkaHeaders.MESSAGE_TYPE]: m.messageType,
    [KafkaHeaders.GROUP_ID]: h.groupId,
    [KafkaHeaders.CREATE_TIME]: String(h.createTime ?? Math.floor(m.createdAtMs / 1000)),
  }
  if (m.deliverAtMs > 0) headers[KafkaHeaders.DELIVER_AT] = String(m.deliverAtMs)
  if (h.snappy === true) headers[KafkaHeaders.SNAPPY] = 'true'
  for (const p of h.properties) {
    const name = KafkaHeaders.PROPERTY_PREFIX + p.key
    const prior = headers[name]
    // KiteQ's properties are a list and may repeat a key; Kafka headers may too
    if (prior === undefined) headers[name] = p.value
    else headers[name] = Array.isArray(prior) ? [...prior, p.value] : [prior, p.value]
  }
  return { key: m.messageId, value: m.body, headers }
}

/** Bytes the record takes in a produce request, near enough to size batches. */
export function recordBytes(m: StoredMessage): number {
  const h = headerOf(m)
  let n = 64 + m.messageId.length + m.body.length + m.topic.length + m.messageType.length + h.groupId.length + 96
  for (const p of h.properties) n += 16 + p.key.length * 3 + p.value.length * 3
  return n
}
