import assert from 'node:assert/strict';
import { once } from 'node:events';
import { STATUS_CODES } from 'node:http';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { type TestContext, test } from 'node:test';
import { get, proxy, UPSTREAMS } from './harness.ts';

/**
 * The lean HTTP/1.1 path (lean-forward.ts) parses upstream responses itself: raw upstreams send
 * each framing and edge case byte by byte, split across writes, and the client must see what a
 * conforming HTTP/1.1 hop would forward.
 */

/** A raw upstream that answers every request head with the given pieces (written with a pause between). */
async function rawUpstream(t: TestContext, pieces: (n: number) => (string | Buffer)[], opts: { end?: boolean } = {}) {
  let conns = 0;
  const heads: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    conns++;
    sockets.add(s);
    s.on('error', () => {});
    let buf = '';
    s.on('data', async (d: Buffer) => {
      buf += d.toString('latin1');
      while (buf.includes('\r\n\r\n')) {
        const i = buf.indexOf('\r\n\r\n');
        heads.push(buf.slice(0, i));
        buf = buf.slice(i + 4);
        for (const p of pieces(heads.length)) {
          s.write(p);
          await new Promise((r) => setImmediate(r));
        }
        if (opts.end) s.end();
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return { port: (server.address() as AddressInfo).port, conns: () => conns, heads };
}

const cases: {
  name: string;
  pieces: (string | Buffer)[];
  end?: boolean;
  method?: string;
  status: number;
  /** When undici (which refuses bare LF) answers differently from the lean parser. */
  undici?: { status: number; body: string };
  body: string;
  headers?: Record<string, string | undefined>;
}[] = [
  {
    name: 'content-length split across writes',
    pieces: ['HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Le', 'ngth: 5\r\n\r\nhe', 'llo'],
    status: 200,
    body: 'hello',
    headers: { 'content-length': '5' },
  },
  {
    name: 'chunked with extensions, split inside a size line',
    pieces: [
      'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n3;x=1\r\nabc\r\n1',
      '0\r\n0123456789abcdef\r\n0\r\n\r\n',
    ],
    status: 200,
    body: 'abc0123456789abcdef',
    headers: { 'transfer-encoding': 'chunked' },
  },
  {
    name: 'body until close',
    pieces: ['HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nto the', ' end'],
    end: true,
    status: 200,
    body: 'to the end',
  },
  {
    name: '1xx before the answer is skipped',
    pieces: [
      'HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok',
    ],
    status: 201,
    body: 'ok',
  },
  {
    name: 'missing content-type is sniffed',
    pieces: ['HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\n<html><b>x</b>.'],
    status: 200,
    body: '<html><b>x</b>.',
    headers: { 'content-type': 'text/html; charset=utf-8' },
  },
  {
    name: 'empty body gets no content-type',
    pieces: ['HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'],
    status: 200,
    body: '',
    headers: { 'content-type': undefined },
  },
  {
    name: 'HEAD answer has no body',
    method: 'HEAD',
    pieces: ['HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 99\r\n\r\n'],
    status: 200,
    body: '',
    headers: { 'content-length': '99' },
  },
  {
    name: '204 without framing',
    pieces: ['HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n'],
    status: 204,
    body: '',
    headers: { 'x-a': '1' },
  },
  {
    name: 'hop-by-hop and Connection-named headers dropped',
    pieces: [
      'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: x-secret\r\nX-Secret: 1\r\nKeep-Alive: timeout=5\r\nX-Kept: yes\r\nContent-Length: 1\r\n\r\n.',
    ],
    status: 200,
    body: '.',
    headers: { 'x-secret': undefined, 'keep-alive': undefined, 'x-kept': 'yes' },
  },
  { name: 'malformed status line: 502', pieces: ['HTTX/1.1 200 OK\r\n\r\n'], end: true, status: 502, body: '' },
  {
    name: 'invalid content-length: 502',
    pieces: ['HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n'],
    end: true,
    status: 502,
    body: '',
  },
  { name: 'closed before the head: 502', pieces: ['HTTP/1.1 200 OK\r\nContent-'], end: true, status: 502, body: '' },
  {
    name: 'bare LF line endings are read as Go reads them',
    pieces: ['HTTP/1.1 200 OK\nContent-Type: text/plain\nX-A: 1\nContent-Length: 2\n\nok'],
    // undici's llhttp refuses bare LF: a 502 at once, never a hang (docs/compat-http.md).
    undici: { status: 502, body: '' },
    status: 200,
    body: 'ok',
    headers: { 'x-a': '1' },
  },
  {
    name: 'bare LF head split across writes',
    pieces: ['HTTP/1.1 200 OK\nContent-Type: text/plain\nContent-Length: 2\n', '\nok'],
    // undici's llhttp refuses bare LF: a 502 at once, never a hang (docs/compat-http.md).
    undici: { status: 502, body: '' },
    status: 200,
    body: 'ok',
  },
  {
    // The head ends at the bare-LF empty line, not at the CRLFCRLF further on.
    name: 'bare LF end of head before a later CRLFCRLF',
    pieces: ['HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\n\nokX-B: 1\r\n\r\n'],
    end: true,
    undici: { status: 502, body: '' },
    status: 200,
    body: 'ok',
    headers: { 'x-b': undefined, 'content-length': '2' },
  },
  {
    name: 'header values lose the spaces and tabs around them',
    pieces: ['HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-A: \t a b \t\r\nX-C:c\r\nContent-Length:  2 \r\n\r\nok'],
    status: 200,
    body: 'ok',
    headers: { 'x-a': 'a b', 'x-c': 'c', 'content-length': '2' },
  },
  {
    name: 'Content-Length: +5: 502',
    pieces: ['HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello'],
    end: true,
    status: 502,
    body: '',
  },
  {
    name: 'differing duplicate Content-Length: 502',
    pieces: ['HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!'],
    end: true,
    status: 502,
    body: '',
  },
  {
    name: 'obs-fold: 502',
    pieces: ['HTTP/1.1 200 OK\r\nX-A: 1\r\n 2\r\nContent-Length: 2\r\n\r\nok'],
    end: true,
    status: 502,
    body: '',
  },
  {
    name: 'NUL in a header value: 502',
    pieces: ['HTTP/1.1 200 OK\r\nX-A: a\u0000b\r\nContent-Length: 2\r\n\r\nok'],
    end: true,
    status: 502,
    body: '',
  },
  {
    name: 'space in a header name: 502',
    pieces: ['HTTP/1.1 200 OK\r\nX A: 1\r\nContent-Length: 2\r\n\r\nok'],
    end: true,
    status: 502,
    body: '',
  },
  {
    name: 'bad status line digits: 502',
    pieces: ['HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n'],
    end: true,
    status: 502,
    body: '',
  },
  {
    name: '204 with a body: no body, no content-length forwarded',
    pieces: ['HTTP/1.1 204 No Content\r\nContent-Length: 5\r\nX-A: 1\r\n\r\nhello'],
    end: true,
    status: 204,
    body: '',
    headers: { 'content-length': undefined, 'x-a': '1' },
  },
  {
    name: '304 keeps its validators, carries no body',
    pieces: ['HTTP/1.1 304 Not Modified\r\nETag: "x"\r\nContent-Length: 5\r\n\r\n'],
    status: 304,
    body: '',
    headers: { etag: '"x"' },
  },
];

for (const up of UPSTREAMS)
  for (const c of cases)
    for (const method of c.method !== undefined ? [c.method] : ['GET', 'POST']) {
      test(`${up.name} path: ${method}: ${c.name}`, { timeout: 20_000 }, async (t) => {
        const be = await rawUpstream(t, () => c.pieces, { end: c.end });
        const p = await proxy(t, `route add s / http://127.0.0.1:${be.port}/`, {}, { lean: up.lean, bare: up.bare });
        const r = await get(p.port, '/x?q=1', {}, method, method === 'POST' ? 'body' : undefined);
        const want = up.lean && method !== 'POST' ? c : { ...c, ...c.undici };
        assert.equal(r.status, want.status);
        assert.equal(r.statusMessage, STATUS_CODES[want.status]);
        assert.equal(r.text, want.body);
        if (want.status === c.status)
          for (const [k, v] of Object.entries(c.headers ?? {})) assert.equal(r.headers[k], v, k);
        assert.match(be.heads[0] ?? '', new RegExp(`^${method} /x\\?q=1 HTTP/1\\.1\r\n`));
        assert.match(be.heads[0] ?? '', /\r\nHost: 127\.0\.0\.1:\d+\r\n/i);
        assert.equal(p.metrics.requests[0]?.status, want.status, 'metrics see the status the client saw');
      });
    }

test('lean path: keep-alive connection reused, Connection: close is not', async (t) => {
  const up = await rawUpstream(t, (n) => [
    `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1\r\n${n === 2 ? 'Connection: close\r\n' : ''}\r\n${n}`,
  ]);
  const p = await proxy(t, `route add s / http://127.0.0.1:${up.port}/`);
  assert.equal((await get(p.port, '/')).text, '1');
  assert.equal((await get(p.port, '/')).text, '2');
  assert.equal(up.conns(), 1);
  assert.equal((await get(p.port, '/')).text, '3');
  assert.equal(up.conns(), 2);
});

test('lean path: client gone mid-body is a 499 and the upstream connection is dropped', async (t) => {
  const sockets: Socket[] = [];
  const server = createServer((s) => {
    sockets.push(s);
    s.on('error', () => {});
    s.once('data', () => s.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\npartial'));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  const p = await proxy(t, `route add s / http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
  const { request } = await import('node:http');
  await new Promise<void>((resolve) => {
    const req = request({ host: '127.0.0.1', port: p.port, path: '/', agent: false }, (res) => {
      res.once('data', () => req.destroy());
    });
    req.on('error', () => {});
    req.on('close', () => resolve());
    req.end();
  });
  const deadline = Date.now() + 3000;
  while (!(p.metrics.requests.length > 0 && sockets[0]?.destroyed) && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(p.metrics.requests, [{ service: 's', status: 499 }]);
  assert.equal(sockets[0]?.destroyed, true);
});

test('lean path: a large body under back-pressure leaves the pooled connection usable', async (t) => {
  const { backend } = await import('./harness.ts');
  const big = Buffer.alloc(1 << 20, 'z');
  const be = await backend(t, (req, res) => {
    if (req.url === '/chunked') {
      res.write(big.subarray(0, big.length >> 1));
      setImmediate(() => res.end(big.subarray(big.length >> 1)));
    } else res.end(req.method === 'HEAD' ? undefined : 'small');
  });
  const p = await proxy(t, `route add s / ${be.url}/`);
  for (let i = 0; i < 3; i++) {
    const r = await get(p.port, '/chunked');
    assert.equal(r.body.length, big.length);
    assert.equal((await get(p.port, '/next', {}, 'HEAD')).status, 200);
    assert.equal((await get(p.port, '/next')).text, 'small');
  }
});
