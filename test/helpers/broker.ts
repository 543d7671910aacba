/** Starts an in-process broker on 127.0.0.1 with a random port, and random names for tests. */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { bindTypeFromName, type Binding } from '../../binding/binding.ts'
import { FileRegistry } from '../../binding/file-registry.ts'
import { KiteQServer, type KiteQServerOptions } from '../../server/kiteq-server.ts'

export function randomName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`
}

export async function startBroker(options: Partial<KiteQServerOptions> & { topics: string[] }) {
  const server = new KiteQServer({ bind: '127.0.0.1:0', ...options })
  const { port } = await server.start()
  return { server, address: `127.0.0.1:${port}`, port }
}

/** A KiteQ YAML registry file naming the broker(s) and the bindings. */
export function writeRegistry(brokers: { address: string; topics: string[] }[], bindings: Binding[], path?: string): string {
  const file = path ?? join(mkdtempSync(join(tmpdir(), 'kiteq-registry-')), 'registry.yaml')
  const names = ['direct', 'regx', 'fanout']
  const yaml = [
    'brokers:',
    ...brokers.map((b) => `  - { address: "${b.address}", topics: [${b.topics.join(', ')}], env: test }`),
    'bindings:',
    ...bindings.map((b) =>
      `  - { groupIds: [${b.groupId}], topic: ${b.topic}, messageType: "${b.messageType}", bindType: ${names[b.bindType]}, watermark: ${b.watermark}, persistent: ${b.persistent} }`),
  ].join('\n')
  writeFileSync(file, yaml + '\n')
  return file
}

export function fileRegistry(path: string): FileRegistry {
  return new FileRegistry(path, { pollIntervalMs: 50 })
}

export { bindTypeFromName }
