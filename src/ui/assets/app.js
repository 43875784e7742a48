// fabio-ts admin UI: routes table with filter and live updates, explain, history, warnings,
// traffic, and the manual-override editor. Plain ES modules, no build step, no CDN.
import { el, getJson, getText, materializeColor, safeHref } from './dom.js';

/* global uPlot */

const d = document.body.dataset;
const base = d.base ?? '';
const api = (p) => `${base}/api${p}`;

const navColor = materializeColor(d.color ?? '');
if (navColor) document.getElementById('nav').style.background = navColor;

// ---- routes -----------------------------------------------------------------------------------

let routes = [];

/**
 * The protocol a route really speaks: a proto= option (tcp+sni, tcp-dynamic… from a Consul tag)
 * wins over the destination's scheme (an SNI route's destination is written http://addr/).
 */
function routeProto(r) {
  const m = /(?:^|\s)proto=(\S+)/.exec(r.opts ?? '');
  if (m) return m[1].toLowerCase();
  const s = /^([a-z][a-z0-9+.-]*):\/\//i.exec(r.dst ?? '');
  return s ? s[1].toLowerCase() : '';
}

const isHttp = (proto) => proto === 'http' || proto === 'https';

/** The destination as text with its real scheme; a link only for http(s). */
function destCell(r) {
  const proto = routeProto(r);
  let shown = r.dst;
  const s = /^([a-z][a-z0-9+.-]*):\/\/(.*)$/i.exec(r.dst);
  if (s && !isHttp(proto) && s[1].toLowerCase() !== proto) shown = `${proto}://${s[2].replace(/\/$/, '')}`;
  if (isHttp(proto) && /^https?:\/\//i.test(r.dst))
    return el('td', {}, el('a', { href: safeHref(r.dst), rel: 'noopener noreferrer' }, r.dst));
  return el('td', { className: 'dst-plain', title: `${proto || 'unknown'} destination (not a web link)` }, shown);
}

function sourceCell(src, proto) {
  // a TCP/SNI source is a port or a server name, not a page: never a link
  if (d.srcLink !== 'true' || (proto && !isHttp(proto) && !proto.startsWith('grpc'))) return el('td', {}, src);
  let host = d.srcHost || location.hostname;
  let path = src;
  const slash = src.indexOf('/');
  if (slash > 0) {
    host = src.slice(0, slash);
    path = src.slice(slash);
  }
  const port = d.srcPort ? `:${d.srcPort}` : '';
  const scheme = /^https?$/.test(d.srcScheme ?? '') ? d.srcScheme : 'http';
  const a = el('a', { href: `${scheme}://${host}${port}${path}` }, src);
  if (d.srcNewtab !== 'false') {
    a.target = '_blank';
    a.rel = 'noopener noreferrer';
  }
  return el('td', {}, a);
}

/** Why a target is out of rotation (passive outlier detection), for a title; '' when it is not. */
function ejectedNote(x) {
  if (x.ejected !== true) return '';
  const until = x.ejectedUntil ? new Date(x.ejectedUntil) : undefined;
  return until && !Number.isNaN(until.getTime())
    ? `ejected by outlier detection until ${until.toISOString()}: gets no traffic`
    : 'ejected by outlier detection: gets no traffic';
}

function ejectedBadge(x) {
  return x.ejected === true ? el('span', { className: 'eject-badge', title: ejectedNote(x) }, 'ejected') : null;
}

function routeRow(r, i) {
  const proto = routeProto(r);
  const dst = destCell(r);
  const badge = ejectedBadge(r);
  if (badge) dst.append(' ', badge);
  const tr = el(
    'tr',
    { className: r.ejected === true ? 'ejected' : '' },
    el('td', {}, String(i + 1)),
    el('td', {}, r.service),
    sourceCell(r.src, proto),
    dst,
    el('td', {}, [r.opts, r.tags?.length ? `tags=${r.tags.join(',')}` : ''].filter(Boolean).join(' ')),
    el('td', { className: 'num' }, `${(r.weight * 100).toFixed(2)}%`),
  );
  if (/^https?:\/\//i.test(r.src)) {
    tr.classList.add('warn');
    tr.title = 'This route source starts with http(s):// and will probably never match: sources are host/path.';
  }
  return tr;
}

function applyFilter() {
  const f = document.getElementById('filter');
  const words = f.value.split(/\s+/).filter(Boolean);
  const rows = document.querySelectorAll('#routes tbody tr');
  let shown = 0;
  for (const tr of rows) {
    const text = tr.textContent;
    const ok = words.every((w) => text.includes(w));
    tr.hidden = !ok;
    if (ok) shown++;
  }
  document.getElementById('route-count').textContent = words.length
    ? `${shown} of ${rows.length}`
    : `${rows.length} routes`;
  const u = new URL(location.href);
  if (words.length) u.searchParams.set('filter', f.value);
  else u.searchParams.delete('filter');
  history.replaceState(null, '', u);
}

let ejectTimer;

async function loadRoutes() {
  routes = (await getJson(api('/routes'))) ?? [];
  const tbody = document.querySelector('#routes tbody');
  tbody.replaceChildren(...routes.map(routeRow));
  document.getElementById('routes-empty').hidden = routes.length > 0;
  applyFilter();
  // an ejection ends on its own (no table change, maybe no event): look again when the first one is due
  clearTimeout(ejectTimer);
  const due = routes
    .map((r) => (r.ejected === true && r.ejectedUntil ? new Date(r.ejectedUntil).getTime() : Number.NaN))
    .filter((t) => Number.isFinite(t));
  if (due.length)
    // between 0.5 s and 1 min: a far-away or past time neither overflows the timer nor spins
    ejectTimer = setTimeout(
      () => loadRoutes().catch(() => {}),
      Math.min(60_000, Math.max(500, Math.min(...due) - Date.now() + 250)),
    );
}

async function loadOverrides(select, current) {
  if (!select) return;
  try {
    const paths = (await getJson(api('/paths'))) ?? [];
    select.append(...paths.map((p) => el('option', { value: p, selected: p === current }, p === '' ? 'default' : p)));
    select.addEventListener('change', () => {
      if (select.value !== '' || d.page === 'manual') location.href = `${base}/manual${select.value}`;
    });
  } catch {
    select.hidden = true;
  }
}

// ---- explain ----------------------------------------------------------------------------------

/** The table version Explain asks about ('' = the live table); set from History's links. */
let explainVersion = '';

function setExplainVersion(v) {
  explainVersion = /^[1-9][0-9]{0,14}$/.test(v ?? '') ? v : '';
  const against = document.getElementById('explain-against');
  against.firstChild.textContent = explainVersion
    ? `Against table version ${explainVersion} (from History).`
    : 'Against the live table.';
  document.getElementById('explain-live').hidden = explainVersion === '';
}

async function runExplain(ev) {
  ev?.preventDefault();
  const url = document.getElementById('explain-url').value;
  const headers = {};
  for (const line of document.getElementById('explain-headers').value.split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim()] = line.slice(i + 1).trim();
  }
  const out = document.getElementById('explain-steps');
  const res = document.getElementById('explain-result');
  const version = explainVersion ? Number(explainVersion) : undefined;
  const r = await fetch(api('/explain'), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ url, headers, ...(version ? { version } : {}) }),
  });
  const body = await r.json().catch(() => ({ error: 'bad response' }));
  if (!r.ok) {
    out.replaceChildren();
    renderDecision({});
    res.textContent = body.error ?? `error ${r.status}`;
    res.className = 'result bad';
    return;
  }
  const against = document.getElementById('explain-against');
  if (body.version !== undefined)
    against.firstChild.textContent =
      body.version === body.current
        ? `Against the live table (version ${body.version}).`
        : `Against table version ${body.version}, as it was before later changes (the live table is version ${body.current}).`;
  out.replaceChildren(
    ...body.steps.map((s) =>
      el('li', { className: `step step-${s.kind}` }, el('span', { className: 'kind' }, s.kind), ' ', s.message),
    ),
  );
  renderDecision(body);
  if (body.result) {
    const t = body.result.target;
    const where = body.result.redirectURL
      ? `redirect ${t.redirectCode} to ${body.result.redirectURL}`
      : `service ${t.service} on ${t.url}`;
    res.textContent = `Route ${body.result.route.host}${body.result.route.path} → ${where}`;
    res.className = 'result ok';
  } else {
    res.textContent = 'No route: the proxy answers 404 (or the no-route page).';
    res.className = 'result bad';
  }
}

