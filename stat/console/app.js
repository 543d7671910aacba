// @ts-check
/**
 * The KiteQ web console: five pages over the broker's JSON API (/api/*), no framework. Everything
 * a page shows comes from the same endpoints a script would call. Text from the broker (topics,
 * groups, message bodies) only ever reaches the page as text nodes, never as HTML.
 */

const TOKEN_KEY = 'kiteq.adminToken'
const OVERVIEW_POLL_MS = 1000
const PALETTE = ['#2f6fdb', '#d9822b', '#23834a', '#c23b3b', '#7b52c4', '#1a9aa0', '#8a6200', '#c2408f', '#4b5563', '#5f8f1f']

// ------------------------------------------------------------------------------------ helpers

/**
 * @param {string} tag
 * @param {Record<string, string | boolean | ((e: Event) => void)>} [attrs]
 * @param {...(Node | string | number | null | undefined)} children
 * @returns {HTMLElement}
 */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (typeof v === 'function') el.addEventListener(k.replace(/^on/, ''), v)
    else if (v === true) el.setAttribute(k, '')
    else if (v !== false) el.setAttribute(k, v)
  }
  for (const c of children) if (c !== null && c !== undefined) el.append(typeof c === 'number' ? String(c) : c)
  return el
}

/** @param {string} id */
const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id))

/** @param {number | undefined} n */
const fmt = (n) => (n === undefined || n === null ? '–' : Math.round(n).toLocaleString('en-US'))
/** @param {number} n */
const fmtRate = (n) => (n >= 10 ? Math.round(n).toLocaleString('en-US') : n.toFixed(1))
/** @param {number} ms */
const fmtTime = (ms) => (ms > 0 ? new Date(ms).toLocaleString() : '–')

/** @param {string} state */
const stateBadge = (state) => h('span', { class: `state state-${state}` }, state)

/**
 * A table with a header row; `rows` empty shows `empty` in one cell.
 * @param {HTMLElement} table
 * @param {string[]} head
 * @param {(Node | string | number)[][]} rows
 * @param {string} [empty]
 */
function fillTable(table, head, rows, empty = 'none') {
  table.replaceChildren(
    h('thead', {}, h('tr', {}, ...head.map((t) => h('th', {}, t)))),
    h('tbody', {}, ...(rows.length === 0
      ? [h('tr', {}, h('td', { colspan: String(head.length), class: 'empty' }, empty))]
      : rows.map((r) => h('tr', {}, ...r.map((c) => h('td', typeof c === 'number' ? { class: 'num' } : {}, typeof c === 'number' ? fmt(c) : c)))))),
  )
}

/**
 * A two-column table of labels and values.
 * @param {string} id
 * @param {[string, Node | string][]} rows
 */
function keyValueTable(id, rows) {
  return h('table', { id, class: 'kv' }, h('tbody', {}, ...rows.map(([k, v]) => h('tr', {}, h('th', {}, k), h('td', {}, v)))))
}

/** @param {number} ms */
const fmtInterval = (ms) => (ms >= 60_000 ? `${fmt(ms / 60_000)} min` : `${fmt(ms / 1000)} s`)

let toastTimer = 0
/** @param {string} text @param {boolean} [isError] */
function toast(text, isError = false) {
  const el = $('toast')
  el.textContent = text
  el.className = isError ? 'error' : ''
  el.hidden = false
  clearTimeout(toastTimer)
  toastTimer = window.setTimeout(() => { el.hidden = true }, 6000)
}

class ApiError extends Error {
  /** @param {number} status @param {string} message @param {string | undefined} code */
  constructor(status, message, code) {
    super(message)
    this.status = status
    this.code = code
  }
}

/**
 * @param {string} path
 * @param {{ method?: string, body?: unknown }} [options]
 * @returns {Promise<any>}
 */
async function api(path, options = {}) {
  /** @type {Record<string, string>} */
  const headers = {}
  const token = sessionStorage.getItem(TOKEN_KEY)
  if (token) headers.authorization = `Bearer ${token}`
  if (options.body !== undefined) headers['content-type'] = 'application/json'
  const res = await fetch(path, {
    method: options.method ?? 'GET',
    headers,
    ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
  })
  const data = await res.json().catch(() => ({}))
  if (!res.ok) throw new ApiError(res.status, data.error ?? `${res.status} ${res.statusText}`, data.code)
  return data
}

/** @param {unknown} err */
const errorText = (err) => (err instanceof ApiError ? `${err.message}${err.code ? ` [${err.code}]` : ''}` : String(err))

/**
 * Runs an admin action and reports its outcome.
 * @param {string} what
 * @param {() => Promise<any>} action
 * @param {() => void} [after]
 */
