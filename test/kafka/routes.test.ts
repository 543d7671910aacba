import test from 'ava'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { BindType, bindingMatches } from '../../binding/binding.ts'
import { kafkaFromFlags } from '../../kafka/flags.ts'
import { escapeRoute, kafkaGroups, parseKafkaRoutes, RouteMatch } from '../../kafka/routes.ts'
import { parseCli } from '../../kiteq.ts'

test('route syntax: fanout, direct, regx (prefixed and bare), watermark, escaped comma', (t) => {
  const routes = parseKafkaRoutes('trade:kiteq.trade, feed/pay-.*:kiteq.pay,feed/=pay-succ:kiteq.succ@500,x/~^a{1\\,3}:k:y:kx,y/*:ky')
  t.deepEqual(routes, [
    { kiteqTopic: 'trade', match: RouteMatch.FANOUT, messageType: '*', kafkaTopic: 'kiteq.trade', watermark: 0 },
    { kiteqTopic: 'feed', match: RouteMatch.REGX, messageType: 'pay-.*', kafkaTopic: 'kiteq.pay', watermark: 0 },
    { kiteqTopic: 'feed', match: RouteMatch.DIRECT, messageType: 'pay-succ', kafkaTopic: 'kiteq.succ', watermark: 500 },
    { kiteqTopic: 'x', match: RouteMatch.REGX, messageType: '^a{1,3}:k:y', kafkaTopic: 'kx', watermark: 0 },
    { kiteqTopic: 'y', match: RouteMatch.FANOUT, messageType: '*', kafkaTopic: 'ky', watermark: 0 },
  ])
})

test('routes become bound groups kafka:<topic> that match like any binding', (t) => {
  const groups = kafkaGroups(parseKafkaRoutes('feed/=pay-succ:k1,feed/~^pay-:k2,trade/=a:k2,trade:k3'))
  t.deepEqual(groups.map((g) => g.groupId), ['kafka:k1', 'kafka:k2', 'kafka:k3'])
  const [k1, k2, k3] = groups
  t.is(k1.bindings[0].bindType, BindType.DIRECT)
  t.true(bindingMatches(k1.bindings[0], 'pay-succ'))
  t.false(bindingMatches(k1.bindings[0], 'pay-succeeded'))
  t.deepEqual(k2.bindings.map((b) => [b.topic, b.bindType, b.messageType]), [['feed', BindType.REGX, '^pay-'], ['trade', BindType.DIRECT, 'a']])
  t.true(bindingMatches(k2.bindings[0], 'pay-fail'))
  t.false(bindingMatches(k2.bindings[0], 'xpay-fail'))
  t.is(k3.bindings[0].bindType, BindType.FANOUT)
  for (const g of groups) for (const b of g.bindings) {
    t.is(b.groupId, g.groupId)
    t.is(b.watermark, 0, 'no limit unless the route says so')
    t.true(b.persistent)
  }
})

for (const [spec, pattern] of [
  ['trade', /'trade' is not topic\[\/selector\]:kafkaTopic/],
  [':k', /':k' is not/],
  ['trade:', /names Kafka topic ''/],
  ['trade:bad topic', /names Kafka topic 'bad topic'/],
  ['trade:k@x', /watermark 'x'/],
  ['trade:k@-1', /watermark '-1'/],
  ['trade/=:k', /empty messageType after "="/],
  ['trade/~:k', /empty messageType pattern/],
  ['trade/~(unclosed:k', /invalid pattern '\(unclosed'/],
  ['trade:k,trade:k', /given twice/],
  ['a:k@1,b:k@2', /different watermarks/],
] as const) {
  test(`a bad route is a config error: ${spec}`, (t) => {
    const err = t.throws(() => parseKafkaRoutes(spec))
    t.is((err as { code?: string }).code, 'KITEQ_ERR_CONFIG')
    t.regex(err!.message, pattern)
  })
}

test('flags: both or neither, brokers are host:port, routed topics must be served', (t) => {
  t.is(kafkaFromFlags({ kafka: '', kafkaRoutes: '' }, ['a']), undefined)
  t.deepEqual(kafkaFromFlags({ kafka: '127.0.0.1:9093, h:1', kafkaRoutes: 'a:k' }, ['a'])?.brokers, ['127.0.0.1:9093', 'h:1'])
  t.throws(() => kafkaFromFlags({ kafka: '127.0.0.1:9093', kafkaRoutes: '' }, ['a']), { message: /-kafka needs -kafkaRoutes/ })
  t.throws(() => kafkaFromFlags({ kafka: '', kafkaRoutes: 'a:k' }, ['a']), { message: /-kafkaRoutes needs -kafka/ })
  t.throws(() => kafkaFromFlags({ kafka: 'nohost', kafkaRoutes: 'a:k' }, ['a']), { message: /-kafka 'nohost' is not host:port/ })
  t.throws(() => kafkaFromFlags({ kafka: 'h:1', kafkaRoutes: 'b:k' }, ['a']), { message: /topic 'b' is not served/ })
})

test('config file: routes as a list, one per entry (commas in patterns need no escaping)', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kiteq-kafka-cli-'))
  const config = join(dir, 'kiteq.yaml')
  writeFileSync(config, 'topics: [feed, trade]\nkafka: [127.0.0.1:9093, 127.0.0.1:9094]\nkafkaRoutes:\n  - trade:kiteq.trade\n  - "feed/~^pay-.{1,3}$:kiteq.pay"\n')
  const o = parseCli([`-config=${config}`], {})
  t.is(o.kafka, '127.0.0.1:9093,127.0.0.1:9094')
  t.deepEqual(parseKafkaRoutes(o.kafkaRoutes).map((r) => r.messageType), ['*', '^pay-.{1,3}$'])
  t.is(escapeRoute('a/~x{1,2}:k'), 'a/~x{1\\,2}:k')
})

test('a bad route stops the CLI with one line', (t) => {
  const entry = fileURLToPath(new URL('../../kiteq.ts', import.meta.url))
  const r = spawnSync(process.execPath, [`--import=${import.meta.resolve('tsx')}`, entry, '-topics=trade', '-kafka=127.0.0.1:9093', '-kafkaRoutes=trade/~(:k'], { encoding: 'utf8', timeout: 20_000 })
  t.is(r.status, 2)
  const lines = r.stderr.trim().split('\n')
  t.is(lines.length, 1, r.stderr)
  t.regex(lines[0], /^kiteq: -kafkaRoutes: 'trade\/~\(:k' has an invalid pattern '\('.*\[KITEQ_ERR_CONFIG\]$/)
})
