import test from 'ava'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  BindType, Exchanger, FileRegistry, TokenBucket, bindDirect, bindFanout, bindRegx, bindingMatches, bindingsFromJson,
  bindingsToJson, parseRegistryYaml,
} from '../../binding/index.ts'

test('binding JSON is byte for byte what kiteq-common writes', (t) => {
  t.is(
    bindingsToJson([bindDirect('s-mts-test', 'trade', 'pay-succ', 1000, true)]),
    '[{"groupId":"s-mts-test","topic":"trade","messageType":"pay-succ","bindType":0,"version":"1.0.0","watermark":1000,"persistent":true}]',
  )
  t.is(bindingsToJson([bindFanout('g', 't', 0, false)]), '[{"groupId":"g","topic":"t","messageType":"*","bindType":2,"version":"1.0.0","watermark":0,"persistent":false}]')
})

test('binding JSON from Go parses, extra fields ignored, null is none', (t) => {
  const parsed = bindingsFromJson('[{"groupId":"g","topic":"t","messageType":"a.*","bindType":1,"version":"1.0.0","watermark":5,"persistent":false,"handler":{}}]')
  t.deepEqual(parsed, [bindRegx('g', 't', 'a.*', 5, false)])
  t.deepEqual(bindingsFromJson('null'), [])
  t.throws(() => bindingsFromJson('[{"topic":"t"}]'), { code: 'KITEQ_ERR_INVALID_ARGUMENT' } as never)
  t.throws(() => bindingsFromJson('{'), { code: 'KITEQ_ERR_INVALID_ARGUMENT' } as never)
})

test('matching: Direct exact, Regx unanchored like Go RE2, Fanout everything, invalid pattern never', (t) => {
  t.true(bindingMatches(bindDirect('g', 't', 'pay'), 'pay'))
  t.false(bindingMatches(bindDirect('g', 't', 'pay'), 'pay-succ'))
  t.true(bindingMatches(bindRegx('g', 't', 'pay'), 'order-pay-succ'), 'unanchored: a substring matches')
  t.false(bindingMatches(bindRegx('g', 't', '^pay$'), 'pay-succ'))
  t.true(bindingMatches(bindRegx('g', 't', '(?i)PAY'), 'pay'))
  t.true(bindingMatches(bindRegx('g', 't', 'pay-(succ|fail)'), 'pay-fail'))
  t.true(bindingMatches(bindFanout('g', 't'), 'anything'))
  const warnings: unknown[] = []
  const logger = { warn: (o: unknown) => warnings.push(o) } as never
  t.false(bindingMatches(bindRegx('g', 't', 'pay(['), 'pay(', logger))
  t.is(warnings.length, 1)
})

test('exchanger: one route per group, succeeded groups excluded, sources merged', (t) => {
  const ex = new Exchanger()
  ex.setBindings('registry', 'trade', 'a', [bindDirect('x', 'trade', 'pay'), bindRegx('x', 'trade', 'pa')])
  ex.setBindings('client', 'trade', 'b', [bindFanout('b', 'trade')])
  ex.setBindings('client', 'trade', 'c', [bindDirect('c', 'trade', 'refund')])
  t.deepEqual(ex.routes('trade', 'pay').map((r) => r.groupId).sort(), ['a', 'b'])
  t.is(ex.routes('trade', 'pay')[0].binding.groupId, 'a', 'groupId is the group it was set for')
  t.deepEqual(ex.routes('trade', 'pay', ['a']).map((r) => r.groupId), ['b'])
  t.deepEqual(ex.routes('other', 'pay'), [])
  ex.setBindings('client', 'trade', 'b', [])
  t.deepEqual(ex.routes('trade', 'pay').map((r) => r.groupId), ['a'])
  ex.replaceTopic('registry', 'trade', [])
  t.deepEqual(ex.routes('trade', 'refund').map((r) => r.groupId), ['c'])
})

test('exchanger: remembered routes follow binding changes, exclusions and more message types than it remembers', (t) => {
  const ex = new Exchanger()
  ex.setBindings('s', 't', 'even', [bindRegx('even', 't', '[02468]$')])
  ex.setBindings('s', 't', 'all', [bindFanout('all', 't')])
  const expected = (type: string) => (/[02468]$/.test(type) ? ['all', 'even'] : ['all'])
  // three passes over 3 000 types (past the 1 024 remembered per topic): answers never go stale
  for (let pass = 0; pass < 3; pass++) {
    for (let i = 0; i < 3000; i++) {
      const type = `type-${i}`
      t.deepEqual(ex.routes('t', type).map((r) => r.groupId).sort(), expected(type))
      if (i % 100 === 0) t.deepEqual(ex.routes('t', type, ['all']).map((r) => r.groupId), expected(type).filter((g) => g !== 'all'))
    }
  }
  t.deepEqual(ex.routes('t', 'type-2').map((r) => r.groupId).sort(), ['all', 'even'], 'an exclusion left the remembered routes whole')
  t.is(ex.routes('t', 'type-2').find((r) => r.groupId === 'all')!.limiter?.ratePerSecond, 1000, 'the default watermark')
  ex.setBindings('s', 't', 'all', [bindFanout('all', 't', 5)])
  t.is(ex.routes('t', 'type-2').find((r) => r.groupId === 'all')!.limiter?.ratePerSecond, 5, 'a new watermark is seen at once')
  ex.setBindings('s', 't', 'even', [])
  t.deepEqual(ex.routes('t', 'type-2').map((r) => r.groupId), ['all'], 'a removed group is not routed to any more')
})

