import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { type TestContext, test } from 'node:test';
import { backend, echo, proxy, UPSTREAMS } from './harness.ts';

/**
 * Hostile requests from the client side, through both upstream paths: Host rules of RFC 9112
 * section 3.2 (as Go's server applies them), the header-count bound, and a smuggling regression set.
 * The backend counts what reaches it: a refused request never produces an upstream request, and
 * nothing hidden in a body ever becomes one.
 */

/** Writes raw bytes and collects everything until the proxy closes (or a 10 s safety deadline). */
function raw(port: number, bytes: string): Promise<string> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    let out = '';
    s.on('data', (d: Buffer) => {
      out += d.toString('latin1');
    });
    s.on('error', () => {});
    s.on('close', () => resolve(out));
    s.setTimeout(10_000, () => s.destroy());
    s.write(bytes, 'latin1');
  });
}

/** An echo backend that records the request lines it served. */
async function countingBackend(t: TestContext) {
  const seen: { url: string; host: string; bodyLength: number }[] = [];
  const be = await backend(t, (req, res) => {
    let n = 0;
    req.on('data', (d: Buffer) => {
      n += d.length;
    });
    req.on('end', () => seen.push({ url: req.url ?? '', host: req.headers.host ?? '', bodyLength: n }));
    echo(req, res);
  });
  return { ...be, seen };
}

const statusOf = (reply: string) => Number(/^HTTP\/1\.[01] (\d{3}) /.exec(reply)?.[1] ?? 0);

for (const up of UPSTREAMS) {
  test(`${up.name}: absolute-form target routes by its own authority and replaces Host`, async (t) => {
    const be = await countingBackend(t);
    const p = await proxy(
      t,
      `route add sa a.test/ ${be.url}/\nroute add sb b.test/ ${be.url}/`,
      {},
      { lean: up.lean, bare: up.bare },
    );
    const reply = await raw(p.port, 'GET http://b.test/x HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n');
    assert.equal(statusOf(reply), 200, reply);
    assert.deepEqual(p.metrics.requests, [{ service: 'sb', status: 200 }]);
    assert.deepEqual(be.seen, [{ url: '/x', host: 'b.test', bodyLength: 0 }]);
  });

  test(`${up.name}: two differing Host headers are a 400 and reach no upstream`, async (t) => {
    const be = await countingBackend(t);
    const p = await proxy(t, `route add s / ${be.url}/`, {}, { lean: up.lean, bare: up.bare });
    const reply = await raw(p.port, 'GET /x HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\nConnection: close\r\n\r\n');
    assert.match(reply, /^HTTP\/1\.1 400 Bad Request\r\n/);
    assert.deepEqual(be.seen, []);
  });

  test(`${up.name}: HTTP/1.0 without Host routes by path and sends the target's host`, async (t) => {
    const be = await countingBackend(t);
    const p = await proxy(t, `route add s /x ${be.url}/`, {}, { lean: up.lean, bare: up.bare });
    const reply = await raw(p.port, 'GET /x HTTP/1.0\r\n\r\n');
    assert.equal(statusOf(reply), 200, reply);
    assert.deepEqual(be.seen, [{ url: '/x', host: `127.0.0.1:${be.port}`, bodyLength: 0 }]);
  });

  test(`${up.name}: more request header lines than the bound are a 431, never a silent drop`, async (t) => {
    const be = await countingBackend(t);
    const p = await proxy(t, `route add s / ${be.url}/`, {}, { lean: up.lean, bare: up.bare });
    // 2,101 short lines (under the 16 KiB head size) with Content-Length as line 2,102.
    let head = 'POST /x HTTP/1.1\r\nHost: a\r\n';
    for (let i = 0; i < 2100; i++) head += 'a:1\r\n';
    const reply = await raw(p.port, `${head}Content-Length: 5\r\nConnection: close\r\n\r\nhello`);
    assert.match(reply, /^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
    assert.deepEqual(be.seen, []);
  });
}

const SMUGGLED = 'GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n';
const smuggling: { name: string; bytes: string }[] = [
  {
    name: 'Content-Length with Transfer-Encoding',
    bytes: `POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`,
  },
  {
    name: 'two differing Content-Length',
    bytes: `POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 40\r\n\r\nhello${SMUGGLED}`,
  },
  {
    name: 'Transfer-Encoding: chunked, identity',
    bytes: `POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n${SMUGGLED}`,
  },
  {
    name: 'obs-fold in a request header',
    bytes: `GET /x HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`,
  },
  { name: 'bare LF line endings', bytes: `GET /x HTTP/1.1\nHost: a\nContent-Length: 0\n\n${SMUGGLED}` },
  {
    name: 'invalid chunk size',
    bytes: `POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n${SMUGGLED}`,
  },
  {
    name: 'huge chunk extension',
    bytes: `POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;${'e'.repeat(40_000)}\r\nhello\r\n0\r\n\r\n${SMUGGLED}`,
  },
];

for (const up of UPSTREAMS)
  for (const c of smuggling)
    test(`${up.name}: smuggling: ${c.name}: 400, nothing smuggled upstream`, async (t) => {
      const be = await countingBackend(t);
      const p = await proxy(t, `route add s / ${be.url}/`, {}, { lean: up.lean, bare: up.bare });
      const reply = await raw(p.port, c.bytes);
      assert.match(reply, /^HTTP\/1\.1 400 Bad Request\r\n/, reply.slice(0, 200));
      assert.equal((reply.match(/HTTP\/1\.1 \d{3} /g) ?? []).length, 1, 'exactly one answer');
      assert.deepEqual(
        be.seen.filter((s) => s.url === '/smuggled'),
        [],
      );
      // A request refused before its body was read never reaches the upstream whole.
      assert.ok(be.seen.every((s) => s.bodyLength === 0));
    });

// The same set after a harmless request on the same connection, in the same write: on the bare
// client side the first is served there and the hostile one is parsed again from its first byte
// (by the bare parser or by node:http after the hand-over), never from a guessed offset.
for (const up of UPSTREAMS)
  for (const c of smuggling)
    test(`${up.name}: smuggling after a pipelined GET: ${c.name}: 400, nothing smuggled upstream`, async (t) => {
      const be = await countingBackend(t);
      const p = await proxy(t, `route add s / ${be.url}/`, {}, { lean: up.lean, bare: up.bare });
      const reply = await raw(p.port, `GET /first HTTP/1.1\r\nHost: a\r\n\r\n${c.bytes}`);
      const statuses = (reply.match(/HTTP\/1\.1 \d{3} /g) ?? []).map((s) => s.slice(9, 12));
      assert.equal(statuses.at(-1), '400', reply.slice(0, 300));
      assert.deepEqual(
        be.seen.filter((s) => s.url !== '/first'),
        [],
      );
    });
