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

/** A config file in a fresh directory holding `text`. */
function configFile(text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'kiteq-cli-')), 'kiteq.yaml')
  writeFileSync(path, text)
  return path
}

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

test('KITEQ_CONFIG names the config file as -config does; the flag wins over it', (t) => {
  const fromEnv = configFile('topics: [e]\n')
  t.is(parseCli([], { KITEQ_CONFIG: fromEnv }).topics, 'e')
  t.is(parseCli([`-config=${configFile('topics: [f]\n')}`], { KITEQ_CONFIG: fromEnv }).topics, 'f')
  t.throws(() => parseCli(['-topics=a'], { KITEQ_CONFIG: '/does/not/exist.yaml' }), { message: /cannot be read/ })
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
  [['-topics=,'], /-topics is required/],
  [['-topics=a', '-pport=99999'], /-pport must be a whole number of at most 65535, got 99999/],
  [['-topics=a', '-pport='], /-pport: '' is not a number/],
  [['-topics=a', '-pport'], /-pport needs a value: -pport=…/],
  [['-topics=a', '-acceptPermits=-5'], /-acceptPermits must be a number of at least 0, got -5/],
  [['-topics=a', '-txCheckIntervalSeconds=0'], /-txCheckIntervalSeconds must be positive, got 0/],
  [['-topics=a', '-txCheckMax=1.5'], /-txCheckMax must be a whole number of at least 1, got 1.5/],
  [['-topics=a', '-protectReads'], /-protectReads needs -adminToken/],
  [['-topics=a', `-config=${configFile('topics: [a\nbind: x\n')}`], /does not parse: /],
  [['-bind=127.0.0.1:1', `-config=${configFile('topics: { a: 1 }\n')}`], /-topics: expected a single value, got a mapping/],
  [['-topics=a', `-config=${configFile('pport: true\n')}`], /-pport: 'true' is not a number/],
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

test('SIGTERM still ends the process when whoever read its log is gone (stdout a closed pipe)', async (t) => {
  const child = spawn(process.execPath, [tsxLoader, entry, '-bind=127.0.0.1:0', '-topics=trade', '-db=memory://'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let exited = false
  child.on('exit', () => (exited = true))
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      if (d.toString().includes('broker started')) resolve()
    })
    child.on('exit', () => reject(new Error('the broker exited before starting')))
  })
  child.stdout.destroy() // the reader goes away, as `./kiteq | head -1` does
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
  const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => {
    if (exited) resolve([child.exitCode, child.signalCode])
    else child.on('exit', (c, s) => resolve([c, s]))
  })
  clearTimeout(timer)
  t.is(signal, null, 'it ended by itself, not by the SIGKILL 15 s later')
  t.is(code, 0)
})
