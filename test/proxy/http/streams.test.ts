import assert from 'node:assert/strict';
import { once } from 'node:events';
import { request } from 'node:http';
import { connect } from 'node:net';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { backend, echo, get, pathTest, proxy, until } from './harness.ts';

pathTest('websocket: upgrade tunnel echoes both ways, ws.conn gauge, no access log', async (t) => {
  const be = await backend(t, echo);
  let seenHeaders: Record<string, unknown> = {};
  be.server.on('upgrade', (req, socket) => {
    seenHeaders = req.headers;
    socket.on('error', () => {});
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    socket.pipe(socket);
  });
  const p = await proxy(t, `route add s /ws ${be.url}/ opts "strip=/ws"`);
  const req = request({
    host: '127.0.0.1',
    port: p.port,
    path: '/ws/chat',
    agent: false,
    headers: { connection: 'Upgrade', upgrade: 'websocket', host: 'a.com' },
  });
  req.end();
  const [res, socket] = (await once(req, 'upgrade')) as [
    import('node:http').IncomingMessage,
    import('node:net').Socket,
  ];
  assert.equal(res.statusCode, 101);
  socket.write('hello');
  const [data] = (await once(socket, 'data')) as [Buffer];
  assert.equal(data.toString(), 'hello');
  assert.equal(p.metrics.ws, 1);
  assert.equal(seenHeaders['x-forwarded-for'], '127.0.0.1');
  assert.equal(seenHeaders['x-forwarded-proto'], 'http');
  assert.equal(seenHeaders['x-forwarded-prefix'], '/ws');
  socket.destroy();
  await until(() => p.metrics.ws === 0);
  assert.equal(p.access.length, 0);
});

pathTest('websocket: upstream that does not answer 101 closes the client', async (t) => {
  const be = await backend(t, (_req, res) => res.end('no'));
  const p = await proxy(t, `route add s / ${be.url}/`);
  const req = request({
    host: '127.0.0.1',
    port: p.port,
    path: '/',
    agent: false,
    headers: { connection: 'Upgrade', upgrade: 'websocket' },
  });
  req.end();
  // Node's client sees a normal response (the upstream's first bytes) and no upgrade.
  const [res] = (await once(req, 'response')) as [import('node:http').IncomingMessage];
  assert.equal(res.statusCode, 200);
  res.resume();
  assert.equal(p.metrics.ws, 0);
});

pathTest('SSE: events arrive before the response ends', async (t) => {
  let release!: () => void;
  const released = new Promise<void>((r) => {
    release = r;
  });
  const be = await backend(t, async (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('data: one\n\n');
    await released;
    res.end('data: two\n\n');
  });
  const p = await proxy(t, `route add s / ${be.url}/`);
  const req = request({
    host: '127.0.0.1',
    port: p.port,
    path: '/',
    agent: false,
    headers: { accept: 'text/event-stream' },
  });
  req.end();
  const [res] = (await once(req, 'response')) as [import('node:http').IncomingMessage];
  const [first] = (await once(res, 'data')) as [Buffer];
  assert.equal(first.toString(), 'data: one\n\n');
  release();
  let rest = '';
  res.on('data', (d: Buffer) => {
    rest += d.toString();
  });
  await once(res, 'end');
  assert.equal(rest, 'data: two\n\n');
});

