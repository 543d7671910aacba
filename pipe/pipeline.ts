/**
 * One runner for every handler chain. A chain is an array of handlers compiled once at start-up;
 * running it walks the array by index. A handler may be synchronous or return a promise; returning
 * STOP (or a promise of it) ends the chain. Any throw or rejection goes to the chain's one error
 * route, together with the name of the stage that failed.
 */

export const STOP: unique symbol = Symbol('pipeline.stop')
export type Stop = typeof STOP

export type HandlerResult = void | Stop | Promise<void | Stop>

export interface Handler<C> {
  (ctx: C): HandlerResult
}

export interface NamedHandler<C> {
  readonly name: string
  readonly handle: Handler<C>
}

export type ErrorRoute<C> = (err: unknown, ctx: C, stage: string) => void

export interface Pipeline<C> {
  readonly name: string
  readonly stages: readonly string[]
  /**
   * Runs the chain. Returns undefined when every handler completed synchronously, otherwise a
   * promise that settles (never rejects) when the chain has finished or stopped.
   */
  run(ctx: C): Promise<void> | undefined
}

function isPromise(value: unknown): value is Promise<unknown> {
  return value !== null && typeof value === 'object' && typeof (value as Promise<unknown>).then === 'function'
}

export function compilePipeline<C>(
  name: string,
  handlers: ReadonlyArray<Handler<C> | NamedHandler<C>>,
  onError: ErrorRoute<C>,
): Pipeline<C> {
  const fns: Handler<C>[] = handlers.map((h) => (typeof h === 'function' ? h : h.handle))
  const stages = handlers.map((h, i) => h.name || `${name}[${i}]`)
  const count = fns.length

  function step(ctx: C, from: number): Promise<void> | undefined {
    for (let i = from; i < count; i++) {
      let result: HandlerResult
      try {
        result = fns[i](ctx)
      } catch (err) {
        onError(err, ctx, stages[i])
        return undefined
      }
      if (result === STOP) return undefined
      if (isPromise(result)) {
        return result.then(
          (value) => (value === STOP ? undefined : step(ctx, i + 1)),
          (err: unknown) => onError(err, ctx, stages[i]),
        )
      }
    }
    return undefined
  }

  return {
    name,
    stages,
    run: (ctx: C) => step(ctx, 0),
  }
}
