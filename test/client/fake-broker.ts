/**
 * A KiteQ broker stand-in for client tests: listens on 127.0.0.1 (port 0), records every frame and
 * every raw byte clients send, and answers as a KiteQ broker would (CONN_AUTH, heartbeat echo,
 * MESSAGE_STORE_ACK) plus the KiteQ-TS extensions (BIND_ACK, SCHEDULE_ACK). Hooks change answers,
 * or suppress them (return null) to provoke timeouts. Waiting is event-driven, never by sleeping.
 */
import { EventEmitter } from 'node:events'
import { randomUUID } from 'node:crypto'
import {
  BindAckCodec, BindRequestCodec, BytesMessageCodec, Cmd, ConnAuthAckCodec, ConnMetaCodec, DeliverAckCodec,
  HeartBeatCodec, MessageStoreAckCodec, encodePacket, ScheduleAckCodec, ScheduleRequestCodec, StringMessageCodec, TxACKPacketCodec,
  type BindAck, type BindRequest, type ConnAuthAck, type ConnMeta, type DeliverAck, type Frame, type Header,
  type MessageCodec, type MessageStoreAck, type ScheduleAck, type ScheduleRequest, type TxACKPacket,
} from '../../protocol/index.ts'
import { listenTcp, type Connection, type TcpServer } from '../../remoting/index.ts'
import type { KiteQClientOptions } from '../../client/index.ts'

export interface Recorded {
  cmdType: number
  opaque: number
  /** A copy of the frame body. */
  body: Buffer
  connection: Connection
  /** Which accepted connection (0 = first) the frame came on. */
  connectionIndex: number
}

type Answer<T> = T | null | Promise<T | null>

export interface FakeBrokerHooks {
  auth?: (meta: ConnMeta) => ConnAuthAck
  bind?: (request: BindRequest) => Answer<BindAck>
  /** null: never answer (the client's publish times out). */
  store?: (header: Header, frame: Recorded) => Answer<MessageStoreAck>
  schedule?: (request: ScheduleRequest) => Answer<ScheduleAck>
}

interface FakeBrokerEvents {
  frame: [frame: Recorded]
  connection: [connection: Connection]
}

const WAIT_MS = 3000

export class FakeBroker extends EventEmitter<FakeBrokerEvents> {
  readonly hooks: FakeBrokerHooks
  readonly frames: Recorded[] = []
  /** Every byte each accepted connection sent, in order. */
  readonly raw: Buffer[][] = []
  readonly #accepted: Connection[] = []
  #server!: TcpServer

  private constructor(hooks: FakeBrokerHooks) {
    super()
    this.hooks = hooks
  }

