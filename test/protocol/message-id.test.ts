import test from 'ava'
import { hexIdWords, isHexId } from '../../protocol/message-id.ts'

test('isHexId: 32 hex digits of either case, nothing else', (t) => {
  t.true(isHexId('0123456789abcdef0123456789ABCDEF'))
  t.false(isHexId('0123456789abcdef0123456789abcde'), '31 characters')
  t.false(isHexId('0123456789abcdef0123456789abcdef0'), '33 characters')
  // every character that is not a hex digit is refused in every position
  for (let c = 0; c < 0x180; c++) {
    const ch = String.fromCharCode(c)
    const hex = /^[0-9a-fA-F]$/.test(ch)
    t.is(isHexId(ch + 'a'.repeat(31)), hex, `U+${c.toString(16)} first`)
    t.is(isHexId('a'.repeat(31) + ch), hex, `U+${c.toString(16)} last`)
  }
})

test('hexIdWords: four words, uppercase only when asked', (t) => {
  const out = new Uint32Array(4)
  t.true(hexIdWords('00000001ffffffff0000000a12345678', out, false))
  t.deepEqual([...out], [1, 0xffffffff, 10, 0x12345678])
  t.false(hexIdWords('00000001FFFFFFFF0000000a12345678', out, false))
  t.true(hexIdWords('00000001FFFFFFFF0000000a12345678', out, true))
})

test('hexIdWords: any other character is refused in every position, beyond ASCII too', (t) => {
  const out = new Uint32Array(4)
  // up to U+017F: U+0130 and others share their low seven bits with digits
  for (let c = 0; c < 0x180; c++) {
    const ch = String.fromCharCode(c)
    for (const acceptUppercase of [false, true]) {
      const hex = (acceptUppercase ? /^[0-9a-fA-F]$/ : /^[0-9a-f]$/).test(ch)
      for (const at of [0, 13, 31]) {
        const id = 'a'.repeat(at) + ch + 'a'.repeat(31 - at)
        t.is(hexIdWords(id, out, acceptUppercase), hex, `U+${c.toString(16)} at ${at}, uppercase ${acceptUppercase}`)
      }
    }
  }
  t.true(hexIdWords('ffffffffffffffffffffffffffffffff', out, false))
  t.deepEqual([...out], [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff])
})
