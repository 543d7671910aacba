/**
 * A framed KiteQ connection over any Duplex (a TCP socket, or one end of an in-memory pair).
 *
 * Writes are coalesced: frames are encoded into one outbound buffer and go out in one write per
 * event-loop turn, or at once when the queue passes `flushThresholdBytes`. When the stream pushes
 * back (`write()` returns false) we stop writing until 'drain'; frames keep queueing up to
 * `maxQueuedBytes` (counting the stream's own buffer too) and beyond that `send` refuses with a
 * BackpressureError, so a peer that never reads cannot grow our memory without bound.
 *
 * Requests are correlated by opaque on this connection only. Their timeouts share one timer, armed
 * for the earliest deadline: a timer per request cost more than the rest of the bookkeeping. A
 * pending request also names the command its answer must have, so a peer request that happens to
 * reuse one of our opaques (KiteQ's peers count opaques independently) is routed as a request,
 * never mistaken for the answer. Responses are plain `send`s: they never register anything.
 */
import { EventEmitter } from 'node:events'
import type { Duplex } from 'node:stream'
import {
  BackpressureError, ConnectionClosedError, KiteQError, ProtocolError, TimeoutError,
} from '../protocol/errors.ts'
import {
  DEFAULT_MAX_BODY_BYTES, FRAME_HEADER_BYTES, packetBodySize, writePacket, type Frame,
} from '../protocol/frame.ts'
import { FrameDecoder } from '../protocol/frame-decoder.ts'
import { silentLogger, type Logger } from '../protocol/logger.ts'
import type { MessageCodec } from '../protocol/schema.ts'
import { SlotMap } from '../protocol/slot-map.ts'
import { OutboundBuffer } from './outbound-buffer.ts'

/** Frames read and written, shared by the connections of one server (KiteQ's read/write counts). */
export interface TrafficCounters {
  framesRead: number
  framesWritten: number
}

export interface ConnectionOptions {
  /** Largest frame body accepted or sent. */
  maxBodyBytes?: number
  /** Queue size past which a flush happens at once instead of at the end of the turn. */
  flushThresholdBytes?: number
  /** Bound on bytes waiting to be written (our queue plus the stream's buffer). */
  maxQueuedBytes?: number
  /** Default timeout of `request`. */
  requestTimeoutMs?: number
  logger?: Logger
  /** A name for logs, e.g. the remote address. */
  label?: string
  /** Counters this connection adds its frames to. */
  traffic?: TrafficCounters
}

export const connectionDefaults = {
  maxBodyBytes: DEFAULT_MAX_BODY_BYTES,
  // Small enough that a peer starts on the first answers of a large batch while the rest is still
  // being worked on: 64 KiB made the two ends take turns (bench/pubsub c=100: 53–55 k msg/s, p50
  // 1.8 ms; 8 KiB: 65–68 k, p50 0.7 ms, same CPU per message). 2–4 KiB cost CPU in writes; later,
  // with less CPU per message, 16 KiB beat 8 (73–83 k against 73–76 k) and 32 KiB did not.
  flushThresholdBytes: 16 * 1024,
  maxQueuedBytes: 16 * 1024 * 1024,
  requestTimeoutMs: 5000,
} as const

export type FrameHandler = (frame: Frame, connection: Connection) => void

interface Pending {
  readonly responseCmd: number
  readonly resolve: (value: unknown) => void
  readonly reject: (err: Error) => void
  /** requestMessageAs: what the promise resolves with, taken from the answer or the failure. */
  readonly interpret: ((answer: Frame | Error) => unknown) | undefined
  /** performance.now() past which the request fails with TimeoutError. */
  readonly deadline: number
  readonly timeoutMs: number
}

export interface ConnectionEvents {
  close: [reason: Error | undefined]
  drain: []
}

export class Connection extends EventEmitter<ConnectionEvents> {
  readonly label: string
  readonly maxBodyBytes: number
  readonly #stream: Duplex
  readonly #decoder: FrameDecoder
  readonly #logger: Logger
  readonly #flushThresholdBytes: number
  readonly #maxQueuedBytes: number
  readonly #requestTimeoutMs: number
  /** A SlotMap, not a Map: see protocol/slot-map.ts (one entry per request, each holding its whole reply chain). */
  readonly #pending = new SlotMap<number, Pending>()
  readonly #traffic: TrafficCounters | undefined
  #onFrame: FrameHandler = () => {}
  readonly #out = new OutboundBuffer()
  /** The one timeout timer (see the file comment) and the deadline it is armed for. */
  #timeoutTimer: NodeJS.Timeout | undefined
  #timeoutAt = Infinity
  #flushScheduled = false
  #waitingForDrain = false
  /** The wait of the current back-pressure episode, shared by every waitForDrain(). */
  #drainWait: Promise<void> | undefined
  #nextOpaque = 1
  #closed = false
  #closeReason: Error | undefined

