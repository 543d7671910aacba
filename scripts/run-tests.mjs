#!/usr/bin/env node
// The whole test suite, as CI runs it: start the real services the tests need (scripts/services.sh),
// run ava in TAP mode, echo its output, and finish with the one plain line CI reads:
// "N passed, N failed[, N skipped]". Exits non-zero on any failure.
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const services = join(root, 'scripts', 'services.sh')
const extraArgs = process.argv.slice(2)

function startServices() {
  if (!existsSync(services) || process.env.KITEQ_TEST_NO_SERVICES === '1') return {}
  const started = spawnSync('bash', [services, 'start'], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] })
  if (started.status !== 0) {
    console.log('0 passed, 1 failed')
    console.error('scripts/services.sh start failed; the suites that need real services cannot run')
    process.exit(1)
  }
  const envFile = join(root, '.services', 'env')
  const env = {}
  if (existsSync(envFile)) {
    for (const line of readFileSync(envFile, 'utf8').split('\n')) {
      const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim())
      if (m) env[m[1]] = m[2]
    }
  }
  return env
}

function stopServices() {
  if (!existsSync(services) || process.env.KITEQ_TEST_NO_SERVICES === '1' || process.env.KITEQ_TEST_KEEP_SERVICES === '1') return
  spawnSync('bash', [services, 'stop'], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] })
}

// The type check counts as one test: tests run through tsx, which strips types without checking them.
const typecheck = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json', '--noEmit'], {
  cwd: root,
  encoding: 'utf8',
})
const typecheckFailed = typecheck.status !== 0
if (typecheckFailed) {
  console.log('not ok - typecheck (tsc --noEmit)')
  console.log(typecheck.stdout)
} else {
  console.log('ok - typecheck (tsc --noEmit)')
}

const serviceEnv = startServices()

/**
 * Tests that stop or restart a shared service (titles marked "[outage]") would break the tests
 * using that service at the same moment, so they run in a second phase, one at a time, after
 * everything else. Given explicit paths, one plain run.
 */
const OUTAGE_FILES = ['test/kafka/bridge.test.ts', 'test/e2e/zookeeper.test.ts', 'test/store/mysql-store.test.ts']
const phases = extraArgs.length > 0
  ? [extraArgs]
  : [['--match', '!*[outage]*'], [...OUTAGE_FILES, '--match', '*[outage]*', '--serial', '--concurrency', '1']]

/**
 * The tests' temp dirs (stores, registries, Go harness output) all go under one dir per run, so a
 * run leaves nothing behind in the system's temp dir (~100 MB of it before): removed when every
 * test passed, kept for a look when one failed.
 */
const runTmp = mkdtempSync(join(tmpdir(), 'kiteq-test-run-'))

let pass = 0, fail = 0, skip = 0, todo = 0
let anyFailedRun = false

function runAva(args) {
  return new Promise((resolve) => {
    const ava = spawn(process.execPath, [join(root, 'node_modules', 'ava', 'entrypoints', 'cli.mjs'), '--tap', ...args], {
      cwd: root,
      env: { ...process.env, ...serviceEnv, TMPDIR: runTmp },
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    const counts = { pass: 0, fail: 0, skip: 0, todo: 0 }
    let pending = ''
    ava.stdout.on('data', (chunk) => {
      process.stdout.write(chunk)
      pending += chunk.toString('utf8')
      let nl
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl)
        pending = pending.slice(nl + 1)
        const m = /^# (pass|fail|skip|todo) (\d+)/.exec(line)
        if (m) counts[m[1]] = Number(m[2])
      }
    })
    ava.on('close', (code) => {
      // ava exits non-zero for failures it may not count as tests (an uncaught error, a timeout)
      if (code !== 0 && counts.fail === 0) counts.fail = 1
      resolve(counts)
    })
  })
}

for (const args of phases) {
  const counts = await runAva(args)
  pass += counts.pass
  fail += counts.fail
  skip += counts.skip
  todo += counts.todo
  if (counts.fail > 0) anyFailedRun = true
}
stopServices()
if (fail > 0 || anyFailedRun) console.error(`the failed run's temp dirs are kept in ${runTmp}`)
else rmSync(runTmp, { recursive: true, force: true })
if (typecheckFailed) fail++
else pass++
const skipped = skip + todo
console.log(`${pass} passed, ${fail} failed${skipped ? `, ${skipped} skipped` : ''}`)
process.exit(fail > 0 || anyFailedRun ? 1 : 0)
