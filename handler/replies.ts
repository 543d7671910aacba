/** Answers the broker sends, written once: each swallows a closed connection (the peer is gone). */
import { Cmd } from '../protocol/commands.ts'
import { ConnAuthAckCodec, MessageStoreAckCodec } from '../protocol/messages.ts'
import type { Connection } from '../remoting/connection.ts'

export function replyStoreAck(conn: Connection, opaque: number, messageId: string, status: boolean, feedback: string): void {
  if (conn.closed) return
  try {
    conn.sendMessage(opaque, Cmd.MESSAGE_STORE_ACK, MessageStoreAckCodec, { messageId, status, feedback })
  } catch {
    // back-pressure or a just-closed socket: the producer times out and retries, nothing is lost
  }
}

/** Sends ConnAuthAck(false) and closes the connection once it is written. */
export function refuseConnection(conn: Connection, opaque: number, feedback: string): void {
  if (conn.closed) return
  try {
    conn.sendMessage(opaque, Cmd.CONN_AUTH, ConnAuthAckCodec, { status: false, feedback })
  } finally {
    conn.close()
  }
}
