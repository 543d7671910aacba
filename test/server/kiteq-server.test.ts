import test from 'ava'
import { MemoryStore } from '../../store/memory-store.ts'
import type { StoredMessage } from '../../store/message-store.ts'
import { randomName, startBroker } from '../helpers/broker.ts'
import { startProducer } from '../helpers/clients.ts'
import { Hold } from '../helpers/hold.ts'

/** A memory store whose next save can be held, and which notes the order of saves and stop. */
class GatedSaveStore extends MemoryStore {
  readonly events: string[] = []
  #hold: Hold | undefined
  holdNextSave(): Hold {
    return (this.#hold = new Hold())
  }

  override async save(message: StoredMessage): Promise<void> {
    const hold = this.#hold
    this.#hold = undefined
    await hold?.pass()
    await super.save(message)
    this.events.push(`saved ${message.messageId}`)
  }

  override async stop(): Promise<void> {
    this.events.push('stopped')
  }
}

test('graceful stop: a publish under way is stored and acknowledged before connections close; new ones are refused, retriable', async (t) => {
  const topic = randomName('t')
  const store = new GatedSaveStore()
  const broker = await startBroker({ topics: [topic], store })
  const producer = await startProducer(broker.address, randomName('p'), [topic])
  const hold = store.holdNextSave()
  const underWay = producer.sendStringMessage({ topic, messageType: 'm', body: 'under way' })
  await hold.entered
  const stopping = broker.server.stop()
  const refused = await t.throwsAsync(producer.sendStringMessage({ topic, messageType: 'm', body: 'too late' }))
  t.regex(refused!.message, /broker stopping/)
  t.true((refused as { retriable?: boolean }).retriable)
  hold.letGo()
  const { messageId } = await underWay
  await stopping
  t.deepEqual(store.events, [`saved ${messageId}`, 'stopped'])
  await producer.close()
})
