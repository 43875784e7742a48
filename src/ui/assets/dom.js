// Tiny DOM helpers. Every string from the server (which comes from Consul: service names, tags,
// options, KV text) is placed with textContent or as an attribute through the DOM API, never as
// HTML. Do not add innerHTML here.

/**
 * el('td', {className: 'x', title: 't'}, 'text', childNode) — props are set as DOM properties,
 * children that are strings become text nodes.
 */
export function el(tag, props = {}, ...children) {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null) continue;
    if (k === 'dataset') Object.assign(n.dataset, v);
    else if (k === 'href') n.setAttribute('href', safeHref(v));
    else n[k] = v;
  }
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    n.append(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
  return n;
}

/** Only http(s) and same-site relative links; anything else (javascript:, data:) becomes '#'. */
export function safeHref(v) {
  const s = String(v);
  if (/^https?:\/\//i.test(s) || (s.startsWith('/') && !s.startsWith('//'))) return s;
  return '#';
}

export async function getJson(url) {
  const r = await fetch(url, { headers: { Accept: 'application/json' }, credentials: 'same-origin' });
  if (!r.ok) throw new Error(`${r.status} ${(await r.text()).trim()}`);
  return r.json();
}

export async function getText(url) {
  const r = await fetch(url, { credentials: 'same-origin' });
  if (!r.ok) throw new Error(`${r.status} ${(await r.text()).trim()}`);
  return r.text();
}

/** Materialize colour names (fabio's ui.color) to CSS colours; lighten-N/darken-N approximated. */
const COLORS = {
  red: '#f44336',
  pink: '#e91e63',
  purple: '#9c27b0',
  'deep-purple': '#673ab7',
  indigo: '#3f51b5',
  blue: '#2196f3',
  'light-blue': '#03a9f4',
  cyan: '#00bcd4',
  teal: '#009688',
  green: '#4caf50',
  'light-green': '#8bc34a',
  lime: '#cddc39',
  yellow: '#ffeb3b',
  amber: '#ffc107',
  orange: '#ff9800',
  'deep-orange': '#ff5722',
  brown: '#795548',
  grey: '#9e9e9e',
  'blue-grey': '#607d8b',
  black: '#000000',
  white: '#ffffff',
};

export function materializeColor(spec) {
  const words = String(spec).trim().toLowerCase().split(/\s+/);
  const hex = COLORS[words[0]];
  if (!hex) return undefined;
  let [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  const m = /^(lighten|darken|accent)-(\d)$/.exec(words[1] ?? '');
  if (m) {
    const f = Number(m[2]) * (m[1] === 'darken' ? 0.12 : 0.15);
    const to = m[1] === 'darken' ? 0 : 255;
    [r, g, b] = [r, g, b].map((c) => Math.round(c + (to - c) * Math.min(f, 0.9)));
  }
  return `rgb(${r}, ${g}, ${b})`;
}
