/**
 * BIND (KiteQ-TS extension 0x20): a client states its group's bindings as KiteQ binding JSON, for
 * brokers run without a registry. A client can only bind its own group, on topics this broker
 * serves; the answer names anything ignored.
 */
import { bindingsFromJson, bindingsToJson, groupBindings, type Binding } from '../binding/binding.ts'
import type { Handler } from '../pipe/pipeline.ts'
import { Cmd } from '../protocol/commands.ts'
import { BindAckCodec, BindRequestCodec } from '../protocol/extensions.ts'
import type { BrokerContext, PacketContext } from './context.ts'

export const CLIENT_BINDING_SOURCE = 'client'

export function createBindHandler(broker: BrokerContext): Handler<PacketContext> {
  return async function bind(ctx) {
    const groupId = ctx.session!.groupId
    const reply = (status: boolean, feedback: string) =>
      ctx.conn.sendMessage(ctx.frame.opaque, Cmd.BIND_ACK, BindAckCodec, { status, feedback })
    let bindings: Binding[]
    try {
      bindings = bindingsFromJson(BindRequestCodec.decode(ctx.frame.body).bindings)
    } catch (err) {
      reply(false, (err as Error).message)
      return
    }
    const ignored = new Set(bindings.filter((b) => !broker.isServedTopic(b.topic)).map((b) => b.topic))
    const byTopic = groupBindings(bindings.filter((b) => !ignored.has(b.topic)).map((b) => ({ ...b, groupId })), 'topic')
    for (const [topic, list] of byTopic) {
      broker.exchanger.setBindings(CLIENT_BINDING_SOURCE, topic, groupId, list)
      // kept in the store so a restarted broker still routes to a group that is offline
      await broker.store.saveBindings({ topic, groupId, json: bindingsToJson(list) })
    }
    broker.logger.info({ group: groupId, topics: [...byTopic.keys()], ignored: [...ignored] }, 'bindings set by client')
    reply(true, ignored.size === 0 ? 'Bind Succ' : `Bind Succ; topics not served here, ignored: ${[...ignored].join(',')}`)
  }
}
