/**
 * The check-back for an undecided transaction whose time has come: TX_ACK(status 0, "Server
 * Check") to a live connection of the publishing group, again every interval, at most maxChecks
 * times, after which the message goes to the dead-letter table instead of being asked forever.
 */
import { Cmd, TxStatus } from '../protocol/commands.ts'
import { TxACKPacketCodec } from '../protocol/messages.ts'
import { headerOf, type StoredMessage } from '../store/message-store.ts'
import type { BrokerContext } from './context.ts'

export async function checkBackTransaction(broker: BrokerContext, message: StoredMessage): Promise<void> {
  const { maxChecks, intervalMs } = broker.settings.txCheck
  const now = broker.clock.now()
  if (message.txCheckCount >= maxChecks) {
    const reason = `transaction undecided after ${message.txCheckCount} check-backs`
    if (await broker.store.moveToDeadLetter(message.topic, message.messageId, reason, now)) {
      broker.stats.deadLettered(message.topic)
      broker.logger.warn({ topic: message.topic, messageId: message.messageId, group: message.publishGroup }, reason)
    }
    return
  }
  const session = broker.sessions.any(message.publishGroup)
  if (session !== undefined) {
    const conn = session.connection
    try {
      conn.sendMessage(conn.nextOpaque(), Cmd.TX_ACK, TxACKPacketCodec, {
        header: headerOf(message), status: TxStatus.UNKNOWN, feedback: 'Server Check',
      })
      broker.stats.count('txChecks')
    } catch (err) {
      broker.logger.debug({ err: (err as Error).message, messageId: message.messageId }, 'tx check not sent')
    }
  }
  // counted whether or not a producer was there to ask: the budget bounds time, not luck
  message.txCheckCount++
  message.nextDeliverAtMs = now + intervalMs
  await broker.store.updateDelivery(message.topic, message.messageId, message)
  broker.schedule({ topic: message.topic, messageId: message.messageId, nextDeliverAtMs: message.nextDeliverAtMs })
}
