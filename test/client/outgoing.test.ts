import test from 'ava'
import { Cmd, ErrorCodes } from '../../protocol/index.ts'
import { messageId, prepareBytesMessage, prepareStringMessage } from '../../client/outgoing.ts'
import { readDelivery } from '../../client/incoming.ts'
import { snappyDecode } from '../../client/snappy.ts'
import type { OutgoingMessage } from '../../client/types.ts'

const ctx = { groupId: 'my-group', nowMs: 1_700_000_000_500, transactional: false }
const base: OutgoingMessage<string> = { topic: 'trade', messageType: 'pay-succ', body: 'hello' }

test('messageId(): 32 lowercase hex characters, a UUIDv4 without dashes, different every time', (t) => {
  const ids = new Set<string>()
  for (let i = 0; i < 1000; i++) {
    const id = messageId()
    t.regex(id, /^[0-9a-f]{12}4[0-9a-f]{3}[89ab][0-9a-f]{15}$/)
    ids.add(id)
  }
  t.is(ids.size, 1000)
})

test('defaults: every required header field set, groupId overwritten, createTime in seconds', (t) => {
  const p = prepareStringMessage({ ...base, messageId: '0123456789abcdef0123456789abcdef' }, ctx)
  t.is(p.cmdType, Cmd.STRING_MESSAGE)
  t.deepEqual(p.wire.header, {
    messageId: '0123456789abcdef0123456789abcdef',
    topic: 'trade',
    messageType: 'pay-succ',
    expiredTime: -1,
    deliverLimit: 100,
    groupId: 'my-group',
    commit: true,
    fly: false,
    properties: [],
    createTime: 1_700_000_000,
  })
  t.is(p.wire.body, 'hello')
  t.is(p.sent.publisherGroup, 'my-group')
})

test('given fields are kept; transactional forces commit=false', (t) => {
  const p = prepareStringMessage(
    { ...base, expiredTime: 1_800_000_000, deliverLimit: 3, commit: true, fly: true, properties: { a: '1', b: '2' } },
    { ...ctx, transactional: true },
  )
  t.like(p.wire.header, { expiredTime: 1_800_000_000, deliverLimit: 3, commit: false, fly: true })
  t.deepEqual(p.wire.header.properties, [{ key: 'a', value: '1' }, { key: 'b', value: '2' }])
  t.deepEqual(p.sent.properties, { a: '1', b: '2' })
})

test('deliverAt from a Date, from epoch ms, or from delayMs; both together is INVALID_ARGUMENT', (t) => {
  t.is(prepareStringMessage({ ...base, deliverAt: new Date(1_700_000_123_456) }, ctx).wire.header.deliverAt, 1_700_000_123_456)
  t.is(prepareStringMessage({ ...base, deliverAt: 1_700_000_999_000 }, ctx).wire.header.deliverAt, 1_700_000_999_000)
  t.is(prepareStringMessage({ ...base, delayMs: 2500 }, ctx).wire.header.deliverAt, ctx.nowMs + 2500)
  t.false('deliverAt' in prepareStringMessage(base, ctx).wire.header)
  const err = t.throws(() => prepareStringMessage({ ...base, deliverAt: 1, delayMs: 1 }, ctx))
  t.is((err as { code?: string }).code, ErrorCodes.INVALID_ARGUMENT)
})

test('invalid messages are INVALID_ARGUMENT', (t) => {
  const bad: unknown[] = [
    { ...base, topic: '' },
    { ...base, messageType: undefined },
    { ...base, body: Buffer.from('x') },
    { ...base, messageId: '' },
    { ...base, deliverLimit: 1.5 },
    { ...base, deliverLimit: 2 ** 31 },
    { ...base, expiredTime: Number.NaN },
    { ...base, fly: 'yes' },
    { ...base, properties: { a: 1 } },
    { ...base, deliverAt: new Date('nonsense') },
    { ...base, delayMs: -1 },
    // past 2^53 a number is no whole millisecond; past 2^63 it would wrap to a negative int64 on the wire
    { ...base, delayMs: 1e19 },
    { ...base, deliverAt: 2 ** 63 },
    { ...base, deliverAt: 1e20 },
    null,
  ]
  for (const msg of bad) {
    const err = t.throws(() => prepareStringMessage(msg as OutgoingMessage<string>, ctx), undefined, JSON.stringify(msg))
    t.is((err as { code?: string }).code, ErrorCodes.INVALID_ARGUMENT)
  }
  const err = t.throws(() => prepareBytesMessage({ ...base } as unknown as OutgoingMessage<Buffer>, ctx))
  t.is((err as { code?: string }).code, ErrorCodes.INVALID_ARGUMENT)
})

test('snappy: bytes body is the block, string body its base64; header.snappy only when asked', (t) => {
  const bytes = prepareBytesMessage({ ...base, body: new Uint8Array(Buffer.alloc(100, 'a')), snappy: true }, ctx)
  t.is(bytes.cmdType, Cmd.BYTES_MESSAGE)
  t.true(bytes.wire.header.snappy)
  t.is((bytes.wire.body as Buffer).toString('hex'), '640061fe01008a0100') // golang/snappy's block
  t.true((bytes.sent.body as Buffer).equals(Buffer.alloc(100, 'a'))) // doTransaction sees the original
  const str = prepareStringMessage({ ...base, snappy: true }, ctx)
  t.is(str.wire.body, 'BRBoZWxsbw==') // base64 of golang/snappy's block of "hello"
  t.is(str.sent.body, 'hello')
  t.false('snappy' in prepareStringMessage({ ...base, snappy: false }, ctx).wire.header)
  t.true(snappyDecode(Buffer.from('BRBoZWxsbw==', 'base64')).equals(Buffer.from('hello')))
})

test('a delivered frame reads back: snappy bodies decompressed, a bad string body refused with the reason', (t) => {
  const str = prepareStringMessage({ ...base, snappy: true, properties: { k: 'v' } }, ctx)
  const frame = (p: ReturnType<typeof prepareStringMessage>) => ({
    opaque: 9, cmdType: p.cmdType, version: 0, extension: 0n, body: p.codec.encode(p.wire as never),
  })
  const read = readDelivery(frame(str))
  t.is(read.message?.body, 'hello')
  t.true(read.message?.isString)
  t.deepEqual(read.message?.properties, { k: 'v' })
  t.is(read.problem, undefined)

  const broken = prepareStringMessage({ ...base, snappy: true }, ctx)
  broken.wire.body = 'not base64!'
  const refused = readDelivery(frame(broken))
  t.is(refused.message, undefined)
  t.regex(refused.problem ?? '', /base64/)

  const rawBytes = prepareBytesMessage({ ...base, body: Buffer.from('plain'), snappy: false }, ctx)
  rawBytes.wire.header.snappy = true // claims snappy, is not: Go passes the raw body on
  const fallback = readDelivery(frame(rawBytes as never))
  t.is(fallback.message?.body.toString(), 'plain')
  t.false(fallback.message?.isString)
  t.truthy(fallback.problem)
})