  static async start(hooks: FakeBrokerHooks = {}, port = 0): Promise<FakeBroker> {
    const broker = new FakeBroker(hooks)
    broker.#server = await listenTcp({
      host: '127.0.0.1',
      port,
      onConnection: (connection, socket) => {
        const index = broker.#accepted.length
        broker.#accepted.push(connection)
        const raw: Buffer[] = []
        broker.raw.push(raw)
        socket.on('data', (chunk: Buffer) => raw.push(Buffer.from(chunk)))
        connection.setFrameHandler((frame, c) => broker.#onFrame(frame, c, index))
        broker.emit('connection', connection)
      },
    })
    return broker
  }

  get port(): number {
    return this.#server.port
  }

  get address(): string {
    return `127.0.0.1:${this.port}`
  }

  /** How many connections were ever accepted. */
  get accepted(): number {
    return this.#accepted.length
  }

  /** Open connections. */
  get connections(): Connection[] {
    return [...this.#server.connections]
  }

  framesOf(cmdType: number): Recorded[] {
    return this.frames.filter((f) => f.cmdType === cmdType)
  }

  /** The n-th (0-based) recorded frame matching, already recorded or still to come. */
  waitForFrame(match: (f: Recorded) => boolean, nth = 0, timeoutMs = WAIT_MS): Promise<Recorded> {
    const seen = this.frames.filter(match)
    if (seen.length > nth) return Promise.resolve(seen[nth])
    let count = seen.length
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('frame', onFrame)
        reject(new Error(`fake broker: frame #${nth} not seen within ${timeoutMs} ms`))
      }, timeoutMs)
      const onFrame = (f: Recorded) => {
        if (!match(f) || count++ < nth) return
        clearTimeout(timer)
        this.off('frame', onFrame)
        resolve(f)
      }
      this.on('frame', onFrame)
    })
  }

  /** The first frame matching on any of `brokers`, with the broker it arrived at. */
  static async waitForAny(brokers: FakeBroker[], match: (f: Recorded) => boolean, timeoutMs = WAIT_MS): Promise<{ broker: FakeBroker; frame: Recorded }> {
    for (const broker of brokers) {
      const frame = broker.frames.find(match)
      if (frame !== undefined) return { broker, frame }
    }
    return new Promise((resolve, reject) => {
      const listeners = brokers.map((broker) => {
        const onFrame = (frame: Recorded) => {
          if (!match(frame)) return
          done()
          resolve({ broker, frame })
        }
        broker.on('frame', onFrame)
        return () => broker.off('frame', onFrame)
      })
      const done = () => {
        clearTimeout(timer)
        for (const off of listeners) off()
      }
      const timer = setTimeout(() => {
        done()
        reject(new Error(`fake brokers: no matching frame within ${timeoutMs} ms`))
      }, timeoutMs)
    })
  }

  waitForCmd(cmdType: number, nth = 0, timeoutMs = WAIT_MS): Promise<Recorded> {
    return this.waitForFrame((f) => f.cmdType === cmdType, nth, timeoutMs)
  }

  /** Resolves with the first open connection that has completed CONN_META, waiting if needed. */
  async authedConnection(): Promise<Connection> {
    const meta = await this.waitForCmd(Cmd.CONN_META)
    return meta.connection
  }

  /**
   * Delivers a message as a broker does (a request with the broker's own opaque) and returns the
   * client's DELIVER_ACK with the opaques on both sides.
   */
  async deliver(
    connection: Connection, cmdType: typeof Cmd.STRING_MESSAGE | typeof Cmd.BYTES_MESSAGE, header: Header, body: string | Buffer,
    timeoutMs = WAIT_MS,
  ): Promise<{ opaque: number; replyOpaque: number; ack: DeliverAck }> {
    const opaque = connection.nextOpaque()
    const frame = cmdType === Cmd.STRING_MESSAGE
      ? encodePacket(opaque, cmdType, StringMessageCodec, { header, body: body as string })
      : encodePacket(opaque, cmdType, BytesMessageCodec, { header, body: body as Buffer })
    const reply = await connection.request(opaque, frame, Cmd.DELIVER_ACK, timeoutMs)
    return { opaque, replyOpaque: reply.opaque, ack: DeliverAckCodec.decode(reply.body) }
  }

  /** A broker's transaction check (TX_ACK status 0, "Server Check") and the client's answer. */
  async txCheck(connection: Connection, header: Header, timeoutMs = WAIT_MS): Promise<{ opaque: number; replyOpaque: number; answer: TxACKPacket }> {
    const opaque = connection.nextOpaque()
    const frame = encodePacket(opaque, Cmd.TX_ACK, TxACKPacketCodec, { header, status: 0, feedback: 'Server Check' })
    const reply = await connection.request(opaque, frame, Cmd.TX_ACK, timeoutMs)
    return { opaque, replyOpaque: reply.opaque, answer: TxACKPacketCodec.decode(reply.body) }
  }

  /** Drops every client connection (the clients reconnect). */
  kick(): void {
    this.#server.closeAll(new Error('kicked by the fake broker'))
  }

  async stop(): Promise<void> {
    this.#server.closeAll(new Error('fake broker stopped'))
    await this.#server.stopAccepting()
  }

  #onFrame(frame: Frame, connection: Connection, connectionIndex: number): void {
    const recorded: Recorded = { cmdType: frame.cmdType, opaque: frame.opaque, body: Buffer.from(frame.body), connection, connectionIndex }
    this.frames.push(recorded)
    this.emit('frame', recorded)
    const reply = <T>(cmdType: number, codec: MessageCodec<T>, answer: Answer<T>) => {
      void Promise.resolve(answer).then((message) => {
        if (message === null || connection.closed) return
        connection.sendMessage(frame.opaque, cmdType, codec, message)
      })
    }
    switch (frame.cmdType) {
      case Cmd.HEARTBEAT:
        reply(Cmd.HEARTBEAT, HeartBeatCodec, HeartBeatCodec.decode(recorded.body))
        break
      case Cmd.CONN_META: {
        const meta = ConnMetaCodec.decode(recorded.body)
        reply(Cmd.CONN_AUTH, ConnAuthAckCodec, this.hooks.auth?.(meta) ?? { status: true, feedback: 'Auth Succ' })
        break
      }
      case Cmd.BIND: {
        const request = BindRequestCodec.decode(recorded.body)
        reply(Cmd.BIND_ACK, BindAckCodec, this.hooks.bind ? this.hooks.bind(request) : { status: true, feedback: 'bound' })
        break
      }
      case Cmd.STRING_MESSAGE:
      case Cmd.BYTES_MESSAGE: {
        const { header } = (frame.cmdType === Cmd.STRING_MESSAGE ? StringMessageCodec : BytesMessageCodec).decode(recorded.body)
        const answer = this.hooks.store
          ? this.hooks.store(header, recorded)
          : { messageId: header.messageId, status: true, feedback: 'Store Result true Cost:0' }
        reply(Cmd.MESSAGE_STORE_ACK, MessageStoreAckCodec, answer)
        break
      }
      case Cmd.SCHEDULE: {
        const request = ScheduleRequestCodec.decode(recorded.body)
        const answer = this.hooks.schedule
          ? this.hooks.schedule(request)
          : { messageId: request.messageId, result: 4, feedback: 'not found' }
        reply(Cmd.SCHEDULE_ACK, ScheduleAckCodec, answer)
        break
      }
      default:
        // DELIVER_ACK and TX_ACK from the client: recorded only.
        break
    }
  }
}

/** A header as a broker would deliver it. */
export function deliveryHeader(overrides: Partial<Header> = {}): Header {
  return {
    messageId: randomUUID().replaceAll('-', ''),
    topic: 'trade',
    messageType: 'pay-succ',
    expiredTime: Math.floor(Date.now() / 1000) + 3600,
    deliverLimit: 100,
    groupId: 'publisher-group',
    commit: true,
    fly: false,
    properties: [],
    createTime: Math.floor(Date.now() / 1000),
    ...overrides,
  }
}

/** Random names, so tests never share state by accident. */
export function randomName(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`
}

/** A promise with its resolve function, for gating listeners and hooks. */
export function gate<T = void>(): { promise: Promise<T>; open: (value: T) => void } {
  let open!: (value: T) => void
  const promise = new Promise<T>((resolve) => (open = resolve))
  return { promise, open }
}

/** Client options for tests: fast reconnects, no heartbeats unless asked for. */
export function testClientOptions(brokers: FakeBroker[], overrides: Partial<KiteQClientOptions> = {}): KiteQClientOptions {
  return {
    groupId: randomName('group'),
    brokers: brokers.map((b) => b.address),
    startTimeoutMs: 3000,
    connection: { heartbeat: false, reconnect: { initialDelayMs: 5, maxDelayMs: 50 } },
    ...overrides,
  }
}
