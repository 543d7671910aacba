import test from 'ava'
import { ErrorCodes } from '../../protocol/index.ts'
import {
  checkedDecodedLength, snappyDecode, snappyDecodeString, snappyEncode, snappyEncodeString,
} from '../../client/snappy.ts'
import { SeededRandom, testSeed } from '../helpers/random.ts'
import { goldenInput, snappyGoldens } from './snappy-goldens.ts'

for (const g of snappyGoldens) {
  test(`golang/snappy golden '${g.name}': Go's block decodes to the input; our block is Go's or Go-verified`, (t) => {
    const input = goldenInput(g.name)
    t.true(snappyDecode(Buffer.from(g.goHex, 'hex')).equals(input))
    t.is(snappyEncode(input).toString('hex'), g.oursHex ?? g.goHex)
    if (g.oursHex !== undefined) t.true(snappyDecode(Buffer.from(g.oursHex, 'hex')).equals(input))
    if (g.goBase64 !== undefined) {
      const text = input.toString('utf8')
      t.is(snappyDecodeString(g.goBase64), text)
      t.is(snappyEncodeString(text), g.goBase64)
    }
  })
}

test('round trips random bodies of many sizes and shapes (seeded)', (t) => {
  const rnd = new SeededRandom(testSeed(0x5a99))
  for (let i = 0; i < 300; i++) {
    const size = rnd.pick([0, 1, 15, 16, 17, 60, 61, 255, 256, 4096, 65535, 65536, 65537, 100_000])
    // half random bytes, half drawn from a tiny alphabet so the encoder finds copies
    const data = i % 2 === 0 ? rnd.bytes(size) : Buffer.from(Array.from({ length: size }, () => rnd.int(97, 100)))
    const block = snappyEncode(data)
    t.true(snappyDecode(block).equals(data), `seed ${rnd.seed}, case ${i}, size ${size}`)
  }
  const text = '中文 and ascii ✓ '.repeat(50)
  t.is(snappyDecodeString(snappyEncodeString(text)), text)
})

test('accepts a Uint8Array view (not a Buffer) on both sides', (t) => {
  const backing = new Uint8Array(64).fill(7)
  const view = backing.subarray(8, 40)
  const block = snappyEncode(view)
  t.deepEqual([...snappyDecode(new Uint8Array(block))], [...view])
})

// golang/snappy's Decode refuses every one of these (checked with the same throwaway Go program);
// snappyjs on its own returns a zero-padded or cut buffer for 'declares 5, literal of 4' and
// 'copy past the declared length', which is why client/snappy.ts validates first.
const corrupt: Array<[string, string]> = [
  ['empty input', ''],
  ['length varint never ends', 'ffffffffff'],
  ['declares 5, literal of 4', '050c68656c6c'],
  ['declares 5, literal of 6 bytes', '05146865'],
  ['literal runs past the input', '0510686566'],
  ['copy before any output', '0a0100'],
  ['copy offset beyond output', '08 0c 61626364 0105'.replace(/ /g, '')],
  ['copy offset zero', '08 0c 61626364 0100'.replace(/ /g, '')],
  ['copy past the declared length', '06 0c 61626364 0104'.replace(/ /g, '')],
  ['truncated 2-byte copy', '08 0c 61626364 0e04'.replace(/ /g, '')],
  ['truncated 4-byte copy', '08 0c 61626364 0f040000'.replace(/ /g, '')],
  ['truncated literal length', '40f0'],
  ['huge declared length, tiny body', 'ffffffff0f00'],
]

for (const [name, hex] of corrupt) {
  test(`rejects corrupt block: ${name}`, (t) => {
    const err = t.throws(() => snappyDecode(Buffer.from(hex, 'hex')))
    t.is((err as { code?: string }).code, ErrorCodes.PROTOCOL)
  })
}

test('the validator accepts exactly what decodes: a copy that overlaps its own output is fine', (t) => {
  // 'ab' then copy length 4 offset 2 → 'ababab'
  const block = Buffer.from('06 04 6162 0102'.replace(/ /g, ''), 'hex')
  t.is(checkedDecodedLength(block), 6)
  t.is(snappyDecode(block).toString(), 'ababab')
})

test('string bodies must be padded standard base64, as Go decodes them', (t) => {
  t.is(snappyDecodeString('BRBo\nZWxsbw==\r\n'), 'hello') // Go ignores CR and LF
  for (const bad of ['BRBoZWxsbw', 'BRBoZWxsbw=', 'BRBo*Wxsbw==', 'BRBoZWxsbw==A', 'BRBo_Wxsbw==', 'BR=oZWxsbw==']) {
    const err = t.throws(() => snappyDecodeString(bad), undefined, bad)
    t.is((err as { code?: string }).code, ErrorCodes.PROTOCOL)
  }
})
