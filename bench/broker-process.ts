/**
 * A broker in its own process for benchmarks: `--db URI --topics a,b`; prints {"port":N} on stdout
 * and stops on SIGTERM.
 */
import { KiteQServer } from '../server/kiteq-server.ts'
import { openStore } from '../store/open-store.ts'

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : fallback
}

const server = new KiteQServer({
  bind: '127.0.0.1:0',
  topics: arg('topics', 'bench').split(','),
  store: openStore(arg('db', 'memory://')),
})
const { port } = await server.start()
process.stdout.write(JSON.stringify({ port }) + '\n')
process.on('SIGTERM', () => void server.stop().then(() => process.exit(0)))
