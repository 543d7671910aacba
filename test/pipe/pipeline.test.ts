import test from 'ava'
import { STOP, compilePipeline } from '../../pipe/index.ts'

interface Ctx { trail: string[] }

test('runs sync handlers in order, synchronously', (t) => {
  const p = compilePipeline<Ctx>('sync', [(c) => void c.trail.push('a'), (c) => void c.trail.push('b')], () => t.fail())
  const ctx: Ctx = { trail: [] }
  t.is(p.run(ctx), undefined)
  t.deepEqual(ctx.trail, ['a', 'b'])
})

test('mixes sync and async handlers; the returned promise settles when the chain is done', async (t) => {
  const p = compilePipeline<Ctx>('mixed', [
    (c) => void c.trail.push('a'),
    async (c) => {
      await new Promise((r) => setTimeout(r, 5))
      c.trail.push('b')
    },
    (c) => void c.trail.push('c'),
  ], () => t.fail())
  const ctx: Ctx = { trail: [] }
  const done = p.run(ctx)
  t.deepEqual(ctx.trail, ['a'])
  await done
  t.deepEqual(ctx.trail, ['a', 'b', 'c'])
})

test('STOP, sync or async, ends the chain', async (t) => {
  const p = compilePipeline<Ctx>('stop', [(c) => (c.trail.push('a'), STOP), (c) => void c.trail.push('never')], () => t.fail())
  const ctx: Ctx = { trail: [] }
  p.run(ctx)
  t.deepEqual(ctx.trail, ['a'])
  const q = compilePipeline<Ctx>('stop-async', [async (): Promise<typeof STOP> => STOP, (c) => void c.trail.push('never')], () => t.fail())
  await q.run(ctx)
  t.deepEqual(ctx.trail, ['a'])
})

test('throws and rejections go to the one error route, with the stage name', async (t) => {
  const errors: [string, string][] = []
  function validate(): void { throw new Error('bad input') }
  async function persist(): Promise<void> { throw new Error('disk gone') }
  const route = (err: unknown, _c: Ctx, stage: string) => errors.push([stage, (err as Error).message])
  compilePipeline<Ctx>('a', [validate, () => t.fail()], route).run({ trail: [] })
  await compilePipeline<Ctx>('b', [persist, () => t.fail()], route).run({ trail: [] })
  await compilePipeline<Ctx>('c', [{ name: 'named', handle: () => Promise.reject(new Error('x')) }], route).run({ trail: [] })
  t.deepEqual(errors, [['validate', 'bad input'], ['persist', 'disk gone'], ['named', 'x']])
})

test('the stage list is compiled once and exposed', (t) => {
  function accept(): void {}
  function deliver(): void {}
  t.deepEqual(compilePipeline<Ctx>('p', [accept, deliver], () => {}).stages, ['accept', 'deliver'])
})