async function adminAction(what, action, after) {
  try {
    const result = await action()
    toast(`${what}: ${result.feedback ?? result.result ?? 'done'}`)
    after?.()
  } catch (err) {
    toast(`${what} refused: ${errorText(err)}`, true)
  }
}

// ------------------------------------------------------------------------------------ pages

/** @typedef {{ show(arg?: string): void, hide(): void }} Page */

/** @type {Page} */
const overviewPage = (() => {
  let timer = 0
  async function refresh() {
    try {
      const o = await api('/api/overview')
      $('stat-received').textContent = fmt(o.totals.received)
      $('rate-received').textContent = `${fmtRate(o.rates.receivedPerSecond)}/s`
      $('stat-delivered').textContent = fmt(o.totals.delivered)
      $('rate-delivered').textContent = `${fmtRate(o.rates.deliveredPerSecond)}/s`
      $('stat-pending').textContent = fmt(o.pendingTotal)
      $('stat-scheduled').textContent = fmt(o.scheduledInMemory)
      $('stat-uncommitted').textContent = fmt(o.uncommitted)
      $('stat-dead').textContent = fmt(o.deadLetters)
      $('stat-failed').textContent = `${fmt(o.totals.failed)} / ${fmt(o.totals.retried)}`
      $('stat-connections').textContent = fmt(o.connections)
      const topics = [...new Set([...o.topics, ...Object.keys(o.receivedByTopic)])].sort()
      fillTable($('topics-table'), ['topic', 'received/s', 'delivered/s', 'pending', 'received', 'delivered', 'delay lateness p99'],
        topics.map((t) => [
          t, fmtRate(o.rates.receivedPerSecondByTopic[t] ?? 0), fmtRate(o.rates.deliveredPerSecondByTopic[t] ?? 0),
          o.pendingByTopic[t] ?? 0, o.receivedByTopic[t] ?? 0, o.deliveredByTopic[t] ?? 0,
          o.delayLatenessByTopic[t] ? `${fmt(o.delayLatenessByTopic[t].p99Ms)} ms` : '–',
        ]))
      fillTable($('groups-table'), ['group', 'connections', 'remote addresses'],
        Object.entries(o.groups).sort().map(([g, remotes]) => [g, remotes.length, h('span', { class: 'mono' }, remotes.join(', '))]),
        'no group connected')
      fillTable($('producers-table'), ['producer group', 'received'],
        Object.entries(o.receivedByGroup).sort().map(([g, n]) => [g, /** @type {number} */ (n)]), 'nothing received yet')
      $('overview-footer').textContent = `store ${o.store} · up ${fmt(o.uptimeSeconds)} s · updated ${new Date().toLocaleTimeString()}`
    } catch (err) {
      $('overview-footer').textContent = `not updated: ${errorText(err)}`
    }
  }
  return {
    show() {
      void refresh()
      timer = window.setInterval(() => void refresh(), OVERVIEW_POLL_MS)
    },
    hide() {
      clearInterval(timer)
    },
  }
})()

/** @type {Page} */
const trendsPage = (() => {
  /** @type {{ destroy(): void }[]} */
  let charts = []

  /**
   * @param {HTMLElement} el
   * @param {string} title
   * @param {number[]} atMs
   * @param {Record<string, number[]>} series
   */
  function chart(el, title, atMs, series) {
    const keys = Object.keys(series).sort()
    el.replaceChildren()
    if (atMs.length === 0 || keys.length === 0) {
      el.append(h('h2', {}, title), h('p', { class: 'empty' }, 'no data yet'))
      return
    }
    /** @type {any} */
    const uPlot = /** @type {any} */ (window).uPlot
    if (typeof uPlot !== 'function') {
      el.append(h('h2', {}, title), h('p', { class: 'empty' }, 'chart library not loaded'))
      return
    }
    const opts = {
      title,
      width: Math.max(320, el.clientWidth - 16),
      height: 220,
      series: [{}, ...keys.map((k, i) => ({ label: k, stroke: PALETTE[i % PALETTE.length], width: 2 }))],
      axes: [{}, { size: 70 }],
    }
    charts.push(new uPlot(opts, [atMs.map((ms) => ms / 1000), ...keys.map((k) => series[k])], el))
  }

  async function refresh() {
    const hours = /** @type {HTMLSelectElement} */ ($('trend-hours')).value
    try {
      const t = await api(`/api/trends?hours=${encodeURIComponent(hours)}`)
      for (const c of charts) c.destroy()
      charts = []
      chart($('chart-topics'), 'Received per minute, by topic', t.atMs, t.receivedPerMinuteByTopic)
      chart($('chart-delivered'), 'Delivered per minute, by topic', t.atMs, t.deliveredPerMinuteByTopic)
      chart($('chart-groups'), 'Received per minute, by producer group', t.atMs, t.receivedPerMinuteByGroup)
      chart($('chart-pending'), 'Pending messages, by topic', t.atMs, t.pendingByTopic)
      $('trend-note').textContent = `${t.atMs.length} points · one snapshot every ${fmtInterval(t.snapshotIntervalMs)}, kept 7 days`
    } catch (err) {
      $('trend-note').textContent = `not loaded: ${errorText(err)}`
    }
  }
  $('trend-refresh').addEventListener('click', () => void refresh())
  $('trend-hours').addEventListener('change', () => void refresh())
  return { show: () => void refresh(), hide() {} }
})()