test('exchanger: the watermark gives the group a limiter; ≤ 0 means none', (t) => {
  const ex = new Exchanger()
  ex.setBindings('s', 't', 'limited', [bindFanout('limited', 't', 10)])
  ex.setBindings('s', 't', 'free', [bindFanout('free', 't', 0)])
  const routes = Object.fromEntries(ex.routes('t', 'm').map((r) => [r.groupId, r.limiter]))
  t.is(routes.limited?.ratePerSecond, 10)
  t.is(routes.free, undefined)
})

test('token bucket: burst, then waits exactly until the next token', (t) => {
  const bucket = new TokenBucket(10, 2, 0)
  t.is(bucket.tryTake(0), 0)
  t.is(bucket.tryTake(0), 0)
  t.is(bucket.tryTake(0), 100)
  t.is(bucket.tryTake(50), 50)
  t.is(bucket.tryTake(100), 0)
})

const yaml = `
brokers:
  - { address: "127.0.0.1:13800", topics: [user-profile, trade], env: dev }
  - { address: "127.0.0.1:13801", topics: [trade] }
bindings:
  - { groupIds: [s-mts-test, s-other], topic: trade, messageType: pay-succ, bindType: direct, watermark: 1000, persistent: true }
  - { groupIds: [s-fan], topic: trade, bindType: FANOUT, watermark: 0, persistent: false }
  - { groupIds: [s-re], topic: trade, messageType: "pay.*", bindType: regx }
`

test('file registry YAML: brokers per topic (unsorted lists work), bindings per group', (t) => {
  const doc = parseRegistryYaml(yaml)
  t.deepEqual(doc.brokers.map((b) => b.address), ['127.0.0.1:13800', '127.0.0.1:13801'])
  t.is(doc.bindings.length, 4)
  t.deepEqual(doc.bindings[2], bindFanout('s-fan', 'trade', 0, false))
  t.is(doc.bindings[3].bindType, BindType.REGX)
  t.throws(() => parseRegistryYaml('brokers: [{address: a}, {address: a}]'), { code: 'KITEQ_ERR_CONFIG', message: /listed twice/ } as never)
})

test('file registry: a change written between loading and watching is still picked up', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kiteq-reg-'))
  const path = join(dir, 'registry.yaml')
  writeFileSync(path, yaml)
  const registry = new FileRegistry(path, { pollIntervalMs: 20 })
  // before the poller's first look: comparing with that look alone, this change is never seen
  writeFileSync(path, yaml.replace('topics: [trade] }', 'topics: [trade, feed] }') + '\n')
  const changed = new Promise((resolve) => registry.once('change', resolve))
  registry.watch()
  const keepAlive = setInterval(() => {}, 1000)
  const missed = new Promise((resolve) => setTimeout(() => resolve('missed'), 3000))
  t.not(await Promise.race([changed, missed]), 'missed', 'no change event within 3 s')
  t.deepEqual(registry.brokersFor('feed'), ['127.0.0.1:13801'])
  registry.stopWatching()
  clearInterval(keepAlive)
})

test('file registry: re-read when the file changes', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kiteq-reg-'))
  const path = join(dir, 'registry.yaml')
  writeFileSync(path, yaml)
  const registry = new FileRegistry(path, { pollIntervalMs: 20 })
  t.deepEqual(registry.brokersFor('user-profile'), ['127.0.0.1:13800'])
  t.deepEqual(registry.brokersFor('trade'), ['127.0.0.1:13800', '127.0.0.1:13801'])
  registry.watch()
  const keepAlive = setInterval(() => {}, 1000) // the watcher itself never holds the process open
  const changed = new Promise((resolve) => registry.once('change', resolve))
  writeFileSync(path, yaml.replace('topics: [trade] }', 'topics: [trade, feed] }') + '\n')
  await changed
  t.deepEqual(registry.brokersFor('feed'), ['127.0.0.1:13801'])
  registry.stopWatching()
  clearInterval(keepAlive)
})