const pct = (f) => `${(f * 100).toFixed(f > 0 && f < 0.001 ? 2 : 1)}%`;

/** Candidates in matching order with why each lost, and the chosen route's targets with shares. */
function renderDecision(body) {
  const cands = body.candidates ?? [];
  const targets = body.targets ?? [];
  document.getElementById('explain-decision').hidden = cands.length === 0 && targets.length === 0;
  document
    .querySelector('#explain-candidates tbody')
    .replaceChildren(
      ...cands.map((c, i) =>
        el(
          'tr',
          { className: `cand-${c.outcome}` },
          el('td', { className: 'num' }, String(i + 1)),
          el('td', {}, `${c.host}${c.path}`),
          el('td', {}, el('span', { className: `outcome outcome-${c.outcome}` }, c.outcome)),
          el('td', {}, c.reason),
        ),
      ),
    );
  document.querySelector('#explain-targets tbody').replaceChildren(
    ...targets.map((t) => {
      const bar = el('span', { className: 'share-bar' });
      bar.style.width = `${Math.max(0, Math.min(100, t.share * 100)).toFixed(1)}%`;
      // an ejected target is skipped by the balancer while ejected, whatever its share
      const ejected = t.ejected === true;
      return el(
        'tr',
        { className: [t.picked ? 'picked' : '', ejected ? 'ejected' : ''].filter(Boolean).join(' ') },
        el('td', {}, t.service),
        el('td', {}, t.url),
        el('td', { className: 'num' }, pct(t.weight)),
        el('td', { className: 'num share' }, pct(t.share)),
        el('td', { className: 'share-cell' }, el('span', { className: 'share-track' }, bar)),
        el('td', {}, ejected ? ejectedBadge(t) : null, ejected ? ' skipped' : '', t.picked ? 'this request' : ''),
      );
    }),
  );
}

