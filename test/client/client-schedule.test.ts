import test from 'ava'
import { Cmd, ErrorCodes, ScheduleRequestCodec, ScheduleResult, type ScheduleAck, type ScheduleRequest } from '../../protocol/index.ts'
import { KiteQClient } from '../../client/index.ts'
import { combineScheduleOutcomes } from '../../client/schedule.ts'
import { FakeBroker, randomName, testClientOptions } from './fake-broker.ts'

type Hook = (r: ScheduleRequest) => ScheduleAck | null

const answer = (result: number, feedback: string, deliverAt?: number): Hook => (r) => ({
  messageId: r.messageId, result, feedback, ...(deliverAt === undefined ? {} : { deliverAt }),
})
const silent: Hook = () => null

/** Two brokers serving the topic, each answering SCHEDULE with its own hook. */
async function twoBrokers(t: { teardown(fn: () => unknown): void }) {
  const hooks: [Hook, Hook] = [answer(ScheduleResult.NOT_FOUND, 'a: not here'), answer(ScheduleResult.NOT_FOUND, 'b: not here')]
  const brokers = await Promise.all([0, 1].map((i) => FakeBroker.start({ schedule: (r) => hooks[i](r) })))
  for (const b of brokers) t.teardown(() => b.stop())
  const client = new KiteQClient(testClientOptions(brokers, { publishTimeoutMs: 150 }))
  t.teardown(() => client.close())
  const topic = randomName('topic')
  client.setTopics([topic])
  await client.start()
  return { brokers, client, topic, hooks }
}

const { CANCELLED, RESCHEDULED, ALREADY_DELIVERED, NOT_FOUND, REFUSED } = ScheduleResult

test('cancel: asks every broker of the topic; the one that found the message speaks for all', async (t) => {
  const { brokers, client, topic, hooks } = await twoBrokers(t)
  const id = client.messageId()
  hooks[0] = answer(NOT_FOUND, 'a: not here')
  hooks[1] = answer(CANCELLED, 'b: cancelled')
  t.deepEqual(await client.cancel(topic, id), { result: 'cancelled', feedback: 'b: cancelled' })
  for (const broker of brokers) {
    const request = ScheduleRequestCodec.decode((await broker.waitForCmd(Cmd.SCHEDULE)).body)
    t.deepEqual({ ...request }, { topic, messageId: id, action: 1, deliverAt: undefined })
  }

  hooks[0] = answer(ALREADY_DELIVERED, 'a: too late')
  hooks[1] = answer(NOT_FOUND, 'b: not here')
  t.deepEqual(await client.cancel(topic, id), { result: 'already-delivered', feedback: 'a: too late' })

  hooks[0] = answer(REFUSED, 'a: not allowed')
  t.deepEqual(await client.cancel(topic, id), { result: 'refused', feedback: 'a: not allowed' })

  hooks[0] = answer(NOT_FOUND, 'a: not here')
  t.deepEqual(await client.cancel(topic, id), { result: 'not-found', feedback: 'a: not here' })
})

test('reschedule: sends deliverAt in epoch ms (Date or number) and returns the time now in force', async (t) => {
  const { brokers, client, topic, hooks } = await twoBrokers(t)
  const id = client.messageId()
  hooks[0] = answer(RESCHEDULED, 'a: moved', 1_900_000_000_000)
  t.deepEqual(await client.reschedule(topic, id, new Date(1_900_000_000_000)), {
    result: 'rescheduled', feedback: 'a: moved', deliverAt: 1_900_000_000_000,
  })
  await client.reschedule(topic, id, 1_900_000_000_999)
  const sent = brokers[1].framesOf(Cmd.SCHEDULE).map((f) => ScheduleRequestCodec.decode(f.body))
  t.deepEqual(sent.map((r) => [r.action, r.deliverAt]), [[2, 1_900_000_000_000], [2, 1_900_000_000_999]])
  const bad = await t.throwsAsync(client.reschedule(topic, id, Number.NaN))
  t.is((bad as { code?: string }).code, ErrorCodes.INVALID_ARGUMENT)
})

test('a broker that does not answer: a decisive answer from another still wins; otherwise its error is thrown', async (t) => {
  const { client, topic, hooks } = await twoBrokers(t)
  const id = client.messageId()
  hooks[0] = silent
  hooks[1] = answer(CANCELLED, 'b: cancelled')
  t.is((await client.cancel(topic, id)).result, 'cancelled')
  hooks[1] = answer(NOT_FOUND, 'b: not here') // the silent broker may hold it: "not found" would be a guess
  const err = await t.throwsAsync(client.cancel(topic, id))
  t.is((err as { code?: string }).code, ErrorCodes.TIMEOUT)
})

test('combining: priority cancelled > rescheduled > already-delivered > refused > not-found', (t) => {
  const o = (result: 'cancelled' | 'rescheduled' | 'already-delivered' | 'not-found' | 'refused') => ({ result, feedback: result })
  t.is(combineScheduleOutcomes([o('already-delivered'), o('rescheduled'), o('cancelled')], false)?.result, 'cancelled')
  t.is(combineScheduleOutcomes([o('already-delivered'), o('rescheduled')], false)?.result, 'rescheduled')
  t.is(combineScheduleOutcomes([o('not-found'), o('refused'), o('already-delivered')], false)?.result, 'already-delivered')
  t.is(combineScheduleOutcomes([o('not-found'), o('refused')], false)?.result, 'refused')
  t.is(combineScheduleOutcomes([o('not-found'), o('not-found')], false)?.result, 'not-found')
  t.is(combineScheduleOutcomes([o('not-found')], true), undefined)
})

test('schedule before start() is a usage error, not a broker outage', async (t) => {
  const client = new KiteQClient(testClientOptions([], { brokers: ['127.0.0.1:1'] }))
  const err = await t.throwsAsync(client.cancel('t', client.messageId()))
  t.is((err as { code?: string }).code, ErrorCodes.INVALID_ARGUMENT)
  t.false((err as { retriable?: boolean }).retriable)
})
