import test from 'ava'
import { SegmentRefs } from '../../../store/file/segment-refs.ts'

/*
 * Segment 1 holds the SAVEs of L and D, segment 3 the tombstone of D (and nothing live), 4 is
 * active. The log deletes files in the order they are named (segment-log.ts), so the order is the
 * contract: 1 before 3, or a crash in between brings D back.
 */

test('a segment whose tombstones cancel records in an older one is named after it, when the last record goes', (t) => {
  const named: number[] = []
  const refs = new SegmentRefs((s) => named.push(s))
  refs.setActive(1)
  refs.hold(1) // L
  refs.hold(1) // D
  refs.setActive(2)
  refs.setActive(3)
  refs.dependOn(3, 1) // D's tombstone
  refs.release(1)
  refs.setActive(4)
  t.deepEqual(named, [2], 'segment 3 waits for segment 1')
  refs.release(1) // L deleted
  t.deepEqual(named, [2, 1, 3])
})

test('at the end of start-up, a segment is named after every older segment its tombstones depend on', (t) => {
  const named: number[] = []
  const refs = new SegmentRefs((s) => named.push(s))
  for (const s of [1, 2, 3, 4]) refs.add(s)
  refs.beginLoading()
  refs.hold(1)
  refs.hold(1)
  refs.dependOn(3, 1)
  refs.release(1)
  refs.release(1)
  refs.setActive(4)
  t.deepEqual(named, [], 'nothing while loading')
  refs.endLoading()
  t.deepEqual([...named].sort(), [1, 2, 3])
  t.true(named.indexOf(1) < named.indexOf(3), named.join(' '))
})
