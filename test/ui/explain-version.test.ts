import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { memoryLogger } from '../../src/log/logger.ts';
import { buildTable } from '../../src/routes/index.ts';
import { TableStore } from '../../src/routes/table-store.ts';
import { TableUpdater } from '../../src/runtime/table-updater.ts';
import { TableVersions } from '../../src/ui/versions.ts';
import { BUILD, startTestAdmin } from './helpers.ts';

/**
 * History → "explain against table version N": what a request would have done before a change.
 * The admin server numbers the tables it sees go live and keeps the texts the history still shows.
 */

const V1 = 'route add web example.com/ http://10.0.0.1:8080/';
const V2 = 'route add web example.com/ http://10.0.0.2:9090/';

type Answer = {
  version?: number;
  current?: number;
  error?: string;
  result: { target: { url: string } } | null;
};

async function real(t: Parameters<typeof startTestAdmin>[0], opts: { historySize?: number; build?: boolean } = {}) {
  const store = new TableStore();
  const build = (text: string) => buildTable(text, BUILD);
  const updater = new TableUpdater({
    store,
    log: memoryLogger('INFO'),
    build,
    routesFormat: 'delta',
    coalesceMs: 0,
    historySize: opts.historySize ?? 100,
  });
  t.after(() => updater.close());
  const a = await startTestAdmin(t, {
    extra: { store, updater, ...(opts.build === false ? {} : { build }) },
  });
  const push = (text: string, index: number) => {
    updater.update({ text, cause: 'consul', index });
    updater.flush();
  };
  return { a, push, updater };
}

async function explainAt(url: string, version: number | string | undefined, method: 'GET' | 'POST' = 'POST') {
  const target = 'http://example.com/x';
  const r =
    method === 'GET'
      ? await fetch(
          `${url}/api/explain?url=${encodeURIComponent(target)}${version === undefined ? '' : `&version=${version}`}`,
        )
      : await fetch(`${url}/api/explain`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Origin: url },
          body: JSON.stringify({ url: target, headers: {}, ...(version === undefined ? {} : { version }) }),
        });
  return { status: r.status, body: (await r.json()) as Answer };
}

describe('/api/explain against an older table version', () => {
  test('after a route change, the previous version still gives the old target', async (t) => {
    const { a, push } = await real(t);
    push(V1, 10);
    push(V2, 11);
    const hist = (await (await fetch(`${a.url}/api/routes/history`)).json()) as {
      index: number;
      version?: number;
      before?: number;
    }[];
    assert.deepEqual(
      hist.map((e) => [e.index, e.version, e.before]),
      [
        [10, 1, undefined],
        [11, 2, 1],
      ],
    );
    const old = await explainAt(a.url, 1);
    assert.equal(old.status, 200);
    assert.equal(old.body.result?.target.url, 'http://10.0.0.1:8080/');
    assert.equal(old.body.version, 1);
    assert.equal(old.body.current, 2);
    const viaGet = await explainAt(a.url, '1', 'GET');
    assert.equal(viaGet.body.result?.target.url, 'http://10.0.0.1:8080/');
    // no version, or the current one: the live table
    assert.equal((await explainAt(a.url, undefined)).body.result?.target.url, 'http://10.0.0.2:9090/');
    assert.equal((await explainAt(a.url, 2, 'GET')).body.result?.target.url, 'http://10.0.0.2:9090/');
    assert.equal((await explainAt(a.url, undefined)).body.version, 2);
  });

  test('a failed build is tagged with the table that stayed live, and has no "before"', async (t) => {
    const { a, push } = await real(t);
    push(V1, 10);
    push('route add web example.com/ not a url at all ::', 11);
    const hist = (await (await fetch(`${a.url}/api/routes/history`)).json()) as {
      version?: number;
      before?: number;
      error?: string;
    }[];
    assert.ok(hist[1]?.error);
    assert.deepEqual(
      hist.map((e) => [e.version, e.before]),
      [
        [1, undefined],
        [1, undefined],
      ],
    );
  });

  test('bad, unknown and forgotten versions are JSON errors', async (t) => {
    const { a, push } = await real(t, { historySize: 2 });
    for (let i = 1; i <= 5; i++) push(`route add web example.com/ http://10.0.0.${i}:80/`, i);
    assert.equal((await explainAt(a.url, 'x', 'GET')).status, 400);
    assert.equal((await explainAt(a.url, 0)).status, 400);
    assert.equal((await explainAt(a.url, -3)).status, 400);
    assert.equal((await explainAt(a.url, 1.5)).status, 400);
    assert.equal((await explainAt(a.url, '9'.repeat(30), 'GET')).status, 400);
    const unknown = await explainAt(a.url, 6);
    assert.equal(unknown.status, 404);
    assert.match(unknown.body.error ?? '', /no table version 6 \(current: 5\)/);
    // the history keeps 2 entries (versions 4 and 5, "before" of 4 is 3): 3 is kept, 1 is gone
    assert.equal((await explainAt(a.url, 3)).body.result?.target.url, 'http://10.0.0.3:80/');
    const gone = await explainAt(a.url, 1);
    assert.equal(gone.status, 410);
    assert.match(gone.body.error ?? '', /no longer kept/);
  });

  test('a cross-site page cannot make the server rebuild old tables through GET', async (t) => {
    const { a, push } = await real(t);
    push(V1, 10);
    push(V2, 11);
    const get = (version: number, headers: Record<string, string>) =>
      fetch(`${a.url}/api/explain?url=${encodeURIComponent('http://example.com/')}&version=${version}`, { headers });
    // an <img> or fetch from another site: refused before anything is built
    assert.equal((await get(1, { 'Sec-Fetch-Site': 'cross-site' })).status, 403);
    assert.equal((await get(1, { Origin: 'http://evil.example' })).status, 403);
    // the live table costs nothing to look at: allowed as before
    assert.equal((await get(2, { 'Sec-Fetch-Site': 'cross-site' })).status, 200);
    // the UI (same origin) and curl (no Origin, no Sec-Fetch-Site) may
    assert.equal((await get(1, { 'Sec-Fetch-Site': 'same-origin' })).status, 200);
    assert.equal((await get(1, {})).status, 200);
  });

  test('without a build function only the live version can be explained', async (t) => {
    const { a, push } = await real(t, { build: false });
    push(V1, 10);
    push(V2, 11);
    assert.equal((await explainAt(a.url, 2)).status, 200);
    assert.equal((await explainAt(a.url, 1)).status, 501);
  });
});

