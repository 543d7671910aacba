import test from 'ava'
import {
  Cmd, DEFAULT_MAX_BODY_BYTES, ErrorCodes, FrameDecoder, ProtocolError, encodeFrame, type Frame,
} from '../../protocol/index.ts'
import { goldenFrames } from '../../protocol/goldens.ts'
import { SeededRandom, testSeed } from '../helpers/random.ts'

const stream = Buffer.concat(goldenFrames.map((g) => Buffer.from(g.hex, 'hex')))

function comparable(frames: Frame[]) {
  return frames.map((f) => ({ ...f, body: f.body.toString('hex') }))
}

function decodeInPieces(data: Buffer, cuts: number[]): Frame[] {
  const frames: Frame[] = []
  const decoder = new FrameDecoder((f) => frames.push({ ...f, body: Buffer.from(f.body) }))
  let start = 0
  for (const cut of [...cuts, data.length]) {
    decoder.push(data.subarray(start, cut))
    start = cut
  }
  return frames
}

const whole = comparable(decodeInPieces(stream, []))

test('decoder: all golden frames in one chunk come out in order', (t) => {
  t.is(whole.length, goldenFrames.length)
  t.deepEqual(whole.map((f) => f.cmdType), goldenFrames.map((g) => g.cmdType))
  t.deepEqual(whole.map((f) => f.opaque), goldenFrames.map((g) => g.opaque))
})

test('decoder: fed one byte at a time yields the identical frames', (t) => {
  const cuts = Array.from({ length: stream.length - 1 }, (_, i) => i + 1)
  t.deepEqual(comparable(decodeInPieces(stream, cuts)), whole)
})

test('decoder: seeded random splits yield the identical frames', (t) => {
  const rnd = new SeededRandom(testSeed(0xc0ffee))
  for (let round = 0; round < 500; round++) {
    const cuts = new Set<number>()
    const n = rnd.int(1, 30)
    for (let i = 0; i < n; i++) cuts.add(rnd.int(1, stream.length - 1))
    const sorted = [...cuts].sort((a, b) => a - b)
    t.deepEqual(comparable(decodeInPieces(stream, sorted)), whole, `seed ${rnd.seed} round ${round} cuts ${sorted}`)
  }
})

test('decoder: a frame inside one chunk is a view of that chunk, not a copy', (t) => {
  const chunk = Buffer.from(goldenFrames[3].hex, 'hex')
  let body: Buffer | undefined
  new FrameDecoder((f) => (body = f.body)).push(chunk)
  t.is(body!.buffer, chunk.buffer)
  t.is(body!.byteOffset, chunk.byteOffset + 19)
})

test('decoder: a body of exactly 2 MiB is accepted', (t) => {
  const body = Buffer.alloc(DEFAULT_MAX_BODY_BYTES, 7)
  const frames: Frame[] = []
  const decoder = new FrameDecoder((f) => frames.push(f))
  const data = encodeFrame({ opaque: 5, cmdType: Cmd.BYTES_MESSAGE, body })
  // arrive in 64 KiB socket-sized chunks
  for (let i = 0; i < data.length; i += 65536) decoder.push(data.subarray(i, i + 65536))
  t.is(frames.length, 1)
  t.is(frames[0].body.length, DEFAULT_MAX_BODY_BYTES)
  t.true(frames[0].body.equals(body))
  t.is(decoder.bufferedBytes, 0)
})

test('decoder: a frame dribbled a byte at a time is copied into one buffer of its size as it comes', (t) => {
  const body = Buffer.alloc(100_000)
  for (let i = 0; i < body.length; i++) body[i] = i & 0xff
  const data = Buffer.concat([encodeFrame({ opaque: 9, cmdType: Cmd.BYTES_MESSAGE, body }), Buffer.from(goldenFrames[0].hex, 'hex')])
  const frames: Frame[] = []
  const decoder = new FrameDecoder((f) => frames.push(f))
  const firstEnd = 19 + body.length
  for (let i = 0; i < firstEnd; i++) {
    decoder.push(data.subarray(i, i + 1))
    // a body byte is copied on arrival, its chunk not held: scribbling over it afterwards changes nothing
    if (i >= 19) data[i] = 0xee
    if (i === 50_000) t.is(decoder.bufferedBytes, 50_001)
  }
  t.is(frames.length, 1)
  t.true(frames[0].body.equals(body))
  // one allocation for the whole frame, not one per chunk held until the last
  t.is(frames[0].body.buffer.byteLength, firstEnd)
  t.is(decoder.bufferedBytes, 0)
  decoder.push(data.subarray(firstEnd))
  t.is(frames.length, 2)
  t.is(frames[1].opaque, goldenFrames[0].opaque)
})

