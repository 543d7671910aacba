/**
 * Times every asynchronous call of a message store into kiteq_store_operation_seconds{store, op,
 * outcome}; outcome "error" when it throws or rejects.
 *
 * A Proxy rather than a hand-written wrapper class: the MessageStore contract grows (snapshots,
 * bindings, ...) and a wrapper that forgot a new method would silently stop forwarding it. Methods
 * run on the real store (`this` is the target), so backends' #private fields keep working.
 * The caller gets the store's own promise back, not a derived one: timing adds no extra turn to
 * the broker's await chain.
 */
import type { MessageStore } from '../store/message-store.ts'
import type { BrokerMetrics } from './metrics.ts'

export function instrumentStore<S extends MessageStore>(store: S, metrics: Pick<BrokerMetrics, 'storeOperation'>): S {
  const wrapped = new Map<PropertyKey, unknown>()
  return new Proxy(store, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target)
      if (typeof value !== 'function' || prop === 'constructor') return value
      let fn = wrapped.get(prop)
      if (fn === undefined) {
        const original = value as (...args: unknown[]) => unknown
        const series = metrics.storeOperation(target.kind, String(prop))
        fn = function timed(...args: unknown[]): unknown {
          const started = performance.now()
          let result: unknown
          try {
            result = original.apply(target, args)
          } catch (err) {
            series.error.observe((performance.now() - started) / 1000)
            throw err
          }
          // getters and helpers that answer at once are not store operations
          if (!(result instanceof Promise)) return result
          result.then(
            () => series.ok.observe((performance.now() - started) / 1000),
            () => series.error.observe((performance.now() - started) / 1000),
          )
          return result
        }
        wrapped.set(prop, fn)
      }
      return fn
    },
  })
}