// ---- history and warnings ---------------------------------------------------------------------

/**
 * A History entry about a target leaving or rejoining the rotation (passive outlier detection):
 * cause 'outlier' with `outlier` = {event: 'ejected'|'returned', service, url, route, seconds?, message}.
 */
function ejectionOf(e) {
  const o = e.outlier;
  if (!o || typeof o !== 'object') return undefined;
  const back = o.event === 'returned';
  const who = [o.service, o.url].filter((x) => typeof x === 'string' && x).join(' ');
  const what = back ? 'back in rotation' : `ejected${typeof o.seconds === 'number' ? ` for ${o.seconds}s` : ''}`;
  const route = typeof o.route === 'string' && o.route ? ` (route ${o.route})` : '';
  return { back, text: `${[who, what].filter(Boolean).join(': ')}${route}` };
}

/** Explain links of a History entry: the table before the change and the one after it. */
function versionCell(e) {
  if (!e.version) return el('td', {});
  const link = (v, label) => el('a', { href: `${base}/routes#explain?version=${v}`, className: 'explain-at' }, label);
  return el(
    'td',
    { className: 'nowrap' },
    `v${e.version}`,
    el('br', {}),
    e.before ? link(e.before, `explain before (v${e.before})`) : null,
    e.before ? el('br', {}) : null,
    link(e.version, `explain at v${e.version}`),
  );
}