  constructor(stream: Duplex, options: ConnectionOptions = {}) {
    super()
    this.#stream = stream
    this.label = options.label ?? 'connection'
    this.#logger = options.logger ?? silentLogger
    this.maxBodyBytes = options.maxBodyBytes ?? connectionDefaults.maxBodyBytes
    this.#flushThresholdBytes = options.flushThresholdBytes ?? connectionDefaults.flushThresholdBytes
    this.#maxQueuedBytes = options.maxQueuedBytes ?? connectionDefaults.maxQueuedBytes
    this.#requestTimeoutMs = options.requestTimeoutMs ?? connectionDefaults.requestTimeoutMs
    this.#traffic = options.traffic
    this.#decoder = new FrameDecoder((frame) => this.#dispatch(frame), { maxBodyBytes: this.maxBodyBytes })

    stream.on('data', (chunk: Buffer) => this.#receive(chunk))
    stream.on('drain', () => this.#drained())
    stream.on('error', (err) => this.#shutdown(err))
    stream.on('end', () => {
      this.#shutdown(undefined)
      stream.end()
    })
    stream.on('close', () => this.#shutdown(undefined))
  }

  /** Where frames that are not answers to our requests go. */
  setFrameHandler(handler: FrameHandler): void {
    this.#onFrame = handler
  }

  get closed(): boolean {
    return this.#closed
  }

  /** Bytes queued by us and not yet accepted by the stream, plus the stream's own buffer. */
  get queuedBytes(): number {
    return this.#out.bytes + this.#stream.writableLength
  }

  /** Whether `send` would take `length` more bytes now (open, and within `maxQueuedBytes`). */
  canQueue(length: number): boolean {
    return !this.#closed && this.#out.bytes + this.#stream.writableLength + length <= this.#maxQueuedBytes
  }

  /** True while the stream pushes back; 'drain' is emitted when it stops. */
  get backpressured(): boolean {
    return this.#waitingForDrain
  }

  get pendingRequests(): number {
    return this.#pending.size
  }

  /** A fresh opaque for a request on this connection (never 0, which KiteQ reads as "unassigned"). */
  nextOpaque(): number {
    let opaque = this.#nextOpaque
    while (this.#pending.has(opaque)) opaque = opaque >= 0xffffffff ? 1 : opaque + 1
    this.#nextOpaque = opaque >= 0xffffffff ? 1 : opaque + 1
    return opaque
  }

  /** Queues an encoded frame. Throws ConnectionClosedError or BackpressureError; never blocks. */
  send(frame: Buffer): void {
    this.#admit(frame.length)
    this.#out.append(frame)
    this.#queued()
  }

  /** Encodes and queues a message; for answers pass the request's opaque. Throws like `send`. */
  sendMessage<T>(opaque: number, cmdType: number, codec: MessageCodec<T>, message: T): void {
    const bodyLength = packetBodySize(codec, message, this.maxBodyBytes)
    const length = FRAME_HEADER_BYTES + bodyLength
    this.#admit(length)
    // encoded in place: the frame exists only inside the outbound buffer
    writePacket(this.#out.reserve(length), this.#out.writeOffset, opaque, cmdType, codec, message, bodyLength)
    this.#out.commit(length)
    this.#queued()
  }

  /**
   * Sends an encoded request frame carrying `opaque` (from nextOpaque) and resolves with the
   * answer whose cmdType is `responseCmd`. Rejects with TimeoutError, ConnectionClosedError or
   * BackpressureError; settles exactly once.
   */
  request(opaque: number, frame: Buffer, responseCmd: number, timeoutMs = this.#requestTimeoutMs): Promise<Frame> {
    try {
      this.send(frame)
    } catch (err) {
      return Promise.reject(err)
    }
    return this.#awaitAnswer(opaque, responseCmd, timeoutMs)
  }

  /** Encodes `message` as a request and waits for its answer (see `request`). */
  requestMessage<T>(
    cmdType: number, codec: MessageCodec<T>, message: T, responseCmd: number, timeoutMs = this.#requestTimeoutMs,
  ): Promise<Frame> {
    return this.#requestMessage<T, Frame>(cmdType, codec, message, responseCmd, timeoutMs, undefined)
  }

  /**
   * Like requestMessage, but the promise resolves with what `interpret` takes from the answer, or
   * from the error that stands for a missing one (timeout, closed, back-pressure), and never
   * rejects. One promise per request where requestMessage(...).then(interpret, interpret) makes
   * two: the broker sends every delivery this way.
   */
  requestMessageAs<T, R>(
    cmdType: number, codec: MessageCodec<T>, message: T, responseCmd: number, timeoutMs: number,
    interpret: (answer: Frame | Error) => R,
  ): Promise<R> {
    return this.#requestMessage(cmdType, codec, message, responseCmd, timeoutMs, interpret)
  }

  /** requestMessage, or requestMessageAs with `interpret`. */
  #requestMessage<T, R>(
    cmdType: number, codec: MessageCodec<T>, message: T, responseCmd: number, timeoutMs: number,
    interpret: ((answer: Frame | Error) => R) | undefined,
  ): Promise<R> {
    const opaque = this.nextOpaque()
    try {
      this.sendMessage(opaque, cmdType, codec, message)
    } catch (err) {
      // never sent (closed, back-pressure): settled as an unanswered request would be
      return interpret === undefined ? Promise.reject(err) : Promise.resolve(interpret(err as Error))
    }
    return this.#awaitAnswer(opaque, responseCmd, timeoutMs, interpret)
  }

  /**
   * Resolves when nothing is held back by the stream (at once if it is not pushing back). Every
   * caller waiting out one back-pressure episode shares one promise: a hundred senders refused at
   * once would otherwise add two listeners each (and Node warns of a leak past ten).
   */
  waitForDrain(): Promise<void> {
    if (!this.#waitingForDrain) return Promise.resolve()
    if (this.#closed) return Promise.reject(this.#closedError())
    return (this.#drainWait ??= new Promise<void>((resolve, reject) => {
      const onDrain = () => {
        this.off('close', onClose)
        this.#drainWait = undefined
        resolve()
      }
      const onClose = () => {
        this.off('drain', onDrain)
        this.#drainWait = undefined
        reject(this.#closedError())
      }
      this.once('drain', onDrain)
      this.once('close', onClose)
    }))
  }

  /**
   * Without a reason: hands everything queued to the stream (past the back-pressure bound, which
   * is already capped by `maxQueuedBytes`) and ends it gracefully. With a reason: destroys at once.
   * Either way pending requests fail with ConnectionClosedError.
   */
  close(reason?: Error): void {
    if (this.#closed) return
    if (reason !== undefined) {
      this.#shutdown(reason)
      this.#stream.destroy()
      return
    }
    if (this.#out.bytes > 0) this.#stream.write(this.#out.take())
    this.#shutdown(undefined)
    this.#stream.end()
    // A peer that never reads what is left, or never closes its side, would hold the socket (and
    // a server's close) open for good: it gets as long as a request would, then the socket goes.
    const stream = this.#stream
    if (stream.destroyed) return
    const linger = setTimeout(() => stream.destroy(), this.#requestTimeoutMs)
    linger.unref()
    stream.once('close', () => clearTimeout(linger))
  }

  // ------------------------------------------------------------------------------------- inbound

  #receive(chunk: Buffer): void {
    try {
      this.#decoder.push(chunk)
    } catch (err) {
      if (err instanceof ProtocolError) {
        this.#logger.warn({ conn: this.label, code: err.code, err: err.message }, 'malformed frame, closing connection')
      } else {
        this.#logger.error({ conn: this.label, err }, 'frame handler failed, closing connection')
      }
      this.close(err as Error)
    }
  }

  #dispatch(frame: Frame): void {
    if (this.#closed) return
    if (this.#traffic !== undefined) this.#traffic.framesRead++
    const pending = this.#pending.get(frame.opaque)
    if (pending !== undefined && pending.responseCmd === frame.cmdType) {
      // the timeout timer stays armed: disarming whenever nothing is pending and arming again at the
      // next request made and dropped a timer per request at low load; an idle fire finds nothing
      this.#pending.delete(frame.opaque)
      answer(pending, frame)
      return
    }
    this.#onFrame(frame, this)
  }

  // ------------------------------------------------------------------------------------ outbound

  /** Throws unless `length` more bytes may be queued. */
  #admit(length: number): void {
    if (this.#closed) throw this.#closedError()
    if (!this.canQueue(length)) {
      throw new BackpressureError(
        `${this.label}: ${this.queuedBytes} bytes already queued, refusing ${length} more (limit ${this.#maxQueuedBytes})`,
      )
    }
  }

  /** A frame was queued: count it and flush now, at the end of the turn, or after 'drain'. */
  #queued(): void {
    if (this.#traffic !== undefined) this.#traffic.framesWritten++
    if (this.#waitingForDrain) return
    if (this.#out.bytes >= this.#flushThresholdBytes) this.#flush()
    else if (!this.#flushScheduled) {
      this.#flushScheduled = true
      process.nextTick(this.#scheduledFlush)
    }
  }

  readonly #scheduledFlush = (): void => {
    this.#flushScheduled = false
    this.#flush()
  }

  #flush(): void {
    if (this.#out.bytes === 0 || this.#waitingForDrain || this.#closed) return
    if (!this.#stream.write(this.#out.take())) this.#waitingForDrain = true
  }

  #drained(): void {
    if (!this.#waitingForDrain) return
    this.#waitingForDrain = false
    this.#flush()
    if (!this.#waitingForDrain) this.emit('drain')
  }

  // ------------------------------------------------------------------------------------ requests

  /**
   * Registers for the answer to a request already queued: no answer can arrive before this turn
   * ends, and a request that could not be queued then leaves nothing to undo.
   */
  #awaitAnswer<R = Frame>(opaque: number, responseCmd: number, timeoutMs: number, interpret?: (answer: Frame | Error) => R): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const deadline = performance.now() + timeoutMs
      this.#pending.set(opaque, { responseCmd, resolve: resolve as (value: unknown) => void, reject, interpret, deadline, timeoutMs })
      if (deadline < this.#timeoutAt) this.#armTimeouts(deadline)
    })
  }

  #armTimeouts(at: number): void {
    if (this.#timeoutTimer !== undefined) clearTimeout(this.#timeoutTimer)
    this.#timeoutAt = at
    this.#timeoutTimer = setTimeout(this.#expireRequests, Math.max(0, at - performance.now()))
  }

  #disarmTimeouts(): void {
    if (this.#timeoutTimer === undefined) return
    clearTimeout(this.#timeoutTimer)
    this.#timeoutTimer = undefined
    this.#timeoutAt = Infinity
  }

  /**
   * Fails every request past its deadline, earliest deadline first (a timer that fired late finds
   * several), and re-arms for the earliest one left.
   */
  readonly #expireRequests = (): void => {
    this.#timeoutTimer = undefined
    this.#timeoutAt = Infinity
    const now = performance.now()
    let earliest = Infinity
    const expired: [number, Pending][] = []
    for (const [opaque, p] of this.#pending) {
      if (p.deadline <= now) expired.push([opaque, p])
      else if (p.deadline < earliest) earliest = p.deadline
    }
    if (expired.length > 1) expired.sort((x, y) => x[1].deadline - y[1].deadline)
    for (const [opaque, p] of expired) {
      this.#pending.delete(opaque)
      answer(p, new TimeoutError(`${this.label}: no answer to request ${opaque} within ${p.timeoutMs} ms`))
    }
    if (earliest !== Infinity) this.#armTimeouts(earliest)
  }

  // ----------------------------------------------------------------------------------- lifecycle

  #closedError(): KiteQError {
    return new ConnectionClosedError(`${this.label}: connection closed`, { cause: this.#closeReason })
  }

  #shutdown(reason: Error | undefined): void {
    if (this.#closed) return
    this.#closed = true
    this.#closeReason = reason
    this.#out.clear()
    this.#disarmTimeouts()
    const error = this.#closedError()
    const pending = [...this.#pending.values()]
    this.#pending.clear()
    for (const p of pending) answer(p, error)
    this.emit('close', reason)
  }
}

/** Settles a request with its answer frame, or with the failure that stands for one. */
function answer(pending: Pending, outcome: Frame | Error): void {
  if (pending.interpret !== undefined) pending.resolve(pending.interpret(outcome))
  else if (outcome instanceof Error) pending.reject(outcome)
  else pending.resolve(outcome)
}
