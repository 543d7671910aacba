export {
  BINDING_VERSION, BindType, bindDirect, bindFanout, bindRegx, bindTypeFromName, bindingMatches, bindingsFromJson,
  bindingsToJson, compileMessageTypePattern, groupBindings,
} from './binding.ts'
export type { BindTypeValue, Binding } from './binding.ts'
export { FileRegistry, parseRegistryYaml } from './file-registry.ts'
export type { FileRegistryEvents, FileRegistryOptions, RegistryBroker, RegistryDocument } from './file-registry.ts'
export { Exchanger } from './exchanger.ts'
export type { GroupRoute } from './exchanger.ts'
export { TokenBucket } from './rate-limiter.ts'
export type { BindingRegistry, BrokerIdentity } from './registry.ts'
export { ZkRegistry } from './zk-registry.ts'