pathTest('gzip: matching content type compressed with Vary, others untouched', async (t) => {
  const body = 'hello world '.repeat(1000);
  const be = await backend(t, (req, res) => {
    res.writeHead(200, {
      'content-type': req.url === '/json' ? 'application/json' : 'text/plain; charset=utf-8',
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  });
  const p = await proxy(t, `route add s / ${be.url}/`, { 'proxy.gzip.contenttype': '^text/plain' });
  const z = await get(p.port, '/', { 'accept-encoding': 'gzip, br' });
  assert.equal(z.headers['content-encoding'], 'gzip');
  assert.equal(z.headers.vary, 'Accept-Encoding');
  assert.equal(z.headers['content-length'], undefined);
  assert.equal(gunzipSync(z.body).toString(), body);
  await until(() => p.access.length === 1);
  assert.match(p.access[0] ?? '', new RegExp(` 200 ${z.body.length}\\n$`));
  const plain = await get(p.port, '/', {});
  assert.equal(plain.headers['content-encoding'], undefined);
  assert.equal(plain.headers.vary, 'Accept-Encoding');
  assert.equal(plain.text, body);
  const json = await get(p.port, '/json', { 'accept-encoding': 'gzip' });
  assert.equal(json.headers['content-encoding'], undefined);
  const sse = await get(p.port, '/', { 'accept-encoding': 'gzip', accept: 'text/event-stream' });
  assert.equal(sse.headers['content-encoding'], undefined);
});

const MB = 1024 * 1024;
function source(total: number): Readable {
  const chunk = Buffer.alloc(64 * 1024, 97);
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= total) return void this.push(null);
      sent += chunk.length;
      this.push(chunk);
    },
  });
}

pathTest('100 MB upload and 100 MB download stream with bounded memory', async (t) => {
  const be = await backend(t, (req, res) => {
    if (req.method === 'POST') {
      let n = 0;
      req.on('data', (d: Buffer) => {
        n += d.length;
      });
      req.on('end', () => res.end(String(n)));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    source(100 * MB).pipe(res);
  });
  const p = await proxy(t, `route add s / ${be.url}/`);
  const base = process.memoryUsage().rss;
  let peak = base;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 20);
  t.after(() => clearInterval(sampler));
  const up = await new Promise<string>((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: p.port,
        path: '/',
        method: 'POST',
        agent: false,
        headers: { 'transfer-encoding': 'chunked' },
      },
      (res) => {
        let s = '';
        res.on('data', (d: Buffer) => {
          s += d.toString();
        });
        res.on('end', () => resolve(s));
      },
    );
    req.on('error', reject);
    source(100 * MB).pipe(req);
  });
  assert.equal(up, String(100 * MB));
  const down = await new Promise<number>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: p.port, path: '/', agent: false }, (res) => {
      let n = 0;
      res.on('data', (d: Buffer) => {
        n += d.length;
      });
      res.on('end', () => resolve(n));
    });
    req.on('error', reject);
    req.end();
  });
  assert.equal(down, 100 * MB);
  clearInterval(sampler);
  // Buffering a whole body would add >= 100 MB; streaming stays far below.
  assert.ok(peak - base < 80 * MB, `rss grew by ${((peak - base) / MB).toFixed(1)} MB`);
});

pathTest('garbage: 10,000 bad connections do not disturb good traffic', async (t) => {
  const be = await backend(t, echo);
  const p = await proxy(t, `route add s / ${be.url}/`, { 'proxy.addr': '127.0.0.1:0;rt=1s' });
  const bad = (i: number) =>
    new Promise<void>((resolve) => {
      const s = connect(p.port, '127.0.0.1');
      s.on('error', () => resolve());
      s.on('close', () => resolve());
      s.resume(); // consume the answer so 'end'/'close' arrive
      s.setTimeout(3000, () => s.destroy());
      s.on('connect', () => {
        const kind = i % 4;
        if (kind === 0) s.end(Buffer.from(Array.from({ length: 64 }, () => Math.floor(Math.random() * 256))));
        else if (kind === 1)
          s.end('GET / HTTP/1.1\r\nHost: a\r\n'); // half request, then FIN
        else if (kind === 2)
          s.end(`GET / HTTP/1.1\r\nX: ${'a'.repeat(20000)}\r\n\r\n`); // oversized header
        else s.destroy(); // connect and vanish
      });
    });
  let good = 0;
  for (let b = 0; b < 20; b++) {
    const batch: Promise<unknown>[] = [];
    for (let i = 0; i < 500; i++) batch.push(bad(b * 500 + i));
    for (let i = 0; i < 5; i++)
      batch.push(
        get(p.port, '/ok').then((r) => {
          assert.equal(r.status, 200);
          good++;
        }),
      );
    await Promise.all(batch);
  }
  assert.equal(good, 100);
});

