/**
 * TX_ACK from a producer, whether it follows its own local transaction (opaque 0) or answers our
 * check-back: commit → deliver (at deliverAt if that is later), rollback → delete, unknown → wait
 * for the next check, which is already scheduled.
 */
import type { Handler } from '../pipe/pipeline.ts'
import { TxStatus } from '../protocol/commands.ts'
import { TxACKPacketCodec } from '../protocol/messages.ts'
import type { BrokerContext, PacketContext } from './context.ts'

export function createTxAckHandler(broker: BrokerContext): Handler<PacketContext> {
  return async function txAck(ctx) {
    const tx = TxACKPacketCodec.decode(ctx.frame.body)
    const { topic, messageId } = tx.header
    if (tx.status === TxStatus.COMMIT) {
      // false for a repeated commit too (say, a late answer to a check-back): restarting a message
      // already in delivery would cut its backoff short and deliver it once more at once
      if (!(await broker.store.commit(topic, messageId))) {
        broker.logger.debug({ topic, messageId }, 'commit for a message not stored or already committed, ignored')
        return
      }
      const message = await broker.store.get(topic, messageId)
      if (message === undefined) return // deleted in between (cancelled)
      const now = broker.clock.now()
      const dueAtMs = Math.max(now, message.deliverAtMs)
      message.nextDeliverAtMs = dueAtMs
      await broker.store.updateDelivery(topic, messageId, message)
      if (dueAtMs <= now) broker.deliver(message)
      else broker.schedule({ topic, messageId, nextDeliverAtMs: dueAtMs })
    } else if (tx.status === TxStatus.ROLLBACK) {
      const removed = await broker.store.rollback(topic, messageId)
      broker.logger.debug({ topic, messageId, removed, feedback: tx.feedback }, 'transaction rolled back')
    }
  }
}