async function loadHistory() {
  const h = (await getJson(api('/routes/history'))) ?? [];
  // the API lists oldest first; the first entry (often KV or catalog index 1) may carry no lines
  const oldest = h[0];
  // newest first; entries of the same millisecond in reverse API order (the API lists oldest first)
  const rows = h
    .map((e, i) => [e, i])
    .sort(([a, i], [b, j]) => String(b.time).localeCompare(String(a.time)) || j - i)
    .map(([e]) => {
      const change = el('div', { className: 'diff' });
      const ej = ejectionOf(e);
      if (ej) change.append(el('div', { className: ej.back ? 'restored' : 'ejected' }, ej.text));
      for (const l of e.added ?? []) change.append(el('div', { className: 'add' }, `+ ${l}`));
      for (const l of e.removed ?? []) change.append(el('div', { className: 'del' }, `- ${l}`));
      if (e.error) change.append(el('div', { className: 'err' }, `build failed, previous table kept: ${e.error}`));
      if (!change.childElementCount)
        change.append(
          el(
            'div',
            { className: 'same' },
            e === oldest ? 'first table (no route lines)' : 'no route line changed (same table text)',
          ),
        );
      return el(
        'tr',
        { className: ej ? (ej.back ? 'h-restored' : 'h-ejected') : '' },
        el('td', { className: 'nowrap' }, e.time),
        el('td', {}, e.cause ?? e.kind ?? ''),
        el('td', { className: 'num' }, e.index === undefined ? '' : String(e.index)),
        versionCell(e),
        el('td', {}, change),
      );
    });
  document.querySelector('#history tbody').replaceChildren(...rows);
}

async function loadWarnings() {
  const w = (await getJson(api('/warnings'))) ?? [];
  document
    .querySelector('#warnings tbody')
    .replaceChildren(
      ...w.map((x) =>
        el(
          'tr',
          {},
          el('td', {}, x.kind),
          el('td', {}, x.service ?? ''),
          el('td', { className: 'num' }, x.line ? String(x.line) : ''),
          el('td', {}, x.tag ? `${x.message} (tag ${x.tag})` : x.message),
        ),
      ),
    );
  setWarnBadge(w.length);
}

function setWarnBadge(n) {
  const b = document.getElementById('warn-count');
  b.textContent = n ? String(n) : '';
  b.title = n ? `${n} warning${n === 1 ? '' : 's'}` : '';
}

/** The badge on pages without the warnings view (Overrides): count only, kept live. */
async function loadWarnBadge() {
  setWarnBadge(((await getJson(api('/warnings'))) ?? []).length);
}

// ---- traffic ----------------------------------------------------------------------------------

const ms = (s) => (s >= 1 ? `${s.toFixed(2)} s` : `${(s * 1000).toFixed(1)} ms`);
const bytes = (n) =>
  n >= 1e9
    ? `${(n / 1e9).toFixed(1)} GB`
    : n >= 1e6
      ? `${(n / 1e6).toFixed(1)} MB`
      : n >= 1e3
        ? `${(n / 1e3).toFixed(1)} kB`
        : `${Math.round(n)} B`;
const rate = (v) => (v >= 100 ? v.toFixed(0) : v >= 1 ? v.toFixed(1) : v.toFixed(2));
const MAX_CHARTS = 24;
const CLASS_COLORS = ['#90a4ae', '#43a047', '#1e88e5', '#fb8c00', '#e53935'];
let trafficWindow = '5m';
let lastTraffic;
let charts = [];

function trafficRow(f, label, service, cls, proto) {
  const tcp = proto === 'tcp';
  const sum = (a) => a.reduce((x, y) => x + y, 0);
  return el(
    'tr',
    { className: cls },
    el('td', {}, service),
    el('td', {}, label),
    el('td', {}, cls === 'route' ? proto : ''),
    el('td', { className: 'num' }, rate(f.rps)),
    el('td', { className: 'num' }, tcp ? String(f.totalErrors) : `${(f.errorRate * 100).toFixed(1)}%`),
    el('td', { className: 'num' }, tcp ? '' : ms(f.p50All)),
    el('td', { className: 'num' }, tcp ? '' : ms(f.p99All)),
    el('td', { className: 'num' }, tcp ? String(f.active) : ''),
    el(
      'td',
      { className: 'num' },
      tcp ? `${bytes(f.bytesInTotal ?? sum(f.bytesIn))} / ${bytes(f.bytesOutTotal ?? sum(f.bytesOut))}` : '',
    ),
  );
}

/** uPlot options shared by every small chart: one time axis, cursors synced across charts. */
function chartOpts(title, width, series, yFmt, extra = {}) {
  return {
    width,
    height: 150,
    title,
    cursor: { sync: { key: 'traffic' } },
    legend: { live: true },
    scales: { x: { time: true } },
    axes: [{}, { values: (_u, ticks) => ticks.map(yFmt), size: 72 }],
    series: [{}, ...series],
    ...extra,
  };
}

