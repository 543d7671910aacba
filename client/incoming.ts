/**
 * What a consumer sees of a delivery: the decoded message with its body decompressed, and the
 * properties as a plain object. Decoding happens while the frame is being dispatched, because the
 * frame's body is a view into the socket chunk.
 */
import { Cmd } from '../protocol/commands.ts'
import type { Frame } from '../protocol/frame.ts'
import type { Header } from '../protocol/header.ts'
import { BytesMessageCodec, StringMessageCodec } from '../protocol/messages.ts'
import { snappyDecode, snappyDecodeString } from './snappy.ts'
import type { ReceivedMessage, TxCheck } from './types.ts'

export interface DeliveryRead {
  header: Header
  /** Undefined when the body cannot be turned back into what was published. */
  message?: ReceivedMessage
  /** Why `message` is missing, or why a snappy bytes body was passed on as received. */
  problem?: string
}

/** Later entries win, as when Go builds a map from the repeated field. */
function propertiesOf(header: Header): Record<string, string> {
  // Object.fromEntries defines own properties, so a key such as "__proto__" stays plain data.
  return Object.fromEntries(header.properties.map((e) => [e.key, e.value]))
}

/**
 * Decodes a 0x11/0x12 delivery. A body that is not a valid message throws a ProtocolError: such a
 * delivery cannot be acknowledged (there is no message id to name), exactly as Go drops it.
 */
export function readDelivery(frame: Frame): DeliveryRead {
  if (frame.cmdType === Cmd.STRING_MESSAGE) {
    const { header, body } = StringMessageCodec.decode(frame.body)
    if (header.snappy !== true) return { header, message: receivedMessage(header, body, true) }
    try {
      return { header, message: receivedMessage(header, snappyDecodeString(body), true) }
    } catch (err) {
      // The body cannot be shown as the string that was published: refuse it, with the reason.
      return { header, problem: `cannot decompress the snappy string body: ${(err as Error).message}` }
    }
  }
  const { header, body } = BytesMessageCodec.decode(frame.body)
  if (header.snappy !== true) {
    // Copied so a listener that keeps the body does not pin the whole socket chunk.
    return { header, message: receivedMessage(header, Buffer.from(body), false) }
  }
  try {
    return { header, message: receivedMessage(header, snappyDecode(body), false) }
  } catch (err) {
    // kiteq-client-go hands over the raw body when a bytes body does not decompress.
    return {
      header,
      message: receivedMessage(header, Buffer.from(body), false),
      problem: `snappy bytes body does not decompress, passed on as received: ${(err as Error).message}`,
    }
  }
}

function receivedMessage(header: Header, body: string | Buffer, isString: boolean): ReceivedMessage {
  const message: ReceivedMessage = {
    header,
    messageId: header.messageId,
    topic: header.topic,
    messageType: header.messageType,
    publisherGroup: header.groupId,
    properties: propertiesOf(header),
    body,
    isString,
  }
  if (header.deliverAt !== undefined) message.deliverAt = header.deliverAt
  return message
}

export function txCheckOf(header: Header): TxCheck {
  // Unlike kiteq-client-go (whose TxResponse only fills its property map for a header with no
  // properties), the check sees the message's properties.
  return {
    messageId: header.messageId,
    topic: header.topic,
    messageType: header.messageType,
    header,
    properties: propertiesOf(header),
  }
}
