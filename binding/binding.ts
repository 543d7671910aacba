/**
 * A consumer group's subscription to a topic: KiteQ's Binding, with its JSON form byte for byte as
 * kiteq-common writes it to /kiteq/sub/{topic}/{groupId}-bind (Go encoding/json, struct order).
 */
import { ErrorCodes, KiteQError } from '../protocol/errors.ts'
import type { Logger } from '../protocol/logger.ts'

export const BindType = { DIRECT: 0, REGX: 1, FANOUT: 2 } as const
export type BindTypeValue = (typeof BindType)[keyof typeof BindType]

export interface Binding {
  groupId: string
  topic: string
  /** Direct: the exact messageType; Regx: an unanchored regular expression; Fanout: "*". */
  messageType: string
  bindType: BindTypeValue
  version: string
  /** Deliveries per second to this group on one broker; ≤ 0 means no limit. */
  watermark: number
  /** Keep (and retry) messages for this group while it has no live consumer. */
  persistent: boolean
}

export const BINDING_VERSION = '1.0.0'

export function bindDirect(groupId: string, topic: string, messageType: string, watermark = 1000, persistent = true): Binding {
  return { groupId, topic, messageType, bindType: BindType.DIRECT, version: BINDING_VERSION, watermark, persistent }
}

export function bindRegx(groupId: string, topic: string, messageTypeRegex: string, watermark = 1000, persistent = true): Binding {
  return { groupId, topic, messageType: messageTypeRegex, bindType: BindType.REGX, version: BINDING_VERSION, watermark, persistent }
}

export function bindFanout(groupId: string, topic: string, watermark = 1000, persistent = true): Binding {
  return { groupId, topic, messageType: '*', bindType: BindType.FANOUT, version: BINDING_VERSION, watermark, persistent }
}

/** KiteQ's JSON for a list of bindings, exactly as Go's encoding/json writes it. */
export function bindingsToJson(bindings: readonly Binding[]): string {
  return JSON.stringify(
    bindings.map((b) => ({
      groupId: b.groupId,
      topic: b.topic,
      messageType: b.messageType,
      bindType: b.bindType,
      version: b.version,
      watermark: b.watermark,
      persistent: b.persistent,
    })),
  )
}

/** Parses KiteQ binding JSON (an array, or null for none); extra fields are ignored. */
export function bindingsFromJson(json: string): Binding[] {
  let parsed: unknown
  try {
    parsed = JSON.parse(json)
  } catch (err) {
    throw new KiteQError(ErrorCodes.INVALID_ARGUMENT, `binding JSON does not parse: ${(err as Error).message}`)
  }
  if (parsed === null) return []
  if (!Array.isArray(parsed)) throw new KiteQError(ErrorCodes.INVALID_ARGUMENT, 'binding JSON must be an array')
  return parsed.map((raw, i) => parseBinding(raw, `binding ${i}`))
}

function parseBinding(raw: unknown, where: string): Binding {
  if (raw === null || typeof raw !== 'object') throw invalid(where, 'is not an object')
  const o = raw as Record<string, unknown>
  const str = (k: string) => {
    if (typeof o[k] !== 'string' || o[k] === '') throw invalid(where, `needs a non-empty string "${k}"`)
    return o[k] as string
  }
  const bindType = o.bindType ?? BindType.DIRECT
  if (bindType !== 0 && bindType !== 1 && bindType !== 2) throw invalid(where, `has bindType ${String(bindType)} (0, 1 or 2)`)
  return {
    groupId: str('groupId'),
    topic: str('topic'),
    messageType: bindType === BindType.FANOUT && typeof o.messageType !== 'string' ? '*' : str('messageType'),
    bindType,
    version: typeof o.version === 'string' ? o.version : BINDING_VERSION,
    watermark: typeof o.watermark === 'number' ? o.watermark : 1000,
    persistent: typeof o.persistent === 'boolean' ? o.persistent : true,
  }
}

function invalid(where: string, what: string): KiteQError {
  return new KiteQError(ErrorCodes.INVALID_ARGUMENT, `${where} ${what}`)
}

/** Bindings grouped by their topic or their group, in first-seen order. */
export function groupBindings(bindings: readonly Binding[], by: 'topic' | 'groupId'): Map<string, Binding[]> {
  const groups = new Map<string, Binding[]>()
  for (const b of bindings) {
    const list = groups.get(b[by])
    if (list === undefined) groups.set(b[by], [b])
    else list.push(b)
  }
  return groups
}

/** KiteQ's bindType names in its YAML registry (case-insensitive; anything else is direct). */
export function bindTypeFromName(name: unknown): BindTypeValue {
  const n = String(name ?? '').toLowerCase()
  return n === 'regx' ? BindType.REGX : n === 'fanout' ? BindType.FANOUT : BindType.DIRECT
}

// --------------------------------------------------------------------------------- matching

const compiled = new Map<string, RegExp | null>()

/**
 * Go's regexp.MatchString semantics: unanchored, so "pay" matches "pay-succ". Go's RE2 syntax is
 * close to JavaScript's for the patterns bindings use; a leading "(?i)" (RE2's case-insensitive
 * flag) is honoured. An invalid pattern never matches and is logged once.
 */
export function compileMessageTypePattern(pattern: string, logger?: Logger): RegExp | null {
  let re = compiled.get(pattern)
  if (re !== undefined) return re
  let source = pattern
  let flags = 'u'
  const inline = /^\(\?([imsU]+)\)/.exec(source)
  if (inline) {
    source = source.slice(inline[0].length)
    if (inline[1].includes('i')) flags += 'i'
    if (inline[1].includes('s')) flags += 's'
    if (inline[1].includes('m')) flags += 'm'
  }
  try {
    re = new RegExp(source, flags)
  } catch (err) {
    logger?.warn({ pattern, err: (err as Error).message }, 'invalid Regx binding pattern: it never matches')
    re = null
  }
  if (compiled.size > 10_000) compiled.clear()
  compiled.set(pattern, re)
  return re
}

/** Whether `binding` wants a message of `messageType` (the topic is matched by the exchanger). */
export function bindingMatches(binding: Binding, messageType: string, logger?: Logger): boolean {
  switch (binding.bindType) {
    case BindType.DIRECT:
      return binding.messageType === messageType
    case BindType.FANOUT:
      return true
    case BindType.REGX:
      return compileMessageTypePattern(binding.messageType, logger)?.test(messageType) ?? false
  }
}