/** Cumulative series for a stacked chart; the legend shows each layer's own value. */
function stacked(layers) {
  const acc = layers[0].map(() => 0);
  return layers.map((l) => l.map((v, i) => (acc[i] += v)));
}

function routeCharts(r, xs, slotSec, width) {
  const card = el(
    'div',
    { className: 'chart-card' },
    el(
      'div',
      { className: 'chart-title' },
      el('b', {}, r.service),
      ' ',
      `${r.host}${r.path}`,
      ' ',
      el('span', { className: 'outcome' }, r.proto),
    ),
  );
  const per = (a) => a.map((v) => v / slotSec);
  const made = [];
  if (r.proto === 'tcp') {
    made.push(
      new uPlot(
        chartOpts(
          'connections/s',
          width,
          [
            {
              label: 'connections/s',
              stroke: '#1e88e5',
              fill: 'rgba(30,136,229,.15)',
              value: (_u, v) => (v == null ? '' : rate(v)),
            },
            { label: 'dial failures/s', stroke: '#e53935', value: (_u, v) => (v == null ? '' : rate(v)) },
          ],
          rate,
        ),
        [xs, per(r.requests), per(r.errors)],
        card,
      ),
      new uPlot(
        chartOpts(
          'bytes/s',
          width,
          [
            { label: 'in (client→upstream)', stroke: '#43a047', value: (_u, v) => (v == null ? '' : `${bytes(v)}/s`) },
            { label: 'out (upstream→client)', stroke: '#8e24aa', value: (_u, v) => (v == null ? '' : `${bytes(v)}/s`) },
          ],
          bytes,
        ),
        [xs, per(r.bytesIn), per(r.bytesOut)],
        card,
      ),
    );
    card.append(el('div', { className: 'hint' }, `${r.active} open connection${r.active === 1 ? '' : 's'}`));
  } else {
    const layers = [0, 1, 2, 3, 4].map((c) => per(r.classes.map((x) => x[c])));
    const cum = stacked(layers);
    const names = ['1xx', '2xx', '3xx', '4xx', '5xx'];
    const series = names.map((n, c) => ({
      label: `${n}/s`,
      stroke: CLASS_COLORS[c],
      fill: CLASS_COLORS[c],
      value: (_u, _v, _si, i) => (i == null ? '' : rate(layers[c][i])),
    }));
    // drawn top layer first so the lower layers paint over it
    made.push(
      new uPlot(
        chartOpts('requests/s by status class', width, series.slice().reverse(), rate),
        [xs, ...cum.slice().reverse()],
        card,
      ),
      new uPlot(
        chartOpts(
          'latency',
          width,
          [
            { label: 'p50', stroke: '#1e88e5', value: (_u, v) => (v == null ? '' : ms(v)) },
            { label: 'p99', stroke: '#e53935', value: (_u, v) => (v == null ? '' : ms(v)) },
          ],
          ms,
        ),
        [xs, r.p50, r.p99],
        card,
      ),
    );
  }
  return { card, made };
}

function renderTraffic(t) {
  const hint = document.getElementById('traffic-hint');
  const span = { '5m': '5 minutes', '1h': '1 hour', '24h': '24 hours' }[t.window] ?? t.window;
  hint.textContent = t.slots
    ? `Last ${span} in ${t.slotSeconds >= 60 ? `${t.slotSeconds / 60}-minute` : `${t.slotSeconds}-second`} slots, all worker processes. Times are local.`
    : 'Traffic statistics are not available.';
  for (const b of document.querySelectorAll('#traffic-window button'))
    b.classList.toggle('on', b.dataset.w === t.window);
  const words = document.getElementById('traffic-filter').value.split(/\s+/).filter(Boolean);
  const shown = t.routes.filter((r) => words.every((w) => `${r.service} ${r.host}${r.path} ${r.proto}`.includes(w)));
  const rows = [];
  for (const r of shown) {
    rows.push(trafficRow(r, `${r.host}${r.path}`, r.service, 'route', r.proto));
    for (const x of r.targets) rows.push(trafficRow(x, `→ ${x.url}`, '', 'target', r.proto));
  }
  document.querySelector('#traffic tbody').replaceChildren(...rows);
  for (const c of charts) c.destroy();
  charts = [];
  const box = document.getElementById('traffic-charts');
  box.replaceChildren();
  if (typeof uPlot !== 'function' || !t.slots) return;
  const xs = Array.from({ length: t.slots }, (_, i) => (t.start + i * t.slotSeconds * 1000) / 1000);
  const width = Math.max(260, Math.min(520, box.clientWidth - 24));
  const top = [...shown].sort((a, b) => b.total + b.totalErrors - (a.total + a.totalErrors)).slice(0, MAX_CHARTS);
  for (const r of top) {
    const { card, made } = routeCharts(r, xs, t.slotSeconds, width);
    box.append(card);
    charts.push(...made);
  }
  if (shown.length > top.length)
    box.append(
      el(
        'p',
        { className: 'hint' },
        `Charts for the ${top.length} busiest of ${shown.length} routes; filter to see others.`,
      ),
    );
}

