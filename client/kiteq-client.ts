/**
 * KiteQClient: a producer and consumer speaking KiteQ's wire protocol to one or more brokers.
 *
 * It keeps one connection per broker (broker-pool.ts), handshakes on every (re)connection
 * (handshake.ts), publishes to a random live broker of the topic, runs two-phase commits, and
 * answers the broker's deliveries and transaction checks through the application's listener.
 */
import { EventEmitter } from 'node:events'
import { bindingsToJson, type Binding } from '../binding/binding.ts'
import { Cmd, TxStatus, type TxStatusValue } from '../protocol/commands.ts'
import { ConnectionClosedError, ErrorCodes, KiteQError, ProtocolError } from '../protocol/errors.ts'
import { ScheduleAckCodec, ScheduleAction, ScheduleRequestCodec, type ScheduleRequest } from '../protocol/extensions.ts'
import { encodePacket, type Frame } from '../protocol/frame.ts'
import type { Header } from '../protocol/header.ts'
import type { Logger } from '../protocol/logger.ts'
import { DeliverAckCodec, MessageStoreAckCodec, TxACKPacketCodec, type MessageStoreAck, type TxACKPacket } from '../protocol/messages.ts'
import { UnderWay } from '../protocol/under-way.ts'
import type { Connection } from '../remoting/connection.ts'
import { requestFrame, sendFrame, sendMessageFrame } from './backpressure.ts'
import { BrokerPool } from './broker-pool.ts'
import type { Discovery } from './discovery.ts'
import { handshake } from './handshake.ts'
import { readDelivery, txCheckOf } from './incoming.ts'
import { resolveOptions, type KiteQClientOptions, type ResolvedOptions } from './options.ts'
import { epochMs, messageId, nonEmpty, prepareBytesMessage, prepareStringMessage, type PreparedMessage } from './outgoing.ts'
import { combineScheduleOutcomes, scheduleOutcome } from './schedule.ts'
import type {
  DoTransaction, MessageListener, OutgoingMessage, ScheduleOutcome, SendResult, TxDecision, TxSendResult,
} from './types.ts'

export interface KiteQClientEvents {
  /** A broker connection finished its handshake (also after every reconnect). */
  'broker-up': [address: string]
  /** A ready broker connection was lost (it is dialled again unless the client is closing). */
  'broker-down': [address: string]
}

type State = 'new' | 'starting' | 'started' | 'closed'

const decisions: Record<TxDecision, TxStatusValue> = {
  commit: TxStatus.COMMIT,
  rollback: TxStatus.ROLLBACK,
  unknown: TxStatus.UNKNOWN,
}

