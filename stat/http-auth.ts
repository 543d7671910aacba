/**
 * Who may do what on the operator's port. Admin actions (cancel, reschedule, re-drive, reload)
 * need the operator's token as `Authorization: Bearer <token>`, and are refused outright when no
 * token is configured: an open port must never be able to change messages. Read-only pages are
 * open unless the operator protects them with the same token.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import { ErrorCodes, KiteQError } from '../protocol/errors.ts'
import { ApiErrorCodes, HttpError } from './http-io.ts'

export type Access = 'public' | 'read' | 'admin'

export interface AccessPolicyOptions {
  /** Unset or empty: admin actions are disabled. */
  adminToken?: string
  /** Read-only pages need the token too. */
  protectReads?: boolean
}

const digest = (s: string) => createHash('sha256').update(s).digest()

export class AccessPolicy {
  readonly #tokenDigest: Buffer | undefined
  readonly protectReads: boolean

  constructor(options: AccessPolicyOptions = {}) {
    const token = options.adminToken ?? ''
    this.#tokenDigest = token === '' ? undefined : digest(token)
    this.protectReads = options.protectReads ?? false
    if (this.protectReads && this.#tokenDigest === undefined) {
      throw new KiteQError(ErrorCodes.CONFIG, '-protectReads needs -adminToken: the token is what read-only pages are protected with')
    }
  }

  get adminEnabled(): boolean {
    return this.#tokenDigest !== undefined
  }

  /** True when the Authorization header carries the configured token. */
  tokenMatches(authorization: string | undefined): boolean {
    const m = /^Bearer\s+(.+)$/i.exec(authorization?.trim() ?? '')
    // compared as digests: equal lengths for timingSafeEqual, and no early exit on a prefix
    return this.#tokenDigest !== undefined && m !== null && timingSafeEqual(digest(m[1]), this.#tokenDigest)
  }

  /** Throws the refusal for a request to a route of `access`, or returns when it may proceed. */
  check(access: Access, authorization: string | undefined): void {
    if (access === 'public' || (access === 'read' && !this.protectReads)) return
    if (access === 'admin' && this.#tokenDigest === undefined) {
      throw new HttpError(403, ApiErrorCodes.AUTH,
        'admin actions are disabled on this broker: start it with -adminToken=<secret>, then send Authorization: Bearer <secret>')
    }
    const what = access === 'admin' ? 'this admin action' : 'this page (-protectReads is on)'
    if (authorization === undefined || authorization.trim() === '') {
      throw new HttpError(401, ApiErrorCodes.AUTH, `${what} needs the admin token: send Authorization: Bearer <token>`,
        { 'www-authenticate': 'Bearer realm="kiteq"' })
    }
    if (!this.tokenMatches(authorization)) throw new HttpError(403, ApiErrorCodes.AUTH, `${what}: the token sent is not the admin token`)
  }
}
