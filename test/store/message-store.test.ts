import test from 'ava'
import { encodeHeader } from '../../protocol/header.ts'
import { StoreError, encodedHeader, headerOf, type StoredMessage } from '../../store/message-store.ts'
import { makeMessage } from './conformance.ts'

test('headerOf: a message with only its header bytes decodes them once, on first use', (t) => {
  const saved = makeMessage({ topic: 'trade' })
  const bytes = encodeHeader(saved.header!)
  const m: StoredMessage = { ...saved, header: undefined, headerBytes: bytes }
  const header = headerOf(m)
  t.deepEqual(header, saved.header)
  t.is(m.header, header, 'kept on the message')
  t.is(headerOf(m), header, 'not decoded again')
  t.is(encodedHeader(m), bytes, 'the bytes stay what is sent and stored')
})

test('headerOf: a message with neither its header nor the bytes is a StoreError naming it', (t) => {
  const m: StoredMessage = { ...makeMessage(), header: undefined, headerBytes: undefined }
  const err = t.throws(() => headerOf(m), { instanceOf: StoreError })
  t.true(err!.message.includes(m.messageId))
})
