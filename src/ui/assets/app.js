// fabio-ts admin UI: routes table with filter and live updates, explain, history, warnings,
// traffic, and the manual-override editor. Plain ES modules, no build step, no CDN.
import { el, getJson, getText, materializeColor, safeHref, sparkline } from './dom.js';

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

function routeRow(r, i) {
  const proto = routeProto(r);
  const tr = el(
    'tr',
    {},
    el('td', {}, String(i + 1)),
    el('td', {}, r.service),
    sourceCell(r.src, proto),
    destCell(r),
    el('td', {}, [r.opts, r.tags?.length ? `tags=${r.tags.join(',')}` : ''].filter(Boolean).join(' ')),
    el('td', { className: 'num' }, `${(r.weight * 100).toFixed(2)}%`),
  );
  if (/^https?:\/\//i.test(r.src)) {
    tr.className = 'warn';
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

async function loadRoutes() {
  routes = (await getJson(api('/routes'))) ?? [];
  const tbody = document.querySelector('#routes tbody');
  tbody.replaceChildren(...routes.map(routeRow));
  document.getElementById('routes-empty').hidden = routes.length > 0;
  applyFilter();
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
  const r = await fetch(api('/explain'), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ url, headers }),
  });
  const body = await r.json().catch(() => ({ error: 'bad response' }));
  if (!r.ok) {
    out.replaceChildren();
    renderDecision({});
    res.textContent = body.error ?? `error ${r.status}`;
    res.className = 'result bad';
    return;
  }
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
      return el(
        'tr',
        { className: t.picked ? 'picked' : '' },
        el('td', {}, t.service),
        el('td', {}, t.url),
        el('td', { className: 'num' }, pct(t.weight)),
        el('td', { className: 'num share' }, pct(t.share)),
        el('td', { className: 'share-cell' }, el('span', { className: 'share-track' }, bar)),
        el('td', {}, t.picked ? 'this request' : ''),
      );
    }),
  );
}

// ---- history and warnings ---------------------------------------------------------------------

async function loadHistory() {
  const h = (await getJson(api('/routes/history'))) ?? [];
  // the API lists oldest first; the first entry (often KV or catalog index 1) may carry no lines
  const oldest = h[0];
  const rows = [...h]
    .sort((a, b) => String(b.time).localeCompare(String(a.time)))
    .map((e) => {
      const change = el('div', { className: 'diff' });
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
        {},
        el('td', { className: 'nowrap' }, e.time),
        el('td', {}, e.cause),
        el('td', { className: 'num' }, String(e.index)),
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

function trafficRow(f, label, service, cls) {
  const rates = f.requests.map((n, i) => (n === 0 ? 0 : f.errors[i] / n));
  return el(
    'tr',
    { className: cls },
    el('td', {}, service),
    el('td', {}, label),
    el('td', { className: 'num' }, f.rps.toFixed(2)),
    el('td', { className: 'num' }, `${(f.errorRate * 100).toFixed(1)}%`),
    el('td', { className: 'num' }, ms(f.p99All)),
    el('td', {}, sparkline(f.requests, { kind: 'bar' })),
    el('td', {}, sparkline(rates, { format: (v) => `${(v * 100).toFixed(1)}%` })),
    el('td', {}, sparkline(f.p99, { format: ms })),
  );
}

async function loadTraffic() {
  const t = await getJson(api('/traffic'));
  const hint = document.getElementById('traffic-hint');
  hint.textContent = t.slots
    ? `Last ${Math.round((t.slots * t.slotSeconds) / 60)} minutes in ${t.slotSeconds}-second slots.`
    : 'Traffic statistics are not available.';
  const rows = [];
  for (const r of t.routes) {
    rows.push(trafficRow(r, `${r.host}${r.path}`, r.service, 'route'));
    for (const x of r.targets) rows.push(trafficRow(x, `→ ${x.url}`, '', 'target'));
  }
  document.querySelector('#traffic tbody').replaceChildren(...rows);
}

// ---- views and live updates -------------------------------------------------------------------

const VIEWS = ['routes', 'explain', 'history', 'warnings', 'traffic'];
let trafficTimer;

function showView() {
  const v = VIEWS.includes(location.hash.slice(1)) ? location.hash.slice(1) : 'routes';
  for (const x of VIEWS) document.getElementById(`view-${x}`).hidden = x !== v;
  clearInterval(trafficTimer);
  if (v === 'traffic') {
    loadTraffic().catch(() => {});
    trafficTimer = setInterval(() => loadTraffic().catch(() => {}), 5000);
  }
}

function refreshAll() {
  return Promise.allSettled([loadRoutes(), loadHistory(), loadWarnings()]);
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
