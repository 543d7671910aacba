#!/usr/bin/env node
// The whole test suite, as CI runs it: start the real services the tests need (scripts/services.sh),
// run ava in TAP mode, echo its output, and finish with the one plain line CI reads:
// "N passed, N failed[, N skipped]". Exits non-zero on any failure.
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
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
const ava = spawn(process.execPath, [join(root, 'node_modules', 'ava', 'entrypoints', 'cli.mjs'), '--tap', ...extraArgs], {
  cwd: root,
  env: { ...process.env, ...serviceEnv },
  stdio: ['ignore', 'pipe', 'inherit'],
})

let pass = 0, fail = 0, skip = 0, todo = 0
let pending = ''
ava.stdout.on('data', (chunk) => {
  process.stdout.write(chunk)
  pending += chunk.toString('utf8')
  let nl
  while ((nl = pending.indexOf('\n')) >= 0) {
    const line = pending.slice(0, nl)
    pending = pending.slice(nl + 1)
    let m
    if ((m = /^# pass (\d+)/.exec(line))) pass = Number(m[1])
    else if ((m = /^# fail (\d+)/.exec(line))) fail = Number(m[1])
    else if ((m = /^# skip (\d+)/.exec(line))) skip = Number(m[1])
    else if ((m = /^# todo (\d+)/.exec(line))) todo = Number(m[1])
  }
})

ava.on('close', (code) => {
  stopServices()
  // ava exits non-zero for failures it may not count as tests (an uncaught error, a timeout).
  if (code !== 0 && fail === 0) fail = 1
  if (typecheckFailed) fail++
  else pass++
  const skipped = skip + todo
  console.log(`${pass} passed, ${fail} failed${skipped ? `, ${skipped} skipped` : ''}`)
  process.exit(fail > 0 ? 1 : 0)
})