async function loadTraffic() {
  lastTraffic = await getJson(api(`/traffic?series=routes&window=${encodeURIComponent(trafficWindow)}`));
  renderTraffic(lastTraffic);
}

function initTraffic() {
  for (const b of document.querySelectorAll('#traffic-window button'))
    b.addEventListener('click', () => {
      trafficWindow = b.dataset.w;
      loadTraffic().catch(() => {});
    });
  document.getElementById('traffic-filter').addEventListener('input', () => lastTraffic && renderTraffic(lastTraffic));
}

// ---- route map ----------------------------------------------------------------------------------

const MAP_OPEN_MAX = 12;
/** Hosts the user opened or closed by hand (kept across live refreshes; a new search resets them). */
const mapToggled = new Map();
let mapSeq = 0;

/**
 * hosts → paths → targets; weight as width, rate as colour, ejected targets marked. Built from
 * /api/routes and /api/traffic; redrawn on live events and every 5 s while shown, keeping the
 * search, the zoom and what the user opened or closed.
 */
async function loadMap() {
  const seq = ++mapSeq;
  const [rows, t] = await Promise.all([
    getJson(api('/routes')),
    getJson(api('/traffic?series=routes&window=5m')).catch(() => ({ routes: [] })),
  ]);
  if (seq !== mapSeq) return; // a newer refresh is under way
  const rates = new Map();
  for (const r of t.routes ?? []) for (const x of r.targets) rates.set(`${r.host}${r.path} ${x.url}`, x.rps);
  const max = Math.max(0, ...rates.values());
  const hosts = new Map();
  for (const r of rows ?? []) {
    const proto = routeProto(r);
    const key =
      proto === 'tcp' || proto === 'tcp-dynamic'
        ? `TCP ${r.src}`
        : proto.includes('sni')
          ? `SNI ${r.host}`
          : r.host === ''
            ? '(any host)'
            : r.host;
    if (!hosts.has(key)) hosts.set(key, { proto: new Set(), paths: new Map() });
    const h = hosts.get(key);
    h.proto.add(proto);
    if (!h.paths.has(r.path)) h.paths.set(r.path, []);
    h.paths.get(r.path).push({ ...r, proto, rps: rates.get(`${r.src} ${r.dst}`) ?? 0 });
  }
  const words = document.getElementById('map-filter').value.split(/\s+/).filter(Boolean);
  const match = (s) => words.every((w) => s.includes(w));
  const groups = [];
  let shownRoutes = 0;
  for (const [host, h] of hosts) {
    const paths = [...h.paths].filter(([path, ts]) =>
      match(`${host} ${path} ${ts.map((x) => `${x.service} ${x.dst} ${x.proto}`).join(' ')}`),
    );
    if (paths.length === 0) continue;
    shownRoutes += paths.length;
    const details = el(
      'details',
      { className: 'map-host' },
      el(
        'summary',
        { onclick: (ev) => mapToggled.set(host, !ev.currentTarget.parentElement.open) },
        el('b', {}, host),
        ' ',
        el(
          'span',
          { className: 'hint' },
          `${paths.length} route${paths.length === 1 ? '' : 's'} · ${[...h.proto].join(', ')}`,
        ),
      ),
      ...paths.map(([path, ts]) =>
        el(
          'div',
          { className: 'map-route' },
          el('span', { className: 'map-path' }, path),
          el(
            'span',
            { className: 'map-bar' },
            ...ts.map((x) => {
              const ej = ejectedNote(x);
              const seg = el(
                'span',
                {
                  className: ej ? 'map-seg ejected' : 'map-seg',
                  title: `${x.service} → ${x.dst} (${x.proto}), weight ${(x.weight * 100).toFixed(1)} %, ${rate(x.rps)}/s${ej ? `; ${ej}` : ''}`,
                },
                `${ej ? '⊘ ' : ''}${x.service} ${(x.weight * 100).toFixed(0)}%`,
              );
              seg.style.width = `${Math.max(x.weight * 100, 0.5).toFixed(2)}%`;
              // an ejected target keeps the striped background of its class
              if (!ej)
                seg.style.background =
                  x.rps > 0 && max > 0
                    ? `hsl(210, 75%, ${Math.round(85 - 35 * Math.min(1, x.rps / max))}%)`
                    : '#e0e0e0';
              return seg;
            }),
          ),
        ),
      ),
    );
    details.dataset.host = host;
    groups.push(details);
  }
  for (const g of groups)
    g.open = mapToggled.get(g.dataset.host) ?? (groups.length <= MAP_OPEN_MAX || words.length > 0);
  document.getElementById('map').replaceChildren(...groups);
  document.getElementById('map-count').textContent =
    `${groups.length} host${groups.length === 1 ? '' : 's'}, ${shownRoutes} routes`;
}

