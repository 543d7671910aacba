import test from 'ava'
import {
  Cmd, FRAME_HEADER_BYTES, FrameDecoder, HeartBeatCodec, StringMessageCodec, encodePacket, headerSize, writeHeader,
  type Frame, type Header,
} from '../../protocol/index.ts'
import { ProtoWriter } from '../../protocol/wire.ts'
import {
  goldenExpiredMinusOne, goldenFrames, goldenHeader, goldenPropertyEntry,
} from '../../protocol/goldens.ts'

function encodeHeaderHex(header: Header): string {
  const buf = Buffer.alloc(headerSize(header))
  const w = new ProtoWriter(buf)
  writeHeader(w, header)
  return buf.toString('hex')
}

for (const golden of goldenFrames) {
  test(`golden ${golden.name}: encodes to exactly the KiteQ bytes`, (t) => {
    const frame = encodePacket(golden.opaque, golden.cmdType, golden.codec, golden.message)
    t.is(frame.toString('hex'), golden.hex)
  })

  test(`golden ${golden.name}: decodes back to the same frame and message`, (t) => {
    const frames: Frame[] = []
    new FrameDecoder((f) => frames.push(f)).push(Buffer.from(golden.hex, 'hex'))
    t.is(frames.length, 1)
    const [frame] = frames
    t.is(frame.opaque, golden.opaque)
    t.is(frame.cmdType, golden.cmdType)
    t.is(frame.version, 0)
    t.is(frame.extension, 0n)
    t.deepEqual(golden.codec.decode(frame.body), golden.message)
    // and re-encoding what was decoded gives the same bytes again
    t.is(encodePacket(frame.opaque, frame.cmdType, golden.codec, golden.codec.decode(frame.body)).toString('hex'), golden.hex)
  })
}

test('golden: the StringMessage frame is 111 bytes, its Header 83', (t) => {
  const frame = encodePacket(7, Cmd.STRING_MESSAGE, StringMessageCodec, { header: goldenHeader, body: 'hello' })
  t.is(frame.length, 111)
  t.is(headerSize(goldenHeader), 83)
  t.is(FRAME_HEADER_BYTES, 19)
})

test('golden: expiredTime = -1 is the 10-byte varint', (t) => {
  const header: Header = { ...goldenHeader, expiredTime: -1, createTime: undefined }
  delete header.createTime
  const hex = encodeHeaderHex(header)
  t.true(hex.includes(goldenExpiredMinusOne))
  const decoded = StringMessageCodec.decode(StringMessageCodec.encode({ header, body: '' }))
  t.is(decoded.header.expiredTime, -1)
})

test('golden: a property Entry inside a Header', (t) => {
  const header: Header = { ...goldenHeader, properties: [{ key: 'tradeno', value: '42' }] }
  const hex = encodeHeaderHex(header)
  // properties (field 9) come after fly (field 8) and before createTime (field 10)
  t.true(hex.includes('4000' + goldenPropertyEntry + '50'))
  t.deepEqual(StringMessageCodec.decode(StringMessageCodec.encode({ header, body: 'x' })).header.properties, [
    { key: 'tradeno', value: '42' },
  ])
})

test('golden: a HeartBeat body alone is 6 bytes', (t) => {
  t.is(HeartBeatCodec.encode({ version: 1700000000 }).toString('hex'), '0880e2cfaa06')
})
