import test from 'ava'
import {
  FRAME_HEADER_BYTES, MAX_TOMBSTONES_PER_RECORD, RecordReader, RecordType, checkFrame, decodeDeletes, decodeSave, encodeDeletes, encodeSave,
} from '../../../store/file/record-codec.ts'
import { makeMessage } from '../conformance.ts'
import { headerOf } from '../../../store/message-store.ts'

/** A SAVE record's reader, positioned past the frame header and type byte. */
const readerOf = (record: Buffer) => new RecordReader(record, FRAME_HEADER_BYTES + 1, record.length)

test('decodeSave: the message reads back the same whether the expected id is given, matches or not', (t) => {
  const m = makeMessage({ topic: 'é-topic', messageType: 'pay-succ', publishGroup: 'p-group' })
  for (const expected of [undefined, m.messageId, 'f'.repeat(32), '']) {
    const decoded = decodeSave(readerOf(encodeSave(m)), expected)
    t.is(decoded.header, undefined, 'the header waits to be asked for')
    t.deepEqual({ ...decoded, header: headerOf(decoded), headerBytes: undefined }, { ...m, headerBytes: undefined }, `expected id ${expected}`)
  }
})

test('decodeSave: an id whose UTF-8 bytes spell the expected id byte for byte is decoded, not taken for it', (t) => {
  // 'é€' is 5 UTF-8 bytes; read one byte per character they spell a 5-character string
  const asLatin1 = Buffer.from('é€', 'utf8').toString('latin1')
  t.is(asLatin1.length, Buffer.byteLength('é€'))
  const decoded = decodeSave(readerOf(encodeSave(makeMessage({ messageId: 'é€' }))), asLatin1)
  t.is(decoded.messageId, 'é€')
})

test('DELETES: tombstones read back in order, any topic and id spelling; past the cap a record is refused', (t) => {
  const tombstones = [
    { topic: 'trade', messageId: 'a'.repeat(32), saveAt: { segment: 1, offset: 0 } },
    { topic: 'é-topic', messageId: 'not-hex-€', saveAt: { segment: 2 ** 32 - 1, offset: 2 ** 31 } },
    { topic: 'trade', messageId: '', saveAt: { segment: 7, offset: 12345 } },
  ]
  const record = encodeDeletes(tombstones)
  const frame = checkFrame(record, 0, record.length)
  t.true(frame.ok && frame.type === RecordType.DELETES)
  t.deepEqual(decodeDeletes(readerOf(record)), tombstones)
  t.deepEqual(decodeDeletes(readerOf(encodeDeletes([]))), [])
  const tooMany = Array.from({ length: MAX_TOMBSTONES_PER_RECORD + 1 }, () => tombstones[0])
  t.throws(() => encodeDeletes(tooMany), { message: /tombstones in one record/ })
})