// ---- views and live updates -------------------------------------------------------------------

const VIEWS = ['routes', 'explain', 'history', 'warnings', 'traffic', 'map'];
let trafficTimer;
let view = 'routes';

/** `#view` or `#view?k=v` (History links to `#explain?version=N`). */
function showView() {
  const [name, query] = location.hash.slice(1).split('?');
  const v = VIEWS.includes(name) ? name : 'routes';
  view = v;
  for (const x of VIEWS) document.getElementById(`view-${x}`).hidden = x !== v;
  clearInterval(trafficTimer);
  if (v === 'explain') {
    const version = new URLSearchParams(query ?? '').get('version') ?? '';
    setExplainVersion(version);
    if (explainVersion) runExplain().catch(() => {});
  }
  if (v === 'map') {
    loadMap().catch(() => {});
    // traffic colours; table changes arrive as events at once
    trafficTimer = setInterval(() => loadMap().catch(() => {}), 10_000);
  }
  if (v === 'traffic') {
    loadTraffic().catch(() => {});
    trafficTimer = setInterval(() => loadTraffic().catch(() => {}), 5000);
  }
}

function refreshAll() {
  // the map follows the table live too, when it is the view shown
  return Promise.allSettled([loadRoutes(), loadHistory(), loadWarnings(), view === 'map' ? loadMap() : undefined]);
}

function live(onChange) {
  const dot = document.getElementById('live');
  const es = new EventSource(api('/events'));
  es.addEventListener('open', () => dot?.classList.add('on'));
  es.addEventListener('error', () => dot?.classList.remove('on'));
  es.addEventListener('routes', () => onChange());
}

async function initRoutes() {
  const f = document.getElementById('filter');
  f.value = new URL(location.href).searchParams.get('filter') ?? '';
  f.addEventListener('input', applyFilter);
  document.getElementById('explain-form').addEventListener('submit', (e) =>
    runExplain(e).catch((err) => {
      document.getElementById('explain-result').textContent = String(err);
    }),
  );
  initTraffic();
  document.getElementById('map-filter').addEventListener('input', () => {
    mapToggled.clear();
    loadMap().catch(() => {});
  });
  const zoom = document.getElementById('map-zoom');
  zoom.addEventListener('input', () =>
    document.getElementById('map').style.setProperty('--map-zoom', zoom.value / 100),
  );
  document.getElementById('explain-live').addEventListener('click', () => {
    location.hash = '#explain';
  });
  window.addEventListener('hashchange', showView);
  showView();
  loadOverrides(document.getElementById('overrides'), null);
  await refreshAll();
  live(refreshAll);
  document.body.dataset.ready = 'true';
}

