import test from 'ava'
import protobuf from 'protobufjs'
import { fileURLToPath } from 'node:url'
import {
  ConnMetaCodec, DeliverAckCodec, ErrorCodes, HeartBeatCodec, MessageStoreAckCodec, ProtocolError, RawMessageCodec,
  StringMessageCodec, BytesMessageCodec, TxACKPacketCodec, ScheduleRequestCodec, deliverAckStatus, type Header,
} from '../../protocol/index.ts'
import { goldenHeader } from '../../protocol/goldens.ts'
import { decodeHeader, encodeHeader } from '../../protocol/header.ts'
import { SeededRandom, testSeed } from '../helpers/random.ts'

const protoPath = fileURLToPath(new URL('../../protocol/kite_remoting.proto', import.meta.url))
const root = protobuf.loadSync(protoPath)
const oracle = (name: string) => root.lookupType(`protocol.${name}`)

test('unknown fields survive a decode and re-encode, appended after the known ones', (t) => {
  const known = MessageStoreAckCodec.encode({ messageId: 'm', status: true, feedback: 'ok' })
  // field 9 varint 150, field 10 length-delimited "xyz", field 11 fixed32, field 12 fixed64, group 13 {field 1 varint}
  const unknown = Buffer.from('48960152' + '0378797a' + '5d01020304' + '610102030405060708' + '6b0801' + '6c', 'hex')
  const decoded = MessageStoreAckCodec.decode(Buffer.concat([known, unknown]))
  t.deepEqual(decoded.unknownFields, unknown)
  t.is(MessageStoreAckCodec.encode(decoded).toString('hex'), Buffer.concat([known, unknown]).toString('hex'))
})

test('unknown fields between known ones are kept in their order; a long run of them is kept whole', (t) => {
  const known = MessageStoreAckCodec.encode({ messageId: 'm', status: true, feedback: 'ok' })
  // known fields: 0a016d (1 "m"), 1001 (2 true), 1a026f6b (3 "ok"); unknown ones slipped in between
  const wire = Buffer.from('4801' + '0a016d' + '52017a' + '5801' + '1001' + '1a026f6b' + '6001', 'hex')
  const decoded = MessageStoreAckCodec.decode(wire)
  t.like(decoded, { messageId: 'm', status: true, feedback: 'ok' })
  t.is(decoded.unknownFields?.toString('hex'), '4801' + '52017a' + '5801' + '6001')
  t.is(MessageStoreAckCodec.encode(decoded).toString('hex'), known.toString('hex') + '4801' + '52017a' + '5801' + '6001')
  // 100 000 two-byte unknown fields (what made decoding quadratic): every byte kept, in order
  const padding = Buffer.alloc(200_000)
  for (let i = 0; i < padding.length; i += 2) padding[i] = 0x78 // field 15, varint, value 0
  const padded = MessageStoreAckCodec.decode(Buffer.concat([known, padding]))
  t.true(padded.unknownFields?.equals(padding))
})

test('int64 at the edges: the largest int64 read back and re-encoded keeps its bytes; doubles past ±2^63 are written as the nearest int64', (t) => {
  const maxInt64 = 'ffffffffffffffff7f' // varint of 2^63 - 1
  const minInt64 = '80808080808080808001' // varint of -2^63
  // messageId "m", topic "t", messageType "t", expiredTime (field 4) as given, deliverLimit 1, groupId "p", commit and fly false
  const expiredTimeOf = (varintHex: string) => Buffer.from('0a016d' + '120174' + '1a0174' + '20' + varintHex + '2801' + '320170' + '3800' + '4000', 'hex')
  // a header whose expiredTime is the largest int64, as another client may send it
  const wire = expiredTimeOf(maxInt64)
  const header = decodeHeader(wire, 0, wire.length)
  t.is(header.expiredTime, 2 ** 63, 'read as the nearest double')
  t.is(encodeHeader(header).toString('hex'), wire.toString('hex'), 'written back as it came, not as -2^63')
  for (const [value, varint] of [[1e20, maxInt64], [2 ** 63, maxInt64], [-1e20, minInt64], [-(2 ** 63), minInt64]] as const) {
    const encoded = encodeHeader({ ...header, expiredTime: value })
    t.is(encoded.toString('hex'), expiredTimeOf(varint).toString('hex'), String(value))
  }
})

