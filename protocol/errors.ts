/**
 * One error root for the whole code base. Every error a caller may handle carries a stable `code`
 * (tests and callers match on it, never on message text) and says whether retrying may help.
 */
export const ErrorCodes = {
  PROTOCOL: 'KITEQ_ERR_PROTOCOL',
  TIMEOUT: 'KITEQ_ERR_TIMEOUT',
  CONNECTION_CLOSED: 'KITEQ_ERR_CONNECTION_CLOSED',
  BACKPRESSURE: 'KITEQ_ERR_BACKPRESSURE',
  AUTH: 'KITEQ_ERR_AUTH',
  NO_BROKER: 'KITEQ_ERR_NO_BROKER',
  REJECTED: 'KITEQ_ERR_REJECTED',
  INVALID_ARGUMENT: 'KITEQ_ERR_INVALID_ARGUMENT',
  CONFIG: 'KITEQ_ERR_CONFIG',
  STORE: 'KITEQ_ERR_STORE',
  STORE_FULL: 'KITEQ_ERR_STORE_FULL',
  SHUTDOWN: 'KITEQ_ERR_SHUTDOWN',
  REGISTRY: 'KITEQ_ERR_REGISTRY',
} as const

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes]

export interface KiteQErrorOptions {
  cause?: unknown
  retriable?: boolean
}

export class KiteQError extends Error {
  readonly code: ErrorCode
  readonly retriable: boolean

  constructor(code: ErrorCode, message: string, options: KiteQErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'KiteQError'
    this.code = code
    this.retriable = options.retriable ?? false
  }
}

/** Bytes on the wire that do not follow the protocol: the connection that sent them is closed. */
export class ProtocolError extends KiteQError {
  constructor(message: string, options: KiteQErrorOptions = {}) {
    super(ErrorCodes.PROTOCOL, message, options)
    this.name = 'ProtocolError'
  }
}

export class TimeoutError extends KiteQError {
  constructor(message: string, options: KiteQErrorOptions = {}) {
    super(ErrorCodes.TIMEOUT, message, { retriable: true, ...options })
    this.name = 'TimeoutError'
  }
}

export class ConnectionClosedError extends KiteQError {
  constructor(message = 'connection closed', options: KiteQErrorOptions = {}) {
    super(ErrorCodes.CONNECTION_CLOSED, message, { retriable: true, ...options })
    this.name = 'ConnectionClosedError'
  }
}

export class BackpressureError extends KiteQError {
  constructor(message: string, options: KiteQErrorOptions = {}) {
    super(ErrorCodes.BACKPRESSURE, message, { retriable: true, ...options })
    this.name = 'BackpressureError'
  }
}

export function isKiteQError(err: unknown): err is KiteQError {
  return err instanceof KiteQError
}