describe('TableVersions: bounded, unchanged lines shared', () => {
  test('at most `limit` versions and `maxChars` characters of older versions are kept', () => {
    const v = new TableVersions({ limit: 3 });
    const big = Array.from({ length: 300 }, (_, i) => `route add s${i} h/${i} http://10.0.0.1:80/`).join('\n');
    for (let i = 1; i <= 6; i++) v.swapped(buildTable(`${big}\nroute add x /v${i} http://10.0.0.9:80/`, BUILD), []);
    assert.equal(v.current, 6);
    // the version limit keeps 3 versions; the live one always
    assert.equal(v.text(3), undefined);
    assert.match(v.text(4) ?? '', /\/v4 /);
    assert.match(v.text(6) ?? '', /\/v6 /);
    // whole texts replaced each time: each older version keeps a whole text, over the budget
    const whole = (i: number) => big.replace(/h\//g, `h${i}/`);
    const tight = new TableVersions({ limit: 100, maxChars: Math.round(whole(1).length * 1.5) });
    for (let i = 1; i <= 3; i++) tight.swapped(buildTable(whole(i), BUILD), []);
    assert.equal(tight.text(1), undefined, 'over the character budget');
    assert.ok(tight.text(2), 'one older version fits');
    assert.ok(tight.text(3), 'the live version is kept whatever its size');
  });

  test('every kept version gives back its exact text over random edits (shared start and end lines)', () => {
    let seed = 7;
    const r = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    const v = new TableVersions({ limit: 8 });
    let lines = Array.from({ length: 30 }, (_, i) => `route add s${i} /p${i} http://10.0.0.${i}:80/`);
    const texts: string[] = [];
    for (let step = 0; step < 300; step++) {
      const roll = r();
      const at = Math.floor(r() * (lines.length + 1));
      if (roll < 0.3 && lines.length > 0) lines.splice(Math.min(at, lines.length - 1), 1);
      else if (roll < 0.6) lines.splice(at, 0, `route add n${step} /n${step} http://10.0.1.${step % 250}:80/`);
      else if (roll < 0.7) lines = lines.map((l) => (r() < 0.1 ? `${l} tags "t"` : l));
      else if (roll < 0.8) lines.splice(at, 0, '', '# comment');
      // with and without a last newline, identical texts, an empty one
      const text = roll > 0.97 ? '' : roll > 0.9 ? (texts.at(-1) ?? '') : `${lines.join('\n')}${r() < 0.5 ? '\n' : ''}`;
      texts.push(text);
      v.swapped({ source: text } as never, []);
      for (let back = 0; back < 8 && back < texts.length; back++)
        assert.equal(v.text(texts.length - back), texts[texts.length - 1 - back], `step ${step} version -${back}`);
    }
  });

  test('an older version keeps only the lines it does not share with the next one', () => {
    const v = new TableVersions();
    const lines = Array.from({ length: 1000 }, (_, i) => `route add s${i} example.com/p${i} http://10.0.0.1:80/`);
    const text = lines.join('\n');
    v.swapped(buildTable(text, BUILD), []);
    const changed = [...lines];
    changed[500] = 'route add s500 example.com/p500 http://10.0.0.2:80/';
    v.swapped(buildTable(changed.join('\n'), BUILD), []);
    assert.equal(v.text(1), text);
    assert.equal(v.keptChars, (lines[500] as string).length, 'that one line');
  });
});