pathTest('oversized headers get 431, malformed requests 400', async (t) => {
  const be = await backend(t, echo);
  const p = await proxy(t, `route add s / ${be.url}/`);
  const raw = (data: string) =>
    new Promise<string>((resolve) => {
      const s = connect(p.port, '127.0.0.1', () => s.write(data));
      let out = '';
      s.on('data', (d: Buffer) => {
        out += d.toString();
      });
      s.on('error', () => resolve(out));
      s.on('close', () => resolve(out));
    });
  assert.match(await raw(`GET / HTTP/1.1\r\nHost: a\r\nX: ${'a'.repeat(20000)}\r\n\r\n`), /^HTTP\/1\.1 431 /);
  assert.match(await raw('BLAH\r\n\r\n'), /^HTTP\/1\.1 400 /);
});

pathTest('aborted uploads and upstream resets mid-body cost one request, not the process', async (t) => {
  const be = await backend(t, (req, res) => {
    if (req.url === '/reset') {
      req.once('data', () => req.socket.destroy());
      return;
    }
    req.resume();
    req.on('end', () => res.end('ok'));
  });
  const p = await proxy(t, `route add s / ${be.url}/`);
  // Upstream resets while the body is flowing.
  const reset = await new Promise<number | string>((resolve) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: p.port,
        path: '/reset',
        method: 'POST',
        agent: false,
        headers: { 'transfer-encoding': 'chunked' },
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', () => resolve('error'));
    source(8 * MB).pipe(req);
  });
  assert.ok(reset === 502 || reset === 'error', String(reset));
  // Client vanishes mid-upload.
  await new Promise<void>((resolve) => {
    const req = request({
      host: '127.0.0.1',
      port: p.port,
      path: '/slow',
      method: 'POST',
      agent: false,
      headers: { 'content-length': String(10 * MB) },
    });
    req.on('error', () => resolve());
    req.write(Buffer.alloc(64 * 1024));
    setTimeout(() => {
      req.destroy();
      resolve();
    }, 50);
  });
  assert.equal((await get(p.port, '/after', {}, 'POST', 'x')).text, 'ok');
});

pathTest('websocket without a route gets the no-route status and the connection closes', async (t) => {
  const p = await proxy(t, 'route add s a.com/ http://127.0.0.1:1/');
  const s = connect(p.port, '127.0.0.1');
  s.on('error', () => {});
  await once(s, 'connect');
  s.write('GET /x HTTP/1.1\r\nHost: b.com\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
  let out = '';
  s.on('data', (d: Buffer) => {
    out += d.toString();
  });
  await once(s, 'close');
  assert.match(out, /^HTTP\/1\.1 404 /);
  assert.equal(p.metrics.notFounds, 1);
});

pathTest('missing Content-Type is sniffed like Go (and then drives gzip); empty bodies get none', async (t) => {
  const be = await backend(t, (req, res) => {
    res.removeHeader('content-type');
    if (req.url === '/empty') return void res.writeHead(200).end();
    if (req.url === '/bin') return void res.end(Buffer.from([0, 1, 2, 3]));
    res.end('<html><body>hi</body></html>');
  });
  const p = await proxy(t, `route add s / ${be.url}/`, { 'proxy.gzip.contenttype': '^text/html' });
  const html = await get(p.port, '/', { 'accept-encoding': 'gzip' });
  assert.equal(html.headers['content-type'], 'text/html; charset=utf-8');
  assert.equal(html.headers['content-encoding'], 'gzip');
  assert.equal(gunzipSync(html.body).toString(), '<html><body>hi</body></html>');
  const bin = await get(p.port, '/bin', { 'accept-encoding': 'gzip' });
  assert.equal(bin.headers['content-type'], 'application/octet-stream');
  assert.equal(bin.headers['content-encoding'], undefined);
  const empty = await get(p.port, '/empty');
  assert.equal(empty.status, 200);
  assert.equal(empty.headers['content-type'], undefined);
});