/** @type {Page} */
const messagesPage = (() => {
  const view = $('message-view')
  const input = /** @type {HTMLInputElement} */ ($('lookup-id'))

  /** @param {any} m */
  function render(m) {
    /** @type {[string, Node | string][]} */
    const rows = [
      ['message id', h('span', { class: 'mono' }, m.messageId)],
      ['state', stateBadge(m.state)],
      ['topic', m.topic], ['message type', m.messageType], ['publisher group', m.publishGroup],
      ['created', fmtTime(m.createdAtMs)], ['deliver at', m.deliverAtMs > 0 ? fmtTime(m.deliverAtMs) : 'now'],
      ['next attempt', fmtTime(m.nextDeliverAtMs)], ['expires', fmtTime(m.expiresAtMs)],
      ['deliveries', `${m.deliverCount} of ${m.deliverLimit}`],
    ]
    if (m.deadLetter) rows.push(['dead since', fmtTime(m.deadLetter.deadAtMs)], ['reason', m.deadLetter.reason])
    const details = keyValueTable('message-details', rows)
    const groups = h('table', { id: 'message-groups' })
    fillTable(groups, ['group', 'delivery'], Object.entries(m.groups).sort().map(([g, s]) => [g, stateBadge(/** @type {string} */ (s))]), 'no group bound')
    const body = m.body.encoding === 'snappy'
      ? h('p', { class: 'muted' }, `${fmt(m.body.bytes)} bytes, snappy-compressed`)
      : h('pre', { class: 'body' }, m.body.preview + (m.body.truncated ? `\n… (${fmt(m.body.bytes)} bytes)` : ''))
    const actions = h('div', { class: 'toolbar', id: 'message-actions' })
    if (m.changeable) {
      const when = /** @type {HTMLInputElement} */ (h('input', { type: 'datetime-local', id: 'reschedule-at', 'aria-label': 'new delivery time' }))
      const base = '/api/messages/' + encodeURIComponent(m.topic) + '/' + encodeURIComponent(m.messageId)
      actions.append(
        h('button', { type: 'button', class: 'danger', id: 'cancel-message', onclick: () => {
          if (confirm(`Cancel message ${m.messageId}? It will not be delivered.`)) {
            void adminAction('cancel', () => api(`${base}/cancel`, { method: 'POST' }), () => void lookup(m.messageId))
          }
        } }, 'Cancel message'),
        when,
        h('button', { type: 'button', class: 'primary', id: 'reschedule-message', onclick: () => {
          if (!when.value) return toast('pick a new delivery time first', true)
          const deliverAt = new Date(when.value).getTime()
          void adminAction('reschedule', () => api(`${base}/reschedule`, { method: 'POST', body: { deliverAt } }), () => void lookup(m.messageId))
        } }, 'Reschedule'),
      )
    } else if (m.state === 'dead') {
      actions.append(redriveButton(m.topic, m.messageId, () => void lookup(m.messageId)))
    }
    view.replaceChildren(details, h('h2', {}, 'Delivery per group'), groups, actions, h('h2', {}, 'Body'), body)
  }

  /** @param {string} id */
  async function lookup(id) {
    if (!id) return
    try {
      render(await api(`/api/messages/${encodeURIComponent(id)}`))
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) view.replaceChildren(h('p', { id: 'message-missing' }, `No message ${id} on this broker: it was delivered to every group, cancelled, or never here.`))
      else view.replaceChildren(h('p', { class: 'error' }, errorText(err)))
    }
  }

  $('lookup-form').addEventListener('submit', (e) => {
    e.preventDefault()
    const id = input.value.trim()
    if (location.hash !== `#messages/${id}`) location.hash = `#messages/${id}`
    else void lookup(id)
  })
  return {
    show(arg) {
      if (arg) {
        input.value = arg
        void lookup(arg)
      }
    },
    hide() {},
  }
})()