// ---- manual overrides -------------------------------------------------------------------------

const w100 = (w) => `${(w * 100).toFixed(2)}%`;

/** The what-if of the edited text: line errors, then routes added, removed and re-weighted. */
function renderPreview(p) {
  const summary = document.getElementById('preview-summary');
  const errs = document.getElementById('preview-errors');
  const body = document.querySelector('#preview-diff tbody');
  if (p.error) {
    summary.textContent = '';
    errs.replaceChildren(el('li', {}, `The table would not build: ${p.error}`));
    body.replaceChildren();
    return;
  }
  const n = p.added.length + p.removed.length + p.reweighted.length;
  summary.textContent = `(before Save) ${n === 0 ? 'no route changes' : `${n} route change${n === 1 ? '' : 's'}`}, ${p.errors.length} line error${p.errors.length === 1 ? '' : 's'}, ${p.total} routes in the table`;
  errs.replaceChildren(
    ...p.errors.map((e) => el('li', {}, el('span', { className: 'lineno' }, `line ${e.line}`), ' ', e.message)),
  );
  const row = (cls, sign, r, weight) =>
    el(
      'tr',
      { className: `pv-${cls}` },
      el('td', { className: 'sign' }, sign),
      el('td', {}, r.service),
      el('td', {}, r.src),
      el('td', {}, r.dst),
      el('td', { className: 'num' }, weight),
    );
  body.replaceChildren(
    ...p.added.map((r) => row('add', '+', r, w100(r.weight))),
    ...p.removed.map((r) => row('del', '−', r, w100(r.weight))),
    ...p.reweighted.map((r) => row('rew', '~', r, `${w100(r.from)} → ${w100(r.weight)}`)),
  );
}

let previewSeq = 0;
async function runPreview(sub, value) {
  const seq = ++previewSeq;
  const r = await fetch(api('/preview'), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ path: sub, value }),
  });
  if (seq !== previewSeq) return; // an older answer arriving late
  if (!r.ok) {
    document.getElementById('preview-summary').textContent = `(preview unavailable: ${r.status})`;
    return;
  }
  renderPreview(await r.json());
  document.getElementById('manual-preview').dataset.seq = String(seq);
}

async function initManual() {
  const sub = d.sub ?? '';
  const value = document.getElementById('manual-value');
  const version = document.getElementById('manual-version');
  const status = document.getElementById('manual-status');
  document.getElementById('manual-key').textContent = sub === '' ? 'default' : sub;
  loadOverrides(document.getElementById('overrides'), sub);
  loadWarnBadge().catch(() => {});
  live(() => loadWarnBadge().catch(() => {}));
  const m = await getJson(api(`/manual${sub}`));
  value.value = m.value;
  version.value = m.version;
  let pending;
  const preview = () => runPreview(sub, value.value).catch(() => {});
  value.addEventListener('input', () => {
    clearTimeout(pending);
    pending = setTimeout(preview, 250);
  });
  await preview();
  document.getElementById('manual-save').addEventListener('click', async () => {
    status.textContent = 'Saving…';
    status.className = '';
    const r = await fetch(api(`/manual${sub}`), {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ value: value.value, version: version.value }),
    });
    if (r.ok) {
      const m2 = await getJson(api(`/manual${sub}`));
      value.value = m2.value;
      version.value = m2.version;
      status.textContent = 'Saved.';
      status.className = 'ok';
      preview();
    } else {
      const why = (await r.text()).trim();
      status.textContent =
        r.status === 409
          ? `Not saved: ${why}. Someone else changed it; reload to see their version.`
          : `Not saved: ${r.status} ${why}`;
      status.className = 'bad';
    }
  });
  const help = document.getElementById('manual-helptext');
  document.getElementById('manual-help').addEventListener('click', async () => {
    if (!help.textContent) help.textContent = await getText(api('/help'));
    help.hidden = !help.hidden;
  });
  document.body.dataset.ready = 'true';
}

(d.page === 'manual' ? initManual() : initRoutes()).catch((e) => {
  document.querySelector('main').prepend(el('p', { className: 'result bad' }, `Error: ${e.message ?? e}`));
});
