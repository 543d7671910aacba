/**
 * The web console in a real browser: Debian's headless Chromium (installed by scripts/chromium.sh
 * when missing) driven by playwright-core. Live numbers while a producer runs, trend charts, a
 * message lookup, reschedule and cancel of a scheduled message, a dead letter re-driven, the
 * bindings; nothing loaded from another origin, no script errors. Screenshots go to
 * test-artifacts/console/.
 */
import test from 'ava'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type BrowserContext, type Page } from 'playwright-core'
import { bindDirect } from '../../binding/binding.ts'
import { instrumentStore } from '../../stat/instrument-store.ts'
import { BrokerMetrics } from '../../stat/metrics.ts'
import { startOperatorView } from '../../stat/operator-view.ts'
import { MemoryStore } from '../../store/memory-store.ts'
import { randomName, startBroker } from '../helpers/broker.ts'
import { eventually, startConsumer, startProducer } from '../helpers/clients.ts'

const CHROMIUM = '/usr/bin/chromium'
const TOKEN = 'console-test-token'
const root = join(import.meta.dirname, '..', '..')
const artifacts = join(root, 'test-artifacts', 'console')

function ensureChromium(): void {
  if (existsSync(CHROMIUM)) return
  const run = spawnSync('bash', [join(root, 'scripts', 'chromium.sh')], { encoding: 'utf8' })
  if (run.status !== 0 || !existsSync(CHROMIUM)) throw new Error(`scripts/chromium.sh could not install ${CHROMIUM}:\n${run.stderr}`)
}

async function launch(): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  const profile = mkdtempSync(join(tmpdir(), 'kiteq-chromium-'))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 860 },
  })
  return {
    context,
    async close() {
      await context.close()
      rmSync(profile, { recursive: true, force: true })
    },
  }
}

const numberIn = async (page: Page, selector: string) => Number((await page.textContent(selector))?.replace(/[^\d]/g, '') || NaN)

