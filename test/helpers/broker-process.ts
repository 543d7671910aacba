/** The real CLI broker as a child process: start, SIGKILL or SIGTERM, restart on the same port, read its RSS. */
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'

const entry = fileURLToPath(new URL('../../kiteq.ts', import.meta.url))
const tsxLoader = `--import=${import.meta.resolve('tsx')}`

export async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

export class BrokerProcess {
  readonly port: number
  readonly args: string[]
  #child: ChildProcess | undefined
  stderr = ''

  constructor(port: number, args: string[]) {
    this.port = port
    this.args = args
  }

  get address(): string {
    return `127.0.0.1:${this.port}`
  }

  /** Starts the broker and resolves once it logs that it listens. */
  async start(): Promise<void> {
    const child = spawn(process.execPath, [tsxLoader, entry, `-bind=127.0.0.1:${this.port}`, '-logLevel=warn', ...this.args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    this.#child = child
    let out = ''
    child.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()))
    await new Promise<void>((resolve, reject) => {
      // once the start has failed, probing must stop: its timers alone would keep the test process alive
      let settled = false
      const onData = (d: Buffer) => {
        out += d.toString()
        // logLevel=warn hides 'broker started': probe the port instead once the process is up
      }
      child.stdout!.on('data', onData)
      child.once('exit', (code) => {
        settled = true
        reject(new Error(`broker exited with ${code} while starting: ${this.stderr}${out}`))
      })
      const probe = async () => {
        if (settled) return
        const { connect } = await import('node:net')
        const s = connect({ host: '127.0.0.1', port: this.port })
        s.once('connect', () => {
          s.destroy()
          settled = true
          resolve()
        })
        s.once('error', () => setTimeout(probe, 50))
      }
      void probe()
    })
  }

  /** Resident set size in bytes (Linux). */
  rssBytes(): number {
    const status = readFileSync(`/proc/${this.#child!.pid}/status`, 'utf8')
    return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024
  }

  /** SIGKILL: the crash. */
  kill(): Promise<void> {
    return this.#signal('SIGKILL')
  }

  /** SIGTERM: the graceful stop; resolves once the broker has drained and exited. */
  stop(): Promise<void> {
    return this.#signal('SIGTERM')
  }

  #signal(signal: NodeJS.Signals): Promise<void> {
    const child = this.#child
    // a child killed by a signal has exitCode null and signalCode set
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
    return new Promise((resolve) => {
      child.once('exit', () => resolve())
      child.kill(signal)
    })
  }
}
