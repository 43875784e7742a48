import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { Matcher } from '../../src/routes/index.ts';
import { buildTable, parseRouteText, RouteSyntaxError } from '../../src/routes/index.ts';
import { OPTS, table } from './helpers.ts';

const word = fc.stringMatching(/^[a-z][a-z0-9-]{0,5}$/);
const host = fc.constantFrom('', 'a.com', 'b.com:8080', '*.c.com', 'x.*.d.org', '[ab].e.net');
const path = fc
  .array(fc.stringMatching(/^[a-zA-Z0-9._~-]{0,4}$/), { minLength: 0, maxLength: 4 })
  .map((s) => `/${s.join('/')}`);
const tag = fc.stringMatching(/^[a-zA-Z0-9_.:-]{1,6}$/);
const opt = fc
  .tuple(fc.stringMatching(/^[a-z]{1,6}$/), fc.stringMatching(/^[a-zA-Z0-9/._:-]{0,6}$/))
  .map(([k, v]) => `${k}=${v}`);
const addCmd = fc
  .record({
    svc: word,
    host,
    path,
    port: fc.integer({ min: 1, max: 65535 }),
    // multiples of 0.05: a share below 0.00005 would print as 0.0000 and not survive the trip
    weight: fc.option(
      fc.integer({ min: 1, max: 20 }).map((n) => n / 20),
      { nil: undefined },
    ),
    tags: fc.array(tag, { maxLength: 3 }),
    opts: fc.array(opt, { maxLength: 3 }),
  })
  .map((c) => {
    let s = `route add ${c.svc} ${c.host}${c.path} http://${c.svc}.svc:${c.port}/`;
    if (c.weight !== undefined) s += ` weight ${c.weight}`;
    if (c.tags.length > 0) s += ` tags "${c.tags.join(',')}"`;
    if (c.opts.length > 0) s += ` opts "${c.opts.join(' ')}"`;
    return s;
  });

/** Table text with the weight values taken out, and the weights themselves. */
function split(text: string): { lines: string[]; weights: number[] } {
  const lines: string[] = [];
  const weights: number[] = [];
  for (const l of text.split('\n').filter((x) => x !== '')) {
    const m = / weight (\S+)/.exec(l)!;
    weights.push(Number(m[1]));
    lines.push(l.replace(/ weight \S+/, ' weight W'));
  }
  return { lines, weights };
}

test('property: parse → build → print → parse round trip', () => {
  fc.assert(
    fc.property(fc.array(addCmd, { minLength: 1, maxLength: 25 }), (cmds) => {
      const t1 = table(cmds.join('\n'));
      const text1 = t1.print();
      const defs = parseRouteText(text1);
      // every printed line is one target of the table, in table order
      assert.equal(defs.length, t1.routes.flatMap((r) => r.targets.filter((x) => x.weight > 0)).length);
      const t2 = table(text1);
      const a = split(text1);
      const b = split(t2.print());
      assert.deepEqual(b.lines, a.lines);
      for (const [i, w] of a.weights.entries()) {
        assert.ok(Math.abs(w - (b.weights[i] as number)) <= 0.0002, `${w} vs ${b.weights[i]}`);
      }
    }),
    { numRuns: 150 },
  );
});

test('property: ring slot fractions stay within 0.02 of the printed weights', () => {
  fc.assert(
    fc.property(
      fc.array(fc.oneof(fc.constant(0), fc.double({ min: 0.0001, max: 3, noNaN: true })), {
        minLength: 2,
        maxLength: 8,
      }),
      (ws) => {
        const text = ws.map((w, i) => `route add s /x http://t${i}:1/${w > 0 ? ` weight ${w}` : ''}`).join('\n');
        const t = table(text);
        const slots = new Map<string, number>();
        let total = 0;
        for (const m of t.dump().matchAll(/addr=(\S+) weight \S+ slots (\d+)\/(\d+)/g)) {
          slots.set(m[1]!, Number(m[2]));
          total = Number(m[3]);
        }
        for (const tg of t.routes[0]!.targets) {
          const frac = (slots.get(tg.hostPort) ?? 0) / total;
          assert.ok(Math.abs(frac - tg.weight) <= 0.02, `${tg.url}: slots ${frac} weight ${tg.weight}`);
        }
      },
    ),
    { numRuns: 200 },
  );
});

const routesText = [
  'route add a / http://a/',
  'route add b *.x.com/p http://b/',
  'route add c a.com:443/ https://c/',
  'route add d {q,r}.com/ http://d/',
  'route add e /r https://$host/$path opts "redirect=302 strip=/r"',
  'route add f :9999 tcp://f:1',
  ...Array.from({ length: 12 }, (_, i) => `route add g${i} /deep/${i} http://g${i}/`),
].join('\n');
const tables = (['prefix', 'iprefix', 'glob'] as Matcher[]).flatMap((matcher) =>
  [false, true].map((globDisabled) => buildTable(routesText, { ...OPTS, matcher, globDisabled })),
);

test('property: lookup, lookupTcp and explain never throw on arbitrary strings', () => {
  fc.assert(
    fc.property(
      fc.string({ unit: 'binary' }),
      fc.string({ unit: 'binary' }),
      fc.boolean(),
      fc.option(fc.string(), { nil: undefined }),
      (h, p, tls, fwd) => {
        for (const t of tables) {
          const r = { host: h, path: p, tls, query: p, ...(fwd !== undefined ? { forwardedProto: fwd } : {}) };
          t.lookup(r);
          t.explain(r);
          t.lookupTcp(h);
        }
      },
    ),
    { numRuns: 500 },
  );
});

test('property: arbitrary route text builds or fails with a RouteSyntaxError', () => {
  const line = fc.oneof(
    addCmd,
    fc.string(),
    fc.constantFrom('route del a', 'route weight a /x weight 0.5', 'route add a /x[ http://a/'),
  );
  fc.assert(
    fc.property(fc.array(line, { maxLength: 8 }), fc.constantFrom<Matcher>('prefix', 'glob'), (lines, matcher) => {
      try {
        buildTable(lines.join('\n'), { ...OPTS, matcher });
      } catch (err) {
        assert.ok(err instanceof RouteSyntaxError, String(err));
        assert.match(err.message, /^line \d+: /);
      }
    }),
    { numRuns: 300 },
  );
});