test('unknown fields inside a Header and an Entry survive too', (t) => {
  const header: Header = {
    ...goldenHeader,
    properties: [{ key: 'k', value: 'v', unknownFields: Buffer.from('1801', 'hex') }],
    unknownFields: Buffer.from('7a0461626364', 'hex'), // field 15, "abcd"
  }
  const bytes = StringMessageCodec.encode({ header, body: 'b' })
  const back = StringMessageCodec.decode(bytes)
  t.deepEqual(back.header.unknownFields, header.unknownFields)
  t.deepEqual(back.header.properties[0].unknownFields, Buffer.from('1801', 'hex'))
  t.true(StringMessageCodec.encode(back).equals(bytes))
})

test('a known field number with the wrong wire type is kept as unknown, not misread', (t) => {
  // ConnMeta.warmingupSec (3) sent as length-delimited instead of varint
  const bytes = Buffer.concat([ConnMetaCodec.encode({ groupId: 'g', secretKey: 's' }), Buffer.from('1a0131', 'hex')])
  const decoded = ConnMetaCodec.decode(bytes)
  t.is(decoded.warmingupSec, undefined)
  t.true(ConnMetaCodec.encode(decoded).equals(bytes))
})

test('a body missing a required field is a ProtocolError naming the field', (t) => {
  const body = Buffer.from('0a016d' + '1001', 'hex') // MessageStoreAck without feedback (3)
  const err = t.throws(() => MessageStoreAckCodec.decode(body), { instanceOf: ProtocolError })
  t.is(err?.code, ErrorCodes.PROTOCOL)
  t.regex(err!.message, /feedback/)
  // Header missing fly (8): encode one, then drop the trailing "40 00"
  const header = { ...goldenHeader }
  delete header.createTime
  const msg = RawMessageCodec.encode({ header, body: Buffer.alloc(0) })
  const headerLen = msg[1]
  const truncated = Buffer.concat([Buffer.from([0x0a, headerLen - 2]), msg.subarray(2, 2 + headerLen - 2), msg.subarray(2 + headerLen)])
  t.throws(() => RawMessageCodec.decode(truncated), { instanceOf: ProtocolError, message: /fly/ })
})

test('encoding writes required fields even at their default: fly=false, empty feedback, status 0', (t) => {
  t.is(MessageStoreAckCodec.encode({ messageId: '', status: false, feedback: '' }).toString('hex'), '0a0010001a00')
  const tx = TxACKPacketCodec.encode({ header: { ...goldenHeader, commit: false }, status: 0, feedback: '' })
  t.true(tx.toString('hex').endsWith('10001a00'))
  t.true(tx.toString('hex').includes('38004000'))
})

test('encoding refuses a message missing a required field', (t) => {
  const err = t.throws(() => DeliverAckCodec.encode({ messageId: 'x' } as never))
  t.is((err as { code?: string }).code, ErrorCodes.INVALID_ARGUMENT)
})

test('negative int32 and int64 values use the 10-byte varint and decode back', (t) => {
  const header: Header = { ...goldenHeader, deliverLimit: -5, expiredTime: -1700000000, createTime: -1 }
  const back = RawMessageCodec.decode(RawMessageCodec.encode({ header, body: Buffer.alloc(0) })).header
  t.is(back.deliverLimit, -5)
  t.is(back.expiredTime, -1700000000)
  t.is(back.createTime, -1)
  t.is(HeartBeatCodec.encode({ version: -1 }).length, 11)
})

test('64-bit values beyond 32 bits round trip (epoch milliseconds, 2^53 - 1)', (t) => {
  for (const v of [2 ** 32, 2 ** 32 + 1, 1_700_000_000_000, 2 ** 53 - 1, 2 ** 35 - 1, 2 ** 35]) {
    t.is(HeartBeatCodec.decode(HeartBeatCodec.encode({ version: v })).version, v)
    t.is(ScheduleRequestCodec.decode(ScheduleRequestCodec.encode({ topic: 't', messageId: 'm', action: 2, deliverAt: v })).deliverAt, v)
  }
})

// ---- protobufjs as an independent oracle: random messages, both directions ----

