import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildTable, routeAt } from '../../src/routes/index.ts';
import { OPTS } from './helpers.ts';

test('routeAt finds every route of a table by host and path, and nothing else', () => {
  let seed = 11;
  const r = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  const hosts = ['', 'a.com', 'A.com', 'b.com:8080', '*.a.com', ':1234', 'z.org', 'é.net', 'a.com.', 'aa.com'];
  const paths = ['/', '/p', '/p/q', '/P', '/x/', '/p*', ''];
  for (let round = 0; round < 40; round++) {
    const lines: string[] = [];
    for (let i = 0; i < 60; i++) {
      const h = hosts[Math.floor(r() * hosts.length)] as string;
      const p = h.startsWith(':') ? '' : (paths[Math.floor(r() * (paths.length - 1))] as string);
      const scheme = h.startsWith(':') ? 'tcp' : 'http';
      lines.push(`route add s${i % 7} ${h}${p} ${scheme}://10.0.${round}.${i}:80/`);
    }
    const t = buildTable(lines.join('\n'), { ...OPTS, skipBadLines: true });
    for (const route of t.routes)
      assert.equal(routeAt(t.routes, route.host, route.path), route, `${route.host} ${route.path}`);
    const has = new Set(t.routes.map((x) => `${x.host}\u0000${x.path}`));
    for (const h of [...hosts, 'c.com', 'zzz'])
      for (const p of [...paths, '/nope'])
        if (!has.has(`${h}\u0000${p}`)) assert.equal(routeAt(t.routes, h, p), undefined, `${h} ${p}`);
  }
});