function invalid(message: string): KiteQError {
  return new KiteQError(ErrorCodes.INVALID_ARGUMENT, message)
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

/**
 * Refusals a later attempt may get past: KiteQ's "OverFlow" (an accept limit, a full store, a broker
 * stopping) and a store that failed to write ("Store Result false"). The rest (expired, malformed,
 * too far ahead, unauthorized) would be refused again.
 */
function isRetriableRefusal(feedback: string): boolean {
  return feedback.startsWith('Store Result KiteQ OverFlow') || feedback.startsWith('Store Result false')
}

export class KiteQClient extends EventEmitter<KiteQClientEvents> {
  readonly #options: ResolvedOptions
  readonly #logger: Logger
  readonly #discovery: Discovery
  readonly #pool: BrokerPool
  #topics: string[] = []
  #bindings: Binding[] = []
  #bindingsJson: string | undefined
  #listener: MessageListener | undefined
  #state: State = 'new'
  /** While start() waits: re-evaluates readiness, or ends the wait with an error. */
  #startWait: { check: () => void; fail: (err: Error) => void } | undefined
  /** Publishes, transactions and schedule requests awaiting their answers: close() lets them finish. */
  readonly #requests = new UnderWay()
  #closing: Promise<void> | undefined
  #warnedNoCheckListener = false

  constructor(options: KiteQClientOptions) {
    super()
    this.#options = resolveOptions(options)
    this.#logger = this.#options.logger.child({ component: 'kiteq-client', groupId: this.#options.groupId })
    this.#discovery = this.#options.discovery
    this.#pool = new BrokerPool({
      handshake: (connection) => handshake(connection, {
        groupId: this.#options.groupId,
        secretKey: this.#options.secretKey,
        warmingupSec: this.#options.warmingupSec,
        bindingsJson: this.#bindingsJson,
        timeoutMs: this.#options.handshakeTimeoutMs,
        logger: this.#logger,
      }),
      onFrame: (frame, connection) => this.#onFrame(frame, connection),
      connection: this.#options.connection,
      logger: this.#logger,
    })
    this.#pool.on('up', (address) => {
      this.emit('broker-up', address)
      this.#startWait?.check()
    })
    this.#pool.on('down', (address) => this.emit('broker-down', address))
    this.#pool.on('refused', () => this.#startWait?.check())
    // the connection logged why; a later discovery change lists the address again and it is redialled
    this.#pool.on('gave-up', () => this.#startWait?.check())
  }

  get groupId(): string {
    return this.#options.groupId
  }

  /** A fresh 32-hex message id (the same as the exported messageId()). */
  messageId(): string {
    return messageId()
  }

  /** Topics this client publishes to: start() connects to their brokers. */
  setTopics(topics: string[]): void {
    this.#assertNotStarted('setTopics')
    if (!Array.isArray(topics)) throw invalid('setTopics takes an array of topic names')
    this.#topics = [...new Set(topics.map((t) => nonEmpty(t, 'topic')))]
  }

  /** This client's subscriptions; each binding's groupId becomes the client's. */
  setBindings(bindings: Binding[]): void {
    this.#assertNotStarted('setBindings')
    if (!Array.isArray(bindings)) throw invalid('setBindings takes an array of bindings')
    this.#bindings = bindings.map((b, i) => {
      if (b === null || typeof b !== 'object') throw invalid(`binding ${i} is not an object`)
      nonEmpty(b.topic, `binding ${i} topic`)
      nonEmpty(b.messageType, `binding ${i} messageType`)
      if (b.bindType !== 0 && b.bindType !== 1 && b.bindType !== 2) throw invalid(`binding ${i} has bindType ${String(b.bindType)}`)
      return { ...b, groupId: this.#options.groupId }
    })
  }

  setListener(listener: MessageListener): void {
    if (listener === null || typeof listener !== 'object' || typeof listener.onMessage !== 'function') {
      throw invalid('a listener needs an onMessage function')
    }
    this.#listener = listener
  }

  /**
   * Connects to every broker serving our topics and binding topics, and resolves once all of them
   * are ready. Brokers still not ready after startTimeoutMs are tolerated if every topic has some
   * ready broker; otherwise it fails with NO_BROKER. An auth refusal fails it with AUTH at once. A
   * failed start() closes the client.
   */
  async start(): Promise<void> {
    if (this.#state !== 'new') throw invalid(this.#state === 'closed' ? 'the client is closed' : 'start() was already called')
    this.#state = 'starting'
    const bindsOverWire = this.#discovery.kind === 'standalone' || this.#discovery.kind === 'file'
    this.#bindingsJson = bindsOverWire && this.#bindings.length > 0 ? bindingsToJson(this.#bindings) : undefined
    try {
      this.#discovery.open(() => this.#onDiscoveryChange(), {
        groupId: this.#options.groupId, publishTopics: this.#topics, bindings: this.#bindings,
      })
      this.#pool.sync(this.#wantedAddresses())
      await this.#waitForBrokers()
      // close() may have run while we waited, and the wait may have resolved before noticing.
      if (this.#state !== 'starting') throw new ConnectionClosedError('the client was closed during start()')
      this.#state = 'started'
    } catch (err) {
      await this.close()
      throw err
    }
  }

  // The two plain sends and #publish chain promises instead of being async functions: one publish
  // went through three suspended async frames, a visible share of a producer's CPU per message.

  sendStringMessage(msg: OutgoingMessage<string>): Promise<SendResult> {
    try {
      return this.#sendPlain(prepareStringMessage(msg, this.#prepareContext(false)))
    } catch (err) {
      return Promise.reject(err)
    }
  }

  sendBytesMessage(msg: OutgoingMessage<Buffer | Uint8Array>): Promise<SendResult> {
    try {
      return this.#sendPlain(prepareBytesMessage(msg, this.#prepareContext(false)))
    } catch (err) {
      return Promise.reject(err)
    }
  }

  async sendTxStringMessage(msg: OutgoingMessage<string>, doTransaction: DoTransaction): Promise<TxSendResult> {
    return this.#sendTx(prepareStringMessage(msg, this.#prepareContext(true)), doTransaction)
  }

  async sendTxBytesMessage(msg: OutgoingMessage<Buffer | Uint8Array>, doTransaction: DoTransaction): Promise<TxSendResult> {
    return this.#sendTx(prepareBytesMessage(msg, this.#prepareContext(true)), doTransaction)
  }

  /** Cancels a stored, not yet delivered message (asking every ready broker of the topic). */
  async cancel(topic: string, messageId: string): Promise<ScheduleOutcome> {
    return this.#schedule({ topic: nonEmpty(topic, 'topic'), messageId: nonEmpty(messageId, 'messageId'), action: ScheduleAction.CANCEL })
  }

  /** Moves the delivery time of a stored, not yet delivered message. */
  async reschedule(topic: string, messageId: string, deliverAt: Date | number): Promise<ScheduleOutcome> {
    return this.#schedule({
      topic: nonEmpty(topic, 'topic'),
      messageId: nonEmpty(messageId, 'messageId'),
      action: ScheduleAction.RESCHEDULE,
      deliverAt: epochMs(deliverAt, 'deliverAt'),
    })
  }

  /**
   * Takes no new requests, lets those awaiting an answer finish (each within its own timeout, all
   * within publishTimeoutMs: a publish cut off would leave its producer not knowing whether the
   * message was stored), then stops redialling and closes every connection. Requests still waiting
   * then fail with CONNECTION_CLOSED.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close()
    return this.#closing
  }

  async #close(): Promise<void> {
    // a client closed while starting (or never started) closes at once: its start() fails anyway
    const wasStarted = this.#state === 'started'
    this.#state = 'closed'
    this.#startWait?.fail(new ConnectionClosedError('the client was closed during start()'))
    if (wasStarted && this.#requests.count > 0) {
      let timer: NodeJS.Timeout | undefined
      const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.#options.publishTimeoutMs)))
      await Promise.race([this.#requests.idle(), deadline])
      clearTimeout(timer)
    }
    this.#pool.close()
    await this.#discovery.close()
  }

  // ------------------------------------------------------------------------------------ start-up

  #assertNotStarted(what: string): void {
    if (this.#state !== 'new') throw invalid(`${what}() must be called before start()`)
  }

  #allTopics(): Set<string> {
    return new Set([...this.#topics, ...this.#bindings.map((b) => b.topic)])
  }

  #wantedAddresses(): Set<string> {
    return this.#discovery.addressesFor(this.#allTopics())
  }

  #onDiscoveryChange(): void {
    if (this.#state === 'closed') return
    this.#pool.sync(this.#wantedAddresses())
    this.#startWait?.check()
  }

  /** Topics without a ready broker (standalone: '*' while no broker at all is ready). */
  #unservedTopics(): string[] {
    if (this.#discovery.kind === 'standalone') {
      return this.#pool.readyConnections(this.#discovery.brokersFor('*')).length > 0 ? [] : ['*']
    }
    return [...this.#allTopics()].filter((t) => this.#pool.readyConnections(this.#discovery.brokersFor(t)).length === 0)
  }

  #waitForBrokers(): Promise<void> {
    const { startTimeoutMs } = this.#options
    return new Promise<void>((resolve, reject) => {
      const finish = (err?: Error) => {
        clearTimeout(timer)
        this.#startWait = undefined
        if (err === undefined) resolve()
        else reject(err)
      }
      const check = () => {
        const refusal = this.#pool.refusal
        if (refusal !== undefined) return finish(refusal)
        const wanted = this.#wantedAddresses()
        const allReady = this.#pool.readyConnections(wanted).length === wanted.size
        if (allReady && this.#unservedTopics().length === 0) finish()
      }
      const timer = setTimeout(() => {
        const unserved = this.#unservedTopics()
        if (unserved.length > 0) {
          const which = unserved[0] === '*' ? 'any topic' : `topic(s) ${unserved.join(', ')}`
          finish(new KiteQError(ErrorCodes.NO_BROKER, `no ready broker for ${which} within ${startTimeoutMs} ms`, { retriable: true }))
          return
        }
        const wanted = this.#wantedAddresses()
        const ready = new Set(this.#pool.readyConnections(wanted).map((c) => c.label))
        this.#logger.warn({ notReady: [...wanted].filter((a) => !ready.has(a)) }, 'starting without some brokers; they keep being dialled')
        finish()
      }, startTimeoutMs)
      this.#startWait = { check, fail: finish }
      check()
    })
  }

  // ---------------------------------------------------------------------------------- publishing

  #prepareContext(transactional: boolean) {
    return { groupId: this.#options.groupId, nowMs: Date.now(), transactional }
  }

  #sendPlain(prepared: PreparedMessage): Promise<SendResult> {
    return this.#publish(prepared).then(({ ack }) => ({ messageId: prepared.sent.messageId, feedback: ack.feedback }))
  }

  /** Throws (synchronously) when there is no broker to send to; otherwise the store ack, or a rejection. */
  #publish(prepared: PreparedMessage): Promise<{ ack: MessageStoreAck; connection: Connection }> {
    if (this.#state === 'closed') throw new ConnectionClosedError('the client is closed')
    const topic = prepared.wire.header.topic
    const connection = this.#pool.pick(this.#discovery.brokersFor(topic))
    if (connection === undefined) throw this.#noBrokerFor(topic)
    const opaque = connection.nextOpaque()
    const frame = encodeMessage(prepared, opaque, connection.maxBodyBytes)
    const requests = this.#requests
    requests.begin()
    return requestFrame(connection, opaque, frame, Cmd.MESSAGE_STORE_ACK, this.#options.publishTimeoutMs).then((reply) => {
      requests.end()
      const ack = MessageStoreAckCodec.decode(reply.body)
      if (!ack.status) {
        const feedback = ack.feedback === '' ? `${connection.label} did not store the message` : ack.feedback
        throw new KiteQError(ErrorCodes.REJECTED, feedback, { retriable: isRetriableRefusal(ack.feedback) })
      }
      return { ack, connection }
    }, (err: unknown) => {
      requests.end()
      throw err
    })
  }

  /** Why a request for `topic` has no connection: a mistake in how the client is used, or brokers down for now. */
  #noBrokerFor(topic: string): KiteQError {
    if (this.#state === 'closed') return new ConnectionClosedError('the client is closed')
    if (this.#state === 'new') return invalid('start() has not been called')
    if (this.#discovery.kind !== 'standalone' && !this.#allTopics().has(topic)) {
      return invalid(`topic '${topic}' is neither in setTopics() nor bound: the client does not dial its brokers`)
    }
    return new KiteQError(ErrorCodes.NO_BROKER, `no ready broker for topic '${topic}'`, { retriable: true })
  }

  async #sendTx(prepared: PreparedMessage, doTransaction: DoTransaction): Promise<TxSendResult> {
    if (typeof doTransaction !== 'function') throw invalid('sendTx* needs a doTransaction function')
    // the whole transaction, through its TX_ACK: close() waits for it
    this.#requests.begin()
    try {
      return await this.#runTx(prepared, doTransaction)
    } finally {
      this.#requests.end()
    }
  }

  async #runTx(prepared: PreparedMessage, doTransaction: DoTransaction): Promise<TxSendResult> {
    const { ack, connection } = await this.#publish(prepared)
    let committed = false
    let failure: { error: unknown } | undefined
    try {
      committed = (await doTransaction(prepared.sent)) === true
    } catch (error) {
      failure = { error }
    }
    const txAck: TxACKPacket = {
      header: prepared.wire.header,
      status: committed ? TxStatus.COMMIT : TxStatus.ROLLBACK,
      feedback: failure === undefined ? '' : errorText(failure.error),
    }
    try {
      // Opaque 0 and no answer, as kiteq-client-go; on the connection whose broker stored the message.
      await sendFrame(connection, encodePacket(0, Cmd.TX_ACK, TxACKPacketCodec, txAck, connection.maxBodyBytes))
    } catch (err) {
      const what = `${committed ? 'commit' : 'rollback'} of message ${prepared.sent.messageId} was not sent (${errorText(err)}); the broker will ask onMessageCheck`
      if (failure !== undefined) {
        this.#logger.warn({ broker: connection.label }, what)
        throw failure.error
      }
      // Not retriable: the local transaction already ran, and sending the message again would duplicate it.
      throw new KiteQError((err as KiteQError).code ?? ErrorCodes.CONNECTION_CLOSED, what, { cause: err, retriable: false })
    }
    if (failure !== undefined) throw failure.error
    return { messageId: prepared.sent.messageId, feedback: ack.feedback, committed }
  }

  async #schedule(request: ScheduleRequest): Promise<ScheduleOutcome> {
    const connections = this.#state === 'closed' ? [] : this.#pool.readyConnections(this.#discovery.brokersFor(request.topic))
    if (connections.length === 0) throw this.#noBrokerFor(request.topic)
    this.#requests.begin()
    try {
      return await this.#askBrokers(request, connections)
    } finally {
      this.#requests.end()
    }
  }

  async #askBrokers(request: ScheduleRequest, connections: Connection[]): Promise<ScheduleOutcome> {
    const answers = await Promise.allSettled(connections.map(async (connection) => {
      const opaque = connection.nextOpaque()
      const frame = encodePacket(opaque, Cmd.SCHEDULE, ScheduleRequestCodec, request, connection.maxBodyBytes)
      const reply = await requestFrame(connection, opaque, frame, Cmd.SCHEDULE_ACK, this.#options.publishTimeoutMs)
      return scheduleOutcome(ScheduleAckCodec.decode(reply.body))
    }))
    const outcomes = answers.flatMap((a) => (a.status === 'fulfilled' ? [a.value] : []))
    const failures = answers.flatMap((a) => (a.status === 'rejected' ? [a.reason as Error] : []))
    const outcome = combineScheduleOutcomes(outcomes, failures.length > 0)
    if (outcome !== undefined) return outcome
    throw failures[0]
  }

  // ----------------------------------------------------------------------------- broker requests

  #onFrame(frame: Frame, connection: Connection): void {
    switch (frame.cmdType) {
      case Cmd.BYTES_MESSAGE:
      case Cmd.STRING_MESSAGE:
        this.#onDelivery(frame, connection)
        return
      case Cmd.TX_ACK:
        void this.#onTxCheck(frame, connection)
        return
      case Cmd.CONN_AUTH:
        // A KiteQ broker says this (opaque 0) just before closing a connection it does not know.
        this.#logger.warn({ broker: connection.label }, 'broker reports the connection as unauthorized')
        return
      default:
        // Late answers to requests that timed out land here too.
        this.#logger.debug({ broker: connection.label, cmdType: frame.cmdType, opaque: frame.opaque }, 'ignoring an unexpected frame')
    }
  }

  /**
   * Runs the listener and answers with a DeliverAck. A listener that answers synchronously is
   * acknowledged in the same turn, without a promise: this runs for every message received.
   */
  #onDelivery(frame: Frame, connection: Connection): void {
    let read
    try {
      read = readDelivery(frame)
    } catch (err) {
      // Nothing to name in an answer; the broker's delivery timeout will redeliver, as with Go.
      this.#logger.warn({ broker: connection.label, err: errorText(err) }, 'undecodable delivery dropped without an answer')
      return
    }
    const { header, message, problem } = read
    const listener = this.#listener
    if (message === undefined) return this.#ackDelivery(connection, frame.opaque, header, false, problem ?? 'undecodable body')
    if (listener === undefined) return this.#ackDelivery(connection, frame.opaque, header, false, 'no listener')
    if (problem !== undefined) this.#logger.warn({ messageId: header.messageId }, problem)
    let result: boolean | Promise<boolean>
    try {
      result = listener.onMessage(message)
    } catch (err) {
      return this.#ackDelivery(connection, frame.opaque, header, false, errorText(err))
    }
    if (!isPromiseLike(result)) return this.#ackDelivery(connection, frame.opaque, header, result === true, result === true ? '' : 'listener returned false')
    Promise.resolve(result).then(
      (ok) => this.#ackDelivery(connection, frame.opaque, header, ok === true, ok === true ? '' : 'listener returned false'),
      (err: unknown) => this.#ackDelivery(connection, frame.opaque, header, false, errorText(err)),
    )
  }

  /** Acknowledges a delivery; a failure is logged only (the broker redelivers what it did not hear of). */
  #ackDelivery(connection: Connection, opaque: number, header: Header, status: boolean, feedback: string): void {
    const ack = { messageId: header.messageId, topic: header.topic, messageType: header.messageType, groupId: header.groupId, status, feedback }
    // the handler is made only when the send had to wait (no closure per ack on the common path)
    sendMessageFrame(connection, opaque, Cmd.DELIVER_ACK, DeliverAckCodec, ack)?.catch((err: unknown) =>
      this.#logger.warn({ broker: connection.label, messageId: header.messageId, err: errorText(err) }, 'could not acknowledge a delivery; the broker will redeliver'))
  }

  async #onTxCheck(frame: Frame, connection: Connection): Promise<void> {
    let packet: TxACKPacket
    try {
      packet = TxACKPacketCodec.decode(frame.body)
    } catch (err) {
      this.#logger.warn({ broker: connection.label, err: errorText(err) }, 'undecodable transaction check dropped')
      return
    }
    if (packet.status !== TxStatus.UNKNOWN) {
      this.#logger.debug({ broker: connection.label, status: packet.status }, 'ignoring a TX_ACK that is not a check')
      return
    }
    // Without onMessageCheck nobody knows how the local transaction ended: committing (what
    // kiteq-client-go's default listener does) would deliver a message its producer rolled back.
    let status: TxStatusValue = TxStatus.UNKNOWN
    let feedback = ''
    const listener = this.#listener
    if (listener?.onMessageCheck === undefined) {
      feedback = 'no onMessageCheck in this client'
      if (!this.#warnedNoCheckListener) {
        this.#warnedNoCheckListener = true
        this.#logger.warn({ broker: connection.label, messageId: packet.header.messageId },
          "a broker asks how a transaction ended, and this client has no onMessageCheck: answering 'unknown' (the broker asks again, then dead-letters it)")
      }
    } else {
      try {
        const decision = await listener.onMessageCheck(txCheckOf(packet.header))
        if (Object.hasOwn(decisions, decision)) status = decisions[decision]
        else feedback = `onMessageCheck answered ${String(decision)}, not 'commit', 'rollback' or 'unknown'`
      } catch (err) {
        feedback = errorText(err)
      }
    }
    const answer: TxACKPacket = { header: packet.header, status, feedback }
    try {
      await sendFrame(connection, encodePacket(frame.opaque, Cmd.TX_ACK, TxACKPacketCodec, answer, connection.maxBodyBytes))
    } catch (err) {
      this.#logger.warn({ broker: connection.label, messageId: packet.header.messageId, err: errorText(err) }, 'could not answer a transaction check')
    }
  }
}

/** The frame of a prepared message; one too large for a frame is the caller's mistake, not the wire's. */
function encodeMessage(prepared: PreparedMessage, opaque: number, maxBodyBytes: number): Buffer {
  try {
    // the same call twice: each branch narrows the codec and the message to one type
    return prepared.cmdType === Cmd.STRING_MESSAGE
      ? encodePacket(opaque, prepared.cmdType, prepared.codec, prepared.wire, maxBodyBytes)
      : encodePacket(opaque, prepared.cmdType, prepared.codec, prepared.wire, maxBodyBytes)
  } catch (err) {
    if (err instanceof ProtocolError) throw new KiteQError(ErrorCodes.INVALID_ARGUMENT, err.message, { cause: err })
    throw err
  }
}

function isPromiseLike<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as PromiseLike<T> | null)?.then === 'function'
}
