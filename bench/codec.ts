/**
 * Codec throughput on one core: frame decode (FrameDecoder + body decode) and encode (one frame
 * buffer) for a StringMessage with a 512-byte body and a BytesMessage with a 2 KiB body.
 * Targets (issue 3): ≥ 1 000 000 decodes/s and ≥ 500 000 encodes/s for the 512 B frame.
 *   node --import=tsx bench/codec.ts [durationMs]
 */
import {
  BytesMessageCodec, Cmd, FrameDecoder, RawMessageCodec, StringMessageCodec, encodePacket, type Frame, type Header,
  type MessageCodec,
} from '../protocol/index.ts'
import { formatRate, opsPerSecond, printMachine } from './machine.ts'

const durationMs = Number(process.argv[2] ?? 2000)

const header: Header = {
  messageId: '0123456789abcdef0123456789abcdef',
  topic: 'trade',
  messageType: 'pay-succ',
  expiredTime: Math.floor(Date.now() / 1000) + 86400,
  deliverLimit: 100,
  groupId: 'pb-mts-test',
  commit: true,
  fly: false,
  properties: [{ key: 'tradeno', value: '20261124000042' }],
  createTime: Math.floor(Date.now() / 1000),
}

interface Case {
  name: string
  cmdType: number
  codec: MessageCodec<any>
  message: object
}

const cases: Case[] = [
  { name: 'StringMessage, 512 B body', cmdType: Cmd.STRING_MESSAGE, codec: StringMessageCodec, message: { header, body: 'x'.repeat(512) } },
  { name: 'BytesMessage, 2 KiB body', cmdType: Cmd.BYTES_MESSAGE, codec: BytesMessageCodec, message: { header, body: Buffer.alloc(2048, 7) } },
]

printMachine('bench/codec: one core')
console.log('| frame | bytes | decode/s (frame + body) | decode/s (broker view: raw body) | encode/s |')
console.log('|---|---|---|---|---|')
for (const c of cases) {
  const frameBytes = encodePacket(7, c.cmdType, c.codec, c.message)
  let sink: unknown
  const decodeWith = (codec: MessageCodec<any>) => {
    const decoder = new FrameDecoder((f: Frame) => (sink = codec.decode(f.body)))
    return () => decoder.push(frameBytes)
  }
  const decodeRate = opsPerSecond(decodeWith(c.codec), durationMs)
  const rawRate = opsPerSecond(decodeWith(RawMessageCodec), durationMs)
  let opaque = 0
  const encodeRate = opsPerSecond(() => (sink = encodePacket(++opaque, c.cmdType, c.codec, c.message)), durationMs)
  void sink
  console.log(`| ${c.name} | ${frameBytes.length} | ${formatRate(decodeRate)} | ${formatRate(rawRate)} | ${formatRate(encodeRate)} |`)
}