/**
 * @param {string} topic
 * @param {string} messageId
 * @param {() => void} after
 */
function redriveButton(topic, messageId, after) {
  const path = `/api/dead-letters/${encodeURIComponent(topic)}/${encodeURIComponent(messageId)}/redrive`
  return h('button', { type: 'button', class: 'primary', 'data-redrive': messageId, onclick: () =>
    void adminAction('re-drive', () => api(path, { method: 'POST' }), after) }, 'Re-drive')
}

/** @type {Page} */
const deadLettersPage = (() => {
  /** @type {any[]} */
  let items = []
  /** @type {string | null} */
  let next = null

  /** @param {boolean} more */
  async function load(more) {
    const topic = /** @type {HTMLInputElement} */ ($('dead-topic')).value.trim()
    const query = new URLSearchParams({ limit: '50' })
    if (topic) query.set('topic', topic)
    if (more && next) query.set('after', next)
    try {
      const page = await api(`/api/dead-letters?${query}`)
      items = more ? [...items, ...page.items] : page.items
      next = page.next
      render()
    } catch (err) {
      toast(`dead letters not loaded: ${errorText(err)}`, true)
    }
  }

  function render() {
    fillTable($('dead-table'), ['message id', 'topic', 'type', 'publisher', 'reason', 'dead since', 'deliveries', ''],
      items.map((d) => [
        h('a', { href: `#messages/${d.messageId}`, class: 'mono' }, d.messageId), d.topic, d.messageType, d.publishGroup,
        d.reason, fmtTime(d.deadAtMs), d.deliverCount, redriveButton(d.topic, d.messageId, () => void load(false)),
      ]), 'no dead letters')
    $('dead-more').hidden = next === null
  }

  $('dead-form').addEventListener('submit', (e) => {
    e.preventDefault()
    void load(false)
  })
  $('dead-more').addEventListener('click', () => void load(true))
  return { show: () => void load(false), hide() {} }
})()

/** @type {Page} */
const bindingsPage = {
  show() {
    api('/api/bindings').then(
      (b) => {
        /** @type {(Node | string | number)[][]} */
        const rows = []
        for (const t of b.topics) {
          if (t.groups.length === 0) rows.push([t.topic, t.served ? 'served' : 'not served', '–', '', '', '', '', ''])
          for (const g of t.groups) {
            for (const bind of g.bindings) {
              rows.push([t.topic, t.served ? 'served' : 'not served', g.groupId, bind.bindType, h('span', { class: 'mono' }, bind.messageType),
                bind.watermark > 0 ? bind.watermark : 'no limit', bind.persistent ? 'yes' : 'no',
                g.connections.length > 0 ? h('span', { class: 'mono' }, g.connections.join(', ')) : h('span', { class: 'muted' }, 'offline')])
            }
          }
        }
        fillTable($('bindings-table'), ['topic', '', 'group', 'bind type', 'message type', 'deliveries/s', 'persistent', 'connections'], rows, 'no topics')
      },
      (err) => toast(`bindings not loaded: ${errorText(err)}`, true),
    )
  },
  hide() {},
}

// ------------------------------------------------------------------------------------ shell

/** @type {Record<string, Page>} */
const pages = { overview: overviewPage, trends: trendsPage, messages: messagesPage, 'dead-letters': deadLettersPage, bindings: bindingsPage }
/** @type {string | undefined} */
let current

function route() {
  const [name, ...rest] = location.hash.replace(/^#/, '').split('/')
  const next = name in pages ? name : 'overview'
  if (current !== undefined) {
    pages[current].hide()
    $(`page-${current}`).hidden = true
  }
  current = next
  $(`page-${next}`).hidden = false
  for (const a of document.querySelectorAll('nav a')) a.classList.toggle('active', a.getAttribute('data-nav') === next)
  pages[next].show(rest.length > 0 ? decodeURIComponent(rest.join('/')) : undefined)
}

async function showAccess() {
  try {
    const a = await api('/api/access')
    $('token-state').textContent = !a.adminEnabled
      ? 'admin actions disabled (no -adminToken)'
      : a.tokenAccepted ? 'admin token accepted' : 'read-only: enter the admin token for actions'
  } catch (err) {
    $('token-state').textContent = errorText(err)
  }
}

$('token-form').addEventListener('submit', (e) => {
  e.preventDefault()
  const input = /** @type {HTMLInputElement} */ ($('token'))
  if (input.value) sessionStorage.setItem(TOKEN_KEY, input.value)
  else sessionStorage.removeItem(TOKEN_KEY)
  input.value = ''
  void showAccess()
  route()
})

window.addEventListener('hashchange', route)
void showAccess()
route()