/** 'YYYY-MM-DDTHH:MM' in local time, as a datetime-local input takes it. */
function localMinute(ms: number): string {
  const d = new Date(ms)
  const p = (n: number) => String(n).padStart(2, '0')
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`
}

test('the console: live overview, trends, lookup, reschedule and cancel, re-drive, bindings', async (t) => {
  ensureChromium()
  mkdirSync(artifacts, { recursive: true })
  const topic = randomName('orders')
  const group = randomName('billing')
  const producerGroup = randomName('shop')
  const metrics = new BrokerMetrics({ processMetrics: false })
  const broker = await startBroker({ topics: [topic], store: instrumentStore(new MemoryStore(), metrics) })
  t.teardown(() => broker.server.stop())
  const view = await startOperatorView({
    broker: broker.server, host: '127.0.0.1', port: 0, metrics, adminToken: TOKEN, sampleIntervalMs: 250, snapshotIntervalMs: 400,
  })
  t.teardown(() => view.close())
  const consumer = await startConsumer({
    address: broker.address, group, bindings: [bindDirect(group, topic, 'order', 2000)],
    decide: (m, attempt) => m.body !== 'poison' || attempt > 1,
  })
  t.teardown(() => consumer.client.close())
  const producer = await startProducer(broker.address, producerGroup, [topic])
  t.teardown(() => producer.close())

  const scheduled = (await producer.sendStringMessage({ topic, messageType: 'order', body: '{"order":42}', deliverAt: Date.now() + 3600_000 })).messageId
  const poison = (await producer.sendStringMessage({ topic, messageType: 'order', body: 'poison', deliverLimit: 1 })).messageId
  await eventually(async () => (await broker.server.listDeadLetters()).length === 1, 10_000, 'the poison message dead-lettered')

  const browser = await launch()
  t.teardown(() => browser.close())
  const page = await browser.context.newPage()
  const problems: string[] = []
  page.on('request', (r) => {
    if (!r.url().startsWith(view.url) && !r.url().startsWith('data:')) problems.push(`request to another origin: ${r.url()}`)
  })
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`))
  // failed responses are checked one by one below; the browser also logs each as a console error
  const failed: string[] = []
  page.on('response', (r) => {
    if (r.status() >= 400) failed.push(`${r.status()} ${r.url().slice(view.url.length)}`)
  })
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.push(`console error: ${m.text()}`)
  })
  page.on('dialog', (d) => void d.accept())

  // ---- overview: the numbers move while a producer runs
  await page.goto(`${view.url}/#overview`)
  await page.fill('#token', TOKEN)
  await page.click('#token-form button')
  await page.waitForSelector('#token-state >> text=admin token accepted')
  await eventually(async () => (await numberIn(page, '#stat-received')) === 2, 10_000, 'the first numbers on the page')
  let producing = true
  const producing$ = (async () => {
    for (let i = 0; producing; i++) await producer.sendStringMessage({ topic, messageType: 'order', body: `{"order":${i}}` })
  })()
  try {
    await eventually(async () => (await numberIn(page, '#stat-received')) >= 50, 20_000, 'received count rising on the page')
    await eventually(async () => Number.parseFloat((await page.textContent('#rate-received')) ?? '') > 0, 10_000, 'a receive rate on the page')
    await page.waitForSelector(`#groups-table >> text=${group}`)
    await page.screenshot({ path: join(artifacts, 'overview.png'), fullPage: true })
  } finally {
    producing = false
    await producing$
  }

  // ---- trends: uPlot charts per topic and per producer group, from the snapshots
  await eventually(async () => (await broker.server.store.listSnapshots(0)).length >= 3, 10_000, 'three snapshots')
  await page.goto(`${view.url}/#trends`)
  await page.waitForSelector('#chart-topics canvas')
  t.true((await page.textContent('#chart-topics .u-legend'))!.includes(topic))
  t.true((await page.textContent('#chart-groups .u-legend'))!.includes(producerGroup))
  await page.screenshot({ path: join(artifacts, 'trends.png'), fullPage: true })

  // ---- lookup, reschedule, cancel
  await page.goto(`${view.url}/#messages`)
  await page.fill('#lookup-id', scheduled)
  await page.click('#lookup-form button')
  await page.waitForSelector(`#message-details >> text=${scheduled}`)
  t.is(await page.textContent('#message-details .state'), 'live')
  t.is(await page.textContent(`#message-groups >> text=${group} >> xpath=../td[2]`), 'pending')
  const later = localMinute(Date.now() + 2 * 3600_000)
  await page.fill('#reschedule-at', later)
  await page.click('#reschedule-message')
  await page.waitForSelector('#toast >> text=reschedule: rescheduled')
  t.is((await broker.server.store.get(topic, scheduled))?.deliverAtMs, new Date(later).getTime())
  await page.screenshot({ path: join(artifacts, 'message.png'), fullPage: true })
  await page.click('#cancel-message')
  await page.waitForSelector('#message-missing')
  t.is(await broker.server.store.get(topic, scheduled), undefined, 'cancelled: gone from the store')

  // ---- dead letters: re-drive, then the consumer has it
  await page.goto(`${view.url}/#dead-letters`)
  await page.waitForSelector(`#dead-table >> text=${poison}`)
  await page.screenshot({ path: join(artifacts, 'dead-letters.png'), fullPage: true })
  await page.click(`button[data-redrive="${poison}"]`)
  await page.waitForSelector('#toast >> text=re-drive: redriven')
  await eventually(() => consumer.received.some((m) => m.messageId === poison), 10_000, 'the re-driven message delivered')
  await page.waitForSelector('#dead-table >> text=no dead letters')

  // ---- bindings
  await page.goto(`${view.url}/#bindings`)
  await page.waitForSelector(`#bindings-table >> text=${group}`)
  t.true((await page.textContent('#bindings-table'))!.includes('direct'))
  await page.screenshot({ path: join(artifacts, 'bindings.png'), fullPage: true })

  t.deepEqual(problems, [])
  t.deepEqual(failed, [`404 /api/messages/${scheduled}`], 'only the lookup after the cancel found nothing')
})
