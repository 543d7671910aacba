/**
 * The Go harness's own tests (interop/test.sh: its wire codec, its commands against a fake broker,
 * and its zk:// registry against the suite's ZooKeeper), so that the harness the interop tests
 * trust is itself checked on every run.
 */
import test from 'ava'
import { runScript } from '../helpers/scripts.ts'

test('the Go harness passes its own tests (go test ./... in interop/)', async (t) => {
  t.timeout(300_000) // a first run on a machine compiles the Go dependencies
  const out = await runScript('interop/test.sh', ['-v'], 300_000)
  for (const pkg of ['kiteq-ts/interop/cmd/kiteq-interop', 'kiteq-ts/interop/internal/kiteclient']) {
    t.regex(out, new RegExp(`^ok\\s+${pkg}\\s`, 'm'), `${pkg} passed`)
  }
  t.notRegex(out, /^\s*--- FAIL/m)
  // with the suite's ZooKeeper the registry test must have run, not been skipped
  if (process.env.KITEQ_TEST_ZK !== undefined) t.regex(out, /^\s*--- PASS: TestZkRegistry\b/m)
})
