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
      const message = await broker.store.get(topic, messageId)
      if (message === undefined) {
        broker.logger.debug({ topic, messageId }, 'commit for a message that is not stored (already decided?)')
        return
      }
      // a repeated commit (say, a late answer to a check-back) must not restart a message that is
      // already in delivery: that would cut its backoff short and deliver it once more at once
      if (message.commit) {
        broker.logger.debug({ topic, messageId }, 'commit for a message already committed, ignored')
        return
      }
      if (!(await broker.store.commit(topic, messageId))) return
      message.commit = true // read before the commit: the copy delivered from here on must say so
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
