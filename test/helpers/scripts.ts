/**
 * Runs one of the project's bash scripts from a test. Never spawnSync: a test's process also holds
 * brokers, clients and ZooKeeper sessions whose timers must keep running while a script takes
 * seconds (a Kafka start, a first Go build).
 */
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const root = fileURLToPath(new URL('../../', import.meta.url))

/** Runs `bash <root>/<script> ...args`; resolves with its stdout, rejects with its output. */
export async function runScript(script: string, args: string[], timeoutMs: number): Promise<string> {
  try {
    const { stdout } = await promisify(execFile)('bash', [join(root, script), ...args], { cwd: root, encoding: 'utf8', timeout: timeoutMs })
    return stdout
  } catch (err) {
    const { stdout, stderr } = err as { stdout?: string; stderr?: string }
    throw new Error(`${[script, ...args].join(' ')} failed: ${stdout ?? ''}${stderr ?? (err as Error).message}`)
  }
}
