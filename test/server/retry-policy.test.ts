import test from 'ava'
import { windowedRetryPolicy } from '../../server/index.ts'

test("KiteQ's backoff windows, with count 3 in the 5 s window (KiteQ's gap made it a 4th immediate try)", (t) => {
  const p = windowedRetryPolicy()
  t.is(p.immediateAttempts, 3)
  t.deepEqual([0, 1, 2].map((c) => p.delayMs(c)), [0, 0, 0])
  t.deepEqual([3, 4, 9, 10, 19, 20, 30, 40, 49, 50, 99].map((c) => p.delayMs(c)),
    [5000, 5000, 5000, 10_000, 10_000, 20_000, 40_000, 80_000, 80_000, 160_000, 160_000])
})
