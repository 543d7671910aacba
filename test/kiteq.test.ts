import test from 'ava'
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseCli, topicList } from '../kiteq.ts'

const entry = fileURLToPath(new URL('../kiteq.ts', import.meta.url))
/** Absolute, so a child started in another directory still finds the TypeScript loader. */
const tsxLoader = `--import=${import.meta.resolve('tsx')}`

function runCli(args: string[]) {
  return spawnSync(process.execPath, [tsxLoader, entry, ...args], { encoding: 'utf8', timeout: 20_000 })
}

test('flags in both spellings; defaults; topics list', (t) => {
  const o = parseCli(['-bind=127.0.0.1:1', '--topics', 'a, b,a', '-deliverySeconds=2'], {})
  t.is(o.bind, '127.0.0.1:1')
  t.deepEqual(topicList(o.topics), ['a', 'b'])
  t.is(o.deliverySeconds, 2)
  t.is(o.db, 'sqlite://./kiteq-data/kiteq.db', 'SQLite is the embedded default')
  t.is(o.txCheckMax, 15)
})

test('precedence: flag > environment > config file > default', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kiteq-cli-'))
  const config = join(dir, 'kiteq.yaml')
  writeFileSync(config, 'topics: [x, y]\nbind: 127.0.0.1:5000\nsecrets: { g1: s1, g2: s2 }\ntxCheckMax: 3\n')
  const o = parseCli([`-config=${config}`, '-txCheckMax=4'], { KITEQ_BIND: '127.0.0.1:6000' })
  t.is(o.topics, 'x,y')
  t.is(o.bind, '127.0.0.1:6000')
  t.is(o.secrets, 'g1:s1,g2:s2')
  t.is(o.txCheckMax, 4)
})

for (const [args, pattern] of [
  [['-topics=a', '-bnd=1'], /Unknown argument: bnd/],
  [['-topics=a', '-bind=nope'], /-bind 'nope' is not host:port/],
  [['-bind=127.0.0.1:1'], /-topics is required/],
  [['-topics=a', '-deliverySeconds=abc'], /-deliverySeconds: 'abc' is not a number/],
  [['-topics=a', '-secrets=nocolon'], /-secrets: 'nocolon' is not group:secret/],
  [['-topics=a', '-db=nosuch://x'], /-db scheme 'nosuch:' is not supported/],
  [['-topics=a', '-config=/does/not/exist.yaml'], /-config \/does\/not\/exist.yaml cannot be read/],
  [['-topics=a', '-logLevel=loud'], /-logLevel 'loud'/],
  [['-topics=a', '-dueGroupWindow=0'], /-dueGroupWindow must be a whole number of at least 1, got 0/],
  [['-topics=a', '-dueTopicQueue=1.5'], /-dueTopicQueue must be a whole number of at least 2, got 1.5/],
] as const) {
  test(`a bad start-up (${args.join(' ')}) stops with one line saying what is wrong`, (t) => {
    const r = runCli([...args])
    t.is(r.status, 2)
    const lines = r.stderr.trim().split('\n')
    t.is(lines.length, 1, r.stderr)
    t.regex(lines[0], pattern)
    t.regex(lines[0], /\[KITEQ_ERR_CONFIG\]$/)
  })
}

test('runs, logs JSON lines, and drains on SIGTERM with exit 0', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kiteq-run-'))
  const child = spawn(process.execPath, [tsxLoader, entry, '-bind=127.0.0.1:0', '-topics=trade'], { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir })
  let out = ''
  let err = ''
  let exited = false
  child.stdout.on('data', (d) => (out += d))
  child.stderr.on('data', (d) => (err += d))
  child.on('exit', () => (exited = true))
  while (!out.includes('broker started')) {
    if (exited) return t.fail(`the broker exited before starting: ${err}`)
    await new Promise((r) => setTimeout(r, 20))
  }
  child.kill('SIGTERM')
  const code = await new Promise((resolve) => child.on('exit', resolve))
  t.is(code, 0)
  const lines = out.trim().split('\n').map((l) => JSON.parse(l))
  t.true(lines.some((l) => l.msg === 'broker stopped'))
  t.is(lines.find((l) => l.msg === 'broker started')?.store, 'sqlite')
  t.true(existsSync(join(dir, 'kiteq-data', 'kiteq.db')), 'the default store lives in a data directory it creates')
})
