/**
 * cancel/reschedule asks every broker serving the topic (the client cannot know which one stored
 * the message) and folds their answers into one outcome.
 */
import { ScheduleResult, type ScheduleAck } from '../protocol/extensions.ts'
import type { ScheduleOutcome } from './types.ts'

type Result = ScheduleOutcome['result']

const resultNames = new Map<number, Result>([
  [ScheduleResult.CANCELLED, 'cancelled'],
  [ScheduleResult.RESCHEDULED, 'rescheduled'],
  [ScheduleResult.ALREADY_DELIVERED, 'already-delivered'],
  [ScheduleResult.NOT_FOUND, 'not-found'],
  [ScheduleResult.REFUSED, 'refused'],
])

export function scheduleOutcome(ack: ScheduleAck): ScheduleOutcome {
  const result = resultNames.get(ack.result)
  const outcome: ScheduleOutcome = result === undefined
    ? { result: 'refused', feedback: `unknown schedule result ${ack.result}${ack.feedback === '' ? '' : `: ${ack.feedback}`}` }
    : { result, feedback: ack.feedback }
  if (ack.deliverAt !== undefined) outcome.deliverAt = ack.deliverAt
  return outcome
}

// Only one broker holds the message, so the one that found it speaks for all.
const decisive: readonly Result[] = ['cancelled', 'rescheduled', 'already-delivered']

/**
 * The combined outcome, or undefined when it cannot be told: nobody found the message but some
 * broker did not answer (it may be the one holding it); the caller reports that broker's error.
 */
export function combineScheduleOutcomes(outcomes: readonly ScheduleOutcome[], someFailed: boolean): ScheduleOutcome | undefined {
  for (const result of decisive) {
    const found = outcomes.find((o) => o.result === result)
    if (found !== undefined) return found
  }
  if (someFailed) return undefined
  return outcomes.find((o) => o.result === 'refused') ?? outcomes.find((o) => o.result === 'not-found')
}