function randomHeader(rnd: SeededRandom): Header {
  const header: Header = {
    messageId: rnd.string(32, '0123456789abcdef'),
    topic: rnd.string(20),
    messageType: rnd.string(20),
    expiredTime: rnd.pick([-1, 0, rnd.int(0, 2 ** 31), rnd.int(0, 2 ** 40)]),
    deliverLimit: rnd.pick([100, 0, -1, rnd.int(-(2 ** 31), 2 ** 31 - 1)]),
    groupId: rnd.string(80),
    commit: rnd.next() < 0.5,
    fly: rnd.next() < 0.5,
    properties: Array.from({ length: rnd.int(0, 3) }, () => ({ key: rnd.string(10), value: rnd.string(60) })),
  }
  if (rnd.next() < 0.5) header.createTime = rnd.int(0, 2 ** 33)
  if (rnd.next() < 0.5) header.snappy = rnd.next() < 0.5
  if (rnd.next() < 0.5) header.deliverAt = rnd.int(0, 2 ** 45)
  return header
}

function normalizeOracle(obj: any): any {
  // protobufjs gives Longs for int64 and omits nothing we set; compare as plain values
  return JSON.parse(JSON.stringify(obj, (_k, v) => (v && typeof v === 'object' && 'low' in v && 'high' in v ? protobuf.util.LongBits.from(v).toNumber() : v)))
}

test('random messages: our bytes equal protobufjs bytes, and each decodes the other', (t) => {
  const rnd = new SeededRandom(testSeed(42))
  const StringMessage = oracle('StringMessage')
  const BytesMessage = oracle('BytesMessage')
  for (let i = 0; i < 2000; i++) {
    const header = randomHeader(rnd)
    if (i % 2 === 0) {
      const msg = { header, body: rnd.string(600) }
      const ours = StringMessageCodec.encode(msg)
      const theirs = Buffer.from(StringMessage.encode(StringMessage.fromObject(msg)).finish())
      t.is(ours.toString('hex'), theirs.toString('hex'), `seed ${rnd.seed} #${i}`)
      t.deepEqual(StringMessageCodec.decode(theirs), msg)
      t.deepEqual(normalizeOracle(StringMessage.toObject(StringMessage.decode(ours), { arrays: true })), normalizeOracle(msg))
    } else {
      const msg = { header, body: rnd.bytes(rnd.int(0, 3000)) }
      const ours = BytesMessageCodec.encode(msg)
      const theirs = Buffer.from(BytesMessage.encode(BytesMessage.fromObject(msg)).finish())
      t.is(ours.toString('hex'), theirs.toString('hex'), `seed ${rnd.seed} #${i}`)
      const back = BytesMessageCodec.decode(theirs)
      t.deepEqual(back.header, msg.header)
      t.true(back.body.equals(msg.body))
    }
  }
})

test('deliverAckStatus reads the status the full DeliverAck decode reads, whatever else the ack holds', (t) => {
  const unknown = Buffer.from('48960152' + '0378797a', 'hex') // fields 9 and 10, which KiteQ never sends
  for (const status of [true, false]) {
    for (const feedback of [undefined, 'consumer said no']) {
      const body = DeliverAckCodec.encode({ messageId: 'a'.repeat(32), topic: 'trade', messageType: 'pay-succ', groupId: 'p', status, feedback })
      t.is(deliverAckStatus(body), DeliverAckCodec.decode(body).status)
      t.is(deliverAckStatus(Buffer.concat([body, unknown])), status)
    }
  }
  // status is field 5, varint: written on its own it is the whole answer; absent it reads false
  t.true(deliverAckStatus(Buffer.from('2801', 'hex')))
  t.false(deliverAckStatus(Buffer.alloc(0)))
  const cut = DeliverAckCodec.encode({ messageId: 'm'.repeat(32), topic: 't', messageType: 'x', groupId: 'g', status: true })
  t.throws(() => deliverAckStatus(cut.subarray(0, 10)), { instanceOf: ProtocolError })
})

test('decodeHeader with the id the caller expects: the same header whether it matches, differs, or is spelled by UTF-8 bytes byte for byte', (t) => {
  const header: Header = { ...goldenHeader, messageId: 'é€-id' }
  const bytes = encodeHeader(header)
  const decoded = (likelyId?: string) => decodeHeader(bytes, 0, bytes.length, likelyId)
  t.deepEqual(decoded(), header)
  t.deepEqual(decoded('é€-id'), header)
  t.deepEqual(decoded('another id'), header)
  // the id's UTF-8 bytes read one per character: same length, same codes, another string
  t.deepEqual(decoded(Buffer.from('é€-id').toString('latin1')), header)
})
