export { STOP, compilePipeline } from './pipeline.ts'
export type { ErrorRoute, Handler, HandlerResult, NamedHandler, Pipeline, Stop } from './pipeline.ts'
