import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Table } from '../../src/routes/index.ts';
import { buildTable } from '../../src/routes/index.ts';
import {
  applyHunks,
  type RoutesMessage,
  RouteTextReceiver,
  RouteTextSender,
  textHunks,
} from '../../src/runtime/route-sync.ts';
import { OPTS, req } from '../routes/helpers.ts';

/**
 * The route text reaches the workers as deltas (route-sync.ts). What a worker builds from the
 * deltas it received must be the table a fresh build of the primary's text gives, whatever the
 * changes (services, manual overrides after them) and whatever message the worker missed.
 */

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A registry in miniature: route lines per service (fabio's order: all sorted descending), then the overrides. */
class Catalog {
  readonly services = new Map<string, string[]>();
  manual: string[] = [];

  text(): string {
    const lines = [...this.services.values()].flat().sort((a, b) => (a < b ? 1 : a > b ? -1 : 0));
    return `${lines.join('\n')}\n${this.manual.join('\n')}`;
  }
}

function change(r: () => number, c: Catalog): void {
  const n = Math.floor(r() * 400);
  const svc = `svc-${n}`;
  const roll = r();
  if (roll < 0.7) {
    // a flap: the service's instance set changes (all its lines at once, as the registry emits them)
    const k = Math.floor(r() * 4);
    if (k === 0) c.services.delete(svc);
    else
      c.services.set(
        svc,
        Array.from(
          { length: k },
          (_, i) =>
            `route add ${svc} ${n % 3 === 0 ? `h${n % 5}.com` : ''}/${svc} http://10.1.${i}.${n % 250}:${8000 + Math.floor(r() * 3)}/`,
        ),
      );
  } else if (roll < 0.85) {
    const pick = `svc-${Math.floor(r() * 400)}`;
    const over = [
      `route del ${pick}`,
      `route weight ${pick} /${pick} weight 0.${1 + Math.floor(r() * 8)}`,
      `route weight /${pick} weight 0.5 tags "x"`,
      `route del ${pick} /${pick} http://10.1.0.${Number(pick.slice(4)) % 250}:8000/`,
    ];
    if (r() < 0.3) c.manual = [];
    else c.manual.push(over[Math.floor(r() * over.length)] as string);
  } else {
    // several services at once (a coalesced build)
    for (let k = 0; k < 5; k++) change(r, c);
  }
}

function observe(t: Table): unknown {
  return { source: t.source, print: t.print(), dump: t.dump(), warnings: t.warnings };
}

test('textHunks/applyHunks: any text to any other, on whole lines', () => {
  const r = rng(7);
  for (let round = 0; round < 300; round++) {
    const mk = (n: number) => Array.from({ length: n }, () => `l${Math.floor(r() * 50)}`).join('\n');
    let a = mk(Math.floor(r() * 3000));
    const lines = a.split('\n');
    for (let k = Math.floor(r() * 6); k > 0; k--) {
      const i = Math.floor(r() * (lines.length + 1));
      if (r() < 0.5) lines.splice(i, 1);
      else lines.splice(i, 0, `new${Math.floor(r() * 9)}`);
    }
    let b = lines.join('\n');
    if (r() < 0.1) b = mk(Math.floor(r() * 100));
    if (r() < 0.05) a = '';
    const hs = textHunks(a, b);
    assert.equal(applyHunks(a, hs), b, `round ${round}`);
    for (let i = 1; i < hs.length; i++)
      assert.ok((hs[i - 1]?.at ?? 0) + (hs[i - 1]?.del ?? 0) <= (hs[i]?.at ?? 0), 'in order, apart');
  }
});

test('two services that changed apart are sent as two small hunks, not the text between them', () => {
  const lines = Array.from({ length: 20_000 }, (_, i) => `route add s${i} /s${i} http://10.0.0.1:${i}/`).sort();
  const a = lines.join('\n');
  lines[100] = 'route add s100 /s100 http://10.0.0.2:1/';
  lines[19_000] = 'route add s19000 /s19000 http://10.0.0.2:1/';
  const hs = textHunks(a, lines.join('\n'));
  assert.equal(applyHunks(a, hs), lines.join('\n'));
  const size = hs.reduce((n, h) => n + h.ins.length, 0);
  assert.ok(size < 10_000, `delta of ${size} characters for two changed lines of ${a.length}`);
});

test('workers building from deltas (with missed messages and restarts) equal fresh builds of the primary text', () => {
  for (let seed = 1; seed <= 8; seed++) {
    const r = rng(seed * 31337);
    const cat = new Catalog();
    for (let i = 0; i < 200; i++) change(r, cat);
    const sender = new RouteTextSender();
    let worker = new RouteTextReceiver();
    let table: Table | undefined;
    let resyncs = 0;
    let deltas = 0;
    const deliver = (m: RoutesMessage | undefined) => {
      if (m === undefined) return;
      const got = worker.receive(m);
      if (got === 'resync') {
        resyncs++;
        deliver(sender.full()); // the primary answers the worker's request with the whole text
        return;
      }
      if (m.t === 'delta') deltas++;
      if (table?.source !== got) table = buildTable(got, OPTS, table);
    };
    deliver(sender.next(cat.text()));
    for (let step = 0; step < 150; step++) {
      change(r, cat);
      const text = cat.text();
      const m = sender.next(text);
      const roll = r();
      if (roll < 0.05) {
        // lost: the worker learns it from the next delta's base
      } else if (roll < 0.08) {
        worker = new RouteTextReceiver(); // a restarted worker: its first message is a delta
        table = undefined;
        deliver(m);
      } else deliver(m);
      if (roll < 0.05) continue;
      assert.equal(worker.text, text, `seed ${seed} step ${step}`);
      const fresh = buildTable(text, OPTS);
      assert.deepEqual(observe(table as Table), observe(fresh), `seed ${seed} step ${step}`);
    }
    assert.ok(deltas > 50, `mostly deltas (${deltas})`);
    assert.ok(resyncs > 0, 'a gap was resynchronised');
  }
});

test('an override still applies after a later service delta (service routes first, then overrides)', () => {
  const cat = new Catalog();
  cat.services.set('a', ['route add a /a http://10.0.0.1:80/', 'route add a /a http://10.0.0.2:80/']);
  cat.services.set('b', ['route add b /b http://10.0.0.3:80/']);
  cat.manual = ['route weight a /a weight 0.9 tags "x"', 'route del b'];
  const sender = new RouteTextSender();
  const worker = new RouteTextReceiver();
  let t = buildTable(worker.receive(sender.next(cat.text())) as string, OPTS);
  assert.equal(t.lookup(req('', '/b')), undefined);
  // a new instance of b and of a arrive after the overrides were written
  cat.services.set('b', ['route add b /b http://10.0.0.3:80/', 'route add b /b http://10.0.0.4:80/']);
  cat.services.set('a', ['route add a /a http://10.0.0.1:80/']);
  const m = sender.next(cat.text());
  assert.equal(m.t, 'delta');
  const text = worker.receive(m) as string;
  t = buildTable(text, OPTS, t);
  assert.equal(t.lookup(req('', '/b')), undefined, 'route del b still removes b');
  assert.deepEqual(observe(t), observe(buildTable(cat.text(), OPTS)));
  assert.match(text, /route add a \/a http:\/\/10\.0\.0\.1:80\/\nroute weight a/);
});

test("the primary's edit goes to the workers as it is, and the worker builds from it", () => {
  const cat = new Catalog();
  for (let s = 0; s < 50; s++) cat.services.set(`s${s}`, [`route add s${s} h${s}.com/ http://10.0.0.${s}:80/`]);
  const sender = new RouteTextSender();
  const worker = new RouteTextReceiver();
  let text = cat.text();
  let t = buildTable(worker.receive(sender.next(text)) as string, OPTS);
  assert.equal(worker.edit, undefined);
  for (let step = 0; step < 30; step++) {
    const s = (step * 7) % 50;
    if (step % 3 === 0) cat.services.delete(`s${s}`);
    else cat.services.set(`s${s}`, [`route add s${s} h${s}.com/ http://10.0.${step}.${s}:80/`]);
    const next = cat.text();
    // an edit wider than needed, not whole lines: sent as it is, never recomputed from the texts
    let p = 0;
    while (text[p] === next[p]) p++;
    let q = 0;
    while (q < text.length - p && q < next.length - p && text[text.length - 1 - q] === next[next.length - 1 - q]) q++;
    const at = Math.max(0, p - 5);
    const hunks = [{ at, del: text.length - q - at, ins: next.slice(at, next.length - q) }];
    const m = sender.next(next, [{ base: text, hunks }]);
    assert.equal(m.t === 'delta' ? m.hunks : undefined, hunks);
    const got = worker.receive(m) as string;
    assert.equal(got, next);
    assert.deepEqual(worker.edit, { base: text, hunks });
    t = buildTable(got, OPTS, t, worker.edit && [worker.edit]);
    assert.deepEqual(observe(t), observe(buildTable(next, OPTS)), `step ${step}`);
    text = next;
  }
});
