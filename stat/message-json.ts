/** How messages look in the operator's JSON API: times in epoch ms, a short body preview. */
import type { Binding } from '../binding/binding.ts'
import type { MessageView } from '../handler/message-ops.ts'
import { headerOf, type DeadLetter, type StoredMessage } from '../store/message-store.ts'

const bodyPreviewBytes = 1024

export interface BodyPreview {
  bytes: number
  encoding: 'utf8' | 'base64' | 'snappy'
  /** The first bodyPreviewBytes, as text or base64 (empty for snappy-compressed bodies). */
  preview: string
  truncated: boolean
}

// printable text: no control characters besides tab and line breaks
const controlChars = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/

function bodyPreview(body: Buffer, snappy: boolean | undefined): BodyPreview {
  if (snappy) return { bytes: body.length, encoding: 'snappy', preview: '', truncated: body.length > 0 }
  const head = body.subarray(0, bodyPreviewBytes)
  const text = new TextDecoder('utf-8', { fatal: false }).decode(head)
  // a cut through a multi-byte character at the end is fine; U+FFFD elsewhere means binary
  const binary = controlChars.test(text) || text.slice(0, -1).includes('\ufffd')
  return {
    bytes: body.length,
    encoding: binary ? 'base64' : 'utf8',
    preview: binary ? head.toString('base64') : text,
    truncated: body.length > head.length,
  }
}

/** Cancel and reschedule only apply before the first delivery attempt. */
function isChangeable(m: StoredMessage): boolean {
  return m.deliverCount === 0 && m.succGroups.length === 0
}

function messageFields(m: StoredMessage) {
  return {
    messageId: m.messageId,
    topic: m.topic,
    messageType: m.messageType,
    publishGroup: m.publishGroup,
    commit: m.commit,
    createdAtMs: m.createdAtMs,
    expiresAtMs: m.expiredTime * 1000,
    deliverAtMs: m.deliverAtMs,
    nextDeliverAtMs: m.nextDeliverAtMs,
    deliverCount: m.deliverCount,
    deliverLimit: m.deliverLimit,
    txCheckCount: m.txCheckCount,
    succGroups: m.succGroups,
    failGroups: m.failGroups,
  }
}

export function messageViewJson(view: MessageView) {
  const m = view.message
  const header = headerOf(m)
  return {
    ...messageFields(m),
    state: view.state,
    groups: view.groups,
    deadLetter: view.deadLetter ?? null,
    changeable: view.state !== 'dead' && isChangeable(m),
    properties: Object.fromEntries(header.properties.map((e) => [e.key, e.value])),
    body: bodyPreview(m.body, header.snappy),
  }
}

export function deadLetterJson(d: DeadLetter) {
  return { ...messageFields(d.message), reason: d.reason, deadAtMs: d.deadAtMs }
}

const bindTypeNames = ['direct', 'regx', 'fanout'] as const

export function bindingJson(b: Binding) {
  return { bindType: bindTypeNames[b.bindType] ?? String(b.bindType), messageType: b.messageType, watermark: b.watermark, persistent: b.persistent }
}
