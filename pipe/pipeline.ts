/**
 * One runner for every handler chain. A chain is an array of handlers compiled once at start-up;
 * running it walks the array by index. A handler may be synchronous or return a promise; returning
 * STOP (or a promise of it) ends the chain. Any throw or rejection goes to the chain's one error
 * route, together with the name of the stage that failed.
 */

export const STOP: unique symbol = Symbol('pipeline.stop')
export type Stop = typeof STOP

/** A promise may resolve with anything: only STOP means something (the chain ends). */
export type HandlerResult = void | Stop | Promise<unknown>

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
   * Runs the chain and calls `onEnd` once it has finished or stopped (a failed stage stops it,
   * after the error route): synchronously when every handler completed synchronously. A callback,
   * not a promise: a caller that goes on from the end would otherwise wrap the last stage's
   * promise in one more, and the broker runs a chain for every message it takes and delivers.
   */
  run(ctx: C, onEnd?: () => void): void
}

function isPromise(value: unknown): value is Promise<unknown> {
  return value !== null && typeof value === 'object' && typeof (value as Promise<unknown>).then === 'function'
}

const nothing = () => {}

export function compilePipeline<C>(
  name: string,
  handlers: ReadonlyArray<Handler<C> | NamedHandler<C>>,
  onError: ErrorRoute<C>,
): Pipeline<C> {
  const fns: Handler<C>[] = handlers.map((h) => (typeof h === 'function' ? h : h.handle))
  const stages = handlers.map((h, i) => h.name || `${name}[${i}]`)
  const count = fns.length

  function step(ctx: C, from: number, onEnd: () => void): void {
    for (let i = from; i < count; i++) {
      let result: HandlerResult
      try {
        result = fns[i](ctx)
      } catch (err) {
        onError(err, ctx, stages[i])
        return onEnd()
      }
      if (result === STOP) return onEnd()
      if (isPromise(result)) {
        result.then((value) => {
          if (value === STOP) onEnd()
          else step(ctx, i + 1, onEnd)
        }, (err: unknown) => {
          onError(err, ctx, stages[i])
          onEnd()
        })
        return
      }
    }
    onEnd()
  }

  return {
    name,
    stages,
    run: (ctx: C, onEnd = nothing) => step(ctx, 0, onEnd),
  }
}
