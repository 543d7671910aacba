import test from 'ava'
import { FrameDecoder, ProtocolError, RawMessageCodec, codecFor, isMessageCmd, type Frame } from '../../protocol/index.ts'
import { goldenFrames } from '../../protocol/goldens.ts'
import { SeededRandom, testSeed } from '../helpers/random.ts'

/** Everything the broker does with untrusted bytes before a handler sees them. */
function consume(decoder: FrameDecoder, chunk: Buffer): void {
  decoder.push(chunk)
}

function decodeFrame(frame: Frame): void {
  const codec = codecFor(frame.cmdType)
  if (codec === undefined) return
  codec.decode(frame.body)
  if (isMessageCmd(frame.cmdType)) RawMessageCodec.decode(frame.body)
}

const goldens = goldenFrames.map((g) => Buffer.from(g.hex, 'hex'))

function mutate(rnd: SeededRandom, input: Buffer): Buffer {
  const buf = Buffer.from(input)
  switch (rnd.int(0, 6)) {
    case 0: // flip a few bytes anywhere
      for (let i = rnd.int(1, 4); i > 0; i--) buf[rnd.int(0, buf.length - 1)] = rnd.int(0, 255)
      return buf
    case 1: // flip bytes only in the body, keep the frame well-formed
      for (let i = rnd.int(1, 4); i > 0 && buf.length > 19; i--) buf[rnd.int(19, buf.length - 1)] = rnd.int(0, 255)
      return buf
    case 2: { // truncate the body but fix bodyLen, so the codec sees a short message
      const cut = rnd.int(19, buf.length)
      const out = Buffer.from(buf.subarray(0, cut))
      out.writeInt32BE(cut - 19, 15)
      return out
    }
    case 3: { // append random bytes to the body and fix bodyLen
      const extra = rnd.bytes(rnd.int(1, 40))
      const out = Buffer.concat([buf, extra])
      out.writeInt32BE(out.length - 19, 15)
      return out
    }
    case 4: // another command's body under this cmdType
      buf[4] = rnd.pick([0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x11, 0x12, 0x20, 0x21, 0x22, 0x23, rnd.int(0, 255)])
      return buf
    case 5: // a random bodyLen
      buf.writeInt32BE(rnd.int(-(2 ** 31), 2 ** 31 - 1), 15)
      return buf
    default: // pure garbage
      return rnd.bytes(rnd.int(0, 200))
  }
}

test('fuzz: 100 000 random and mutated frames only ever raise ProtocolError', (t) => {
  const rnd = new SeededRandom(testSeed(20261124))
  const counts = { frames: 0, protocolErrors: 0, decoded: 0 }
  for (let i = 0; i < 100_000; i++) {
    const input = i % 10 === 0 ? rnd.bytes(rnd.int(0, 300)) : mutate(rnd, rnd.pick(goldens))
    const frames: Frame[] = []
    const decoder = new FrameDecoder((f) => frames.push(f))
    try {
      // in random pieces, like a socket would deliver it
      let pos = 0
      while (pos < input.length) {
        const n = rnd.int(1, input.length - pos)
        consume(decoder, input.subarray(pos, pos + n))
        pos += n
      }
    } catch (err) {
      if (!(err instanceof ProtocolError)) t.fail(`seed ${rnd.seed} case ${i}: ${String(err)} for ${input.toString('hex')}`)
      counts.protocolErrors++
    }
    for (const frame of frames) {
      counts.frames++
      try {
        decodeFrame(frame)
        counts.decoded++
      } catch (err) {
        if (!(err instanceof ProtocolError)) {
          t.fail(`seed ${rnd.seed} case ${i}: ${String(err)} decoding cmd ${frame.cmdType} ${frame.body.toString('hex')}`)
          return
        }
        counts.protocolErrors++
      }
    }
  }
  t.log(counts)
  // the mix must really exercise both outcomes
  t.true(counts.decoded > 10_000)
  t.true(counts.protocolErrors > 10_000)
})
