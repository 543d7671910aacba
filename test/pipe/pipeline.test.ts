import test from 'ava'
import { STOP, compilePipeline, type Pipeline } from '../../pipe/index.ts'

interface Ctx { trail: string[] }

/** Runs the chain; resolves once it has called its end. */
const runToEnd = (p: Pipeline<Ctx>, ctx: Ctx) => new Promise<void>((resolve) => p.run(ctx, resolve))

test('runs sync handlers in order, and ends, synchronously', (t) => {
  const p = compilePipeline<Ctx>('sync', [(c) => void c.trail.push('a'), (c) => void c.trail.push('b')], () => t.fail())
  const ctx: Ctx = { trail: [] }
  p.run(ctx, () => ctx.trail.push('end'))
  t.deepEqual(ctx.trail, ['a', 'b', 'end'])
  p.run(ctx) // no end wanted
  t.deepEqual(ctx.trail, ['a', 'b', 'end', 'a', 'b'])
})

test('mixes sync and async handlers; the end is called once the chain is done', async (t) => {
  const p = compilePipeline<Ctx>('mixed', [
    (c) => void c.trail.push('a'),
    async (c) => {
      await new Promise((r) => setTimeout(r, 5))
      c.trail.push('b')
    },
    (c) => void c.trail.push('c'),
  ], () => t.fail())
  const ctx: Ctx = { trail: [] }
  const done = runToEnd(p, ctx)
  t.deepEqual(ctx.trail, ['a'])
  await done
  t.deepEqual(ctx.trail, ['a', 'b', 'c'])
})

test('STOP, sync or async, ends the chain', async (t) => {
  const p = compilePipeline<Ctx>('stop', [(c) => (c.trail.push('a'), STOP), (c) => void c.trail.push('never')], () => t.fail())
  const ctx: Ctx = { trail: [] }
  p.run(ctx, () => ctx.trail.push('end'))
  t.deepEqual(ctx.trail, ['a', 'end'])
  const q = compilePipeline<Ctx>('stop-async', [async (): Promise<typeof STOP> => STOP, (c) => void c.trail.push('never')], () => t.fail())
  await runToEnd(q, ctx)
  t.deepEqual(ctx.trail, ['a', 'end'])
})

test('throws and rejections go to the one error route, with the stage name, and end the chain', async (t) => {
  const errors: [string, string][] = []
  function validate(): void { throw new Error('bad input') }
  async function persist(): Promise<void> { throw new Error('disk gone') }
  const route = (err: unknown, _c: Ctx, stage: string) => errors.push([stage, (err as Error).message])
  let ended = false
  compilePipeline<Ctx>('a', [validate, () => t.fail()], route).run({ trail: [] }, () => (ended = true))
  t.true(ended)
  await runToEnd(compilePipeline<Ctx>('b', [persist, () => t.fail()], route), { trail: [] })
  await runToEnd(compilePipeline<Ctx>('c', [{ name: 'named', handle: () => Promise.reject(new Error('x')) }], route), { trail: [] })
  t.deepEqual(errors, [['validate', 'bad input'], ['persist', 'disk gone'], ['named', 'x']])
})

test('the stage list is compiled once and exposed', (t) => {
  function accept(): void {}
  function deliver(): void {}
  t.deepEqual(compilePipeline<Ctx>('p', [accept, deliver], () => {}).stages, ['accept', 'deliver'])
})
