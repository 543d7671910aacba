/**
 * Replies and errors of the operator's HTTP port. Every error answer is JSON {error, code}: code
 * is a stable KITEQ_ERR_* string a script can match on (the message is for people).
 */
import type { IncomingMessage } from 'node:http'
import { ErrorCodes, type ErrorCode } from '../protocol/errors.ts'

/** The broker's error codes, plus the three only the HTTP API needs. */
export const ApiErrorCodes = {
  ...ErrorCodes,
  NOT_FOUND: 'KITEQ_ERR_NOT_FOUND',
  CONFLICT: 'KITEQ_ERR_CONFLICT',
  INTERNAL: 'KITEQ_ERR_INTERNAL',
} as const

export type ApiErrorCode = ErrorCode | (typeof ApiErrorCodes)[keyof typeof ApiErrorCodes]

export interface Reply {
  status: number
  contentType: string
  body: string | Buffer
  headers?: Record<string, string>
}

/**
 * Thrown inside a route to answer with an error; turned into a reply by the router and never
 * seen outside this port, which is why it is not a KiteQError (its codes include HTTP-only ones).
 */
export class HttpError extends Error {
  readonly status: number
  readonly code: ApiErrorCode
  readonly headers: Record<string, string> | undefined

  constructor(status: number, code: ApiErrorCode, message: string, headers?: Record<string, string>) {
    super(message)
    this.name = 'HttpError'
    this.status = status
    this.code = code
    this.headers = headers
  }
}

export function jsonReply(value: unknown, status = 200): Reply {
  return { status, contentType: 'application/json; charset=utf-8', body: JSON.stringify(value) }
}

/** KiteQ's endpoints answer `text/json`, always 200. */
export function kiteqReply(value: unknown): Reply {
  return { status: 200, contentType: 'text/json', body: JSON.stringify(value) }
}

export function errorReply(status: number, code: ApiErrorCode, message: string, headers?: Record<string, string>): Reply {
  return { ...jsonReply({ error: message, code }, status), ...(headers ? { headers } : {}) }
}

export const maxBodyBytes = 64 * 1024

/** Reads a JSON request body (empty → undefined), at most maxBodyBytes. */
export async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > maxBodyBytes) throw new HttpError(413, ApiErrorCodes.INVALID_ARGUMENT, `request body over ${maxBodyBytes} bytes`)
    chunks.push(chunk)
  }
  const text = Buffer.concat(chunks).toString('utf8').trim()
  if (text === '') return undefined
  try {
    return JSON.parse(text)
  } catch (err) {
    throw new HttpError(400, ApiErrorCodes.INVALID_ARGUMENT, `request body is not JSON: ${(err as Error).message}`)
  }
}