test('decoder: a consumer throwing on an assembled frame keeps the frames that came after it in the same chunk', (t) => {
  const big = encodeFrame({ opaque: 1, cmdType: Cmd.BYTES_MESSAGE, body: Buffer.alloc(10_000, 1) })
  const small = encodeFrame({ opaque: 2, cmdType: Cmd.BYTES_MESSAGE, body: Buffer.from('x') })
  const seen: number[] = []
  let throwOnce = true
  const decoder = new FrameDecoder((f) => {
    if (throwOnce) {
      throwOnce = false
      throw new Error('consumer failed')
    }
    seen.push(f.opaque)
  })
  decoder.push(big.subarray(0, 5000))
  t.throws(() => decoder.push(Buffer.concat([big.subarray(5000), small])), { message: 'consumer failed' })
  decoder.push(Buffer.alloc(0))
  decoder.push(encodeFrame({ opaque: 3, cmdType: Cmd.BYTES_MESSAGE, body: Buffer.from('y') }))
  t.deepEqual(seen, [2, 3])
})

test('decoder: 2 MiB + 1 byte is a ProtocolError as soon as the header arrives', (t) => {
  const header = encodeFrame({ opaque: 5, cmdType: Cmd.BYTES_MESSAGE, body: Buffer.alloc(0) })
  header.writeInt32BE(DEFAULT_MAX_BODY_BYTES + 1, 15)
  const decoder = new FrameDecoder(() => t.fail('no frame expected'))
  const err = t.throws(() => decoder.push(header), { instanceOf: ProtocolError })
  t.is(err?.code, ErrorCodes.PROTOCOL)
  // the decoder stays failed: the stream cannot be resynchronised
  t.throws(() => decoder.push(Buffer.from(goldenFrames[0].hex, 'hex')), { instanceOf: ProtocolError })
})

test('decoder: a negative bodyLen is a ProtocolError', (t) => {
  const header = encodeFrame({ opaque: 1, cmdType: Cmd.HEARTBEAT, body: Buffer.alloc(0) })
  header.writeInt32BE(-1, 15)
  t.throws(() => new FrameDecoder(() => {}).push(header), { instanceOf: ProtocolError })
})

test('decoder: the body limit is configurable', (t) => {
  const decoder = new FrameDecoder(() => {}, { maxBodyBytes: 10 })
  t.notThrows(() => decoder.push(encodeFrame({ opaque: 1, cmdType: 1, body: Buffer.alloc(10) })))
  t.throws(() => decoder.push(encodeFrame({ opaque: 1, cmdType: 1, body: Buffer.alloc(11) })), { instanceOf: ProtocolError })
})

test('decoder: a zero-length body is a legal frame', (t) => {
  const frames: Frame[] = []
  new FrameDecoder((f) => frames.push(f)).push(encodeFrame({ opaque: 3, cmdType: 0x30, body: Buffer.alloc(0) }))
  t.is(frames.length, 1)
  t.is(frames[0].body.length, 0)
})

test('decoder: version and extension are read (and ignored by the codecs)', (t) => {
  const frames: Frame[] = []
  new FrameDecoder((f) => frames.push(f)).push(
    encodeFrame({ opaque: 0xffffffff, cmdType: 1, version: -2, extension: -5n, body: Buffer.from('0801', 'hex') }),
  )
  t.is(frames[0].opaque, 0xffffffff)
  t.is(frames[0].version, -2)
  t.is(frames[0].extension, -5n)
})

test('decoder: a consumer that throws loses no later frame', (t) => {
  let calls = 0
  const seen: number[] = []
  const decoder = new FrameDecoder((f) => {
    calls++
    if (calls === 1) throw new Error('consumer bug')
    seen.push(f.opaque)
  })
  t.throws(() => decoder.push(stream), { message: 'consumer bug' })
  decoder.push(Buffer.alloc(0))
  decoder.push(Buffer.from(goldenFrames[0].hex, 'hex'))
  t.deepEqual(seen, [...goldenFrames.slice(1).map((g) => g.opaque), goldenFrames[0].opaque])
})
