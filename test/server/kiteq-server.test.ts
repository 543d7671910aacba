import test from 'ava'
import { MemoryStore } from '../../store/memory-store.ts'
import type { StoredMessage } from '../../store/message-store.ts'
import { randomName, startBroker } from '../helpers/broker.ts'
import { startProducer } from '../helpers/clients.ts'

/** A memory store whose next save waits for `letGo`, and which notes the order of saves and stop. */
class GatedSaveStore extends MemoryStore {
  readonly events: string[] = []
  #gate: { entered: () => void; open: Promise<void> } | undefined
  holdNextSave(): { entered: Promise<void>; letGo: () => void } {
    let letGo!: () => void
    let entered!: () => void
    const open = new Promise<void>((resolve) => (letGo = resolve))
    const wasEntered = new Promise<void>((resolve) => (entered = resolve))
    this.#gate = { entered, open }
    return { entered: wasEntered, letGo }
  }

  override async save(message: StoredMessage): Promise<void> {
    const gate = this.#gate
    this.#gate = undefined
    if (gate !== undefined) {
      gate.entered()
      await gate.open
    }
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
