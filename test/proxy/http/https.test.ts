import assert from 'node:assert/strict';
import { once } from 'node:events';
import { copyFile, mkdir } from 'node:fs/promises';
import { connect as h2connect } from 'node:http2';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { makeCerts } from '../../helpers/certs.ts';
import { backend, echo, proxy, UPSTREAMS } from './harness.ts';

test('HTTPS listener: path source serves two names, HTTP/1.1 and HTTP/2, TLS headers and STS', async (t) => {
  const set = await makeCerts([['a.test'], ['b.test']]);
  t.after(() => set.cleanup());
  const dir = join(set.dir, 'served');
  await mkdir(dir);
  for (const [i, c] of set.certs.entries()) {
    await copyFile(c.certFile, join(dir, `n${i}-cert.pem`));
    await copyFile(c.keyFile, join(dir, `n${i}-key.pem`));
  }
  const be = await backend(t, echo);
  const p = await proxy(t, `route add s / ${be.url}/`, {
    'proxy.cs': `cs=c1;type=path;cert=${dir}`,
    'proxy.addr': '127.0.0.1:0;cs=c1',
    'proxy.header.sts.maxage': 100,
    'proxy.header.tls': 'X-Tls',
    'proxy.header.tls.value': 'yes',
  });
  // Certificate selection by SNI.
  for (const name of ['a.test', 'b.test']) {
    const s = tlsConnect({ host: '127.0.0.1', port: p.port, servername: name, ca: set.ca.pem });
    await once(s, 'secureConnect');
    assert.equal(s.getPeerCertificate().subject.CN, name);
    s.destroy();
  }
  // HTTP/1.1 over TLS.
  const h1 = await new Promise<{ status: number; sts: string | undefined; body: string }>((resolve, reject) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port: p.port,
        path: '/x',
        servername: 'a.test',
        ca: set.ca.pem,
        headers: { host: 'a.test' },
        agent: false,
      },
      (res) => {
        let b = '';
        res.on('data', (d: Buffer) => {
          b += d.toString();
        });
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            sts: res.headers['strict-transport-security'] as string | undefined,
            body: b,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
  assert.equal(h1.status, 200);
  assert.equal(h1.sts, 'max-age=100');
  const j1 = JSON.parse(h1.body) as { headers: Record<string, string> };
  assert.equal(j1.headers['x-forwarded-proto'], 'https');
  assert.equal(j1.headers['x-forwarded-port'], '443');
  assert.equal(j1.headers['x-tls'], 'yes');
  assert.match(
    j1.headers.forwarded ?? '',
    /^for=127\.0\.0\.1; proto=https; by=10\.0\.0\.9; httpproto=http\/1\.1; tlsver=tls1[23]; tlscipher=0x[0-9a-f]{4}$/,
  );
  // HTTP/2.
  const session = h2connect(`https://127.0.0.1:${p.port}`, { ca: set.ca.pem, servername: 'b.test' });
  t.after(() => session.close());
  session.on('error', () => {});
  const stream = session.request({ ':path': '/h2?z=1', ':authority': 'b.test' });
  const [headers] = (await once(stream, 'response')) as [Record<string, string | number>];
  let body = '';
  stream.on('data', (d: Buffer) => {
    body += d.toString();
  });
  await once(stream, 'end');
  assert.equal(headers[':status'], 200);
  const j2 = JSON.parse(body) as { url: string; headers: Record<string, string> };
  assert.equal(j2.url, '/h2?z=1');
  assert.equal(j2.headers.host, 'b.test');
  assert.match(j2.headers.forwarded ?? '', /httpproto=http\/2\.0; tlsver=tls13/);
  // HTTP/2 request body (no content-length) is streamed upstream.
  const post = session.request({ ':path': '/up', ':method': 'POST', ':authority': 'b.test' });
  post.end(Buffer.alloc(300_000, 1));
  let pb = '';
  post.on('data', (d: Buffer) => {
    pb += d.toString();
  });
  await once(post, 'end');
  assert.equal((JSON.parse(pb) as { bodyLength: number }).bodyLength, 300_000);
});

test('HTTPS listener with pxyproto: client IP from the PROXY header behind TLS', async (t) => {
  const set = await makeCerts([['a.test']]);
  t.after(() => set.cleanup());
  const c = set.certs[0];
  if (c === undefined) throw new Error('no cert');
  const be = await backend(t, echo);
  const p = await proxy(t, `route add s / ${be.url}/`, {
    'proxy.cs': `cs=c1;type=file;cert=${c.certFile};key=${c.keyFile}`,
    'proxy.addr': '127.0.0.1:0;cs=c1;pxyproto=true',
  });
  const { connect } = await import('node:net');
  const raw = connect(p.port, '127.0.0.1');
  raw.on('error', () => {});
  await once(raw, 'connect');
  raw.write('PROXY TCP4 198.51.100.9 10.0.0.1 4444 443\r\n');
  const s = tlsConnect({ socket: raw, servername: 'a.test', ca: set.ca.pem, ALPNProtocols: ['http/1.1'] });
  await once(s, 'secureConnect');
  s.write('GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n');
  let out = '';
  s.on('data', (d: Buffer) => {
    out += d.toString();
  });
  await once(s, 'end');
  const body = JSON.parse(out.slice(out.indexOf('\r\n\r\n') + 4)) as { headers: Record<string, string> };
  assert.equal(body.headers['x-forwarded-for'], '198.51.100.9');
});

test('HTTPS listener: websocket over TLS and graceful close of an HTTP/2 session with a stream in flight', async (t) => {
  const set = await makeCerts([['a.test']]);
  t.after(() => set.cleanup());
  const c = set.certs[0];
  if (c === undefined) throw new Error('no cert');
  let slowArrived!: () => void;
  const slowAtBackend = new Promise<void>((r) => {
    slowArrived = r;
  });
  const be = await backend(t, (_req, res) => {
    slowArrived(); // the h2 stream is in flight at the proxy from here on
    setTimeout(() => res.end('slow'), 300);
  });
  be.server.on('upgrade', (_req, socket) => {
    socket.on('error', () => {});
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    socket.pipe(socket);
  });
  const p = await proxy(t, `route add s / ${be.url}/`, {
    'proxy.cs': `cs=c1;type=file;cert=${c.certFile};key=${c.keyFile}`,
    'proxy.addr': '127.0.0.1:0;cs=c1',
  });
  // wss through the TLS listener.
  const ws = await new Promise<string>((resolve, reject) => {
    const req = httpsRequest({
      host: '127.0.0.1',
      port: p.port,
      path: '/ws',
      servername: 'a.test',
      ca: set.ca.pem,
      agent: false,
      headers: { connection: 'Upgrade', upgrade: 'websocket' },
    });
    req.on('upgrade', (_res, socket) => {
      socket.write('ping');
      socket.once('data', (d: Buffer) => {
        resolve(d.toString());
        socket.destroy();
      });
    });
    req.on('error', reject);
    req.end();
  });
  assert.equal(ws, 'ping');
  // h2 stream in flight survives close(grace).
  const session = h2connect(`https://127.0.0.1:${p.port}`, { ca: set.ca.pem, servername: 'a.test' });
  session.on('error', () => {});
  t.after(() => session.destroy());
  const stream = session.request({ ':path': '/slow' });
  stream.on('error', () => {});
  const [headersP] = [once(stream, 'response')];
  await slowAtBackend;
  const closed = p.listener.close(3000);
  const [headers] = (await headersP) as [Record<string, string | number>];
  let body = '';
  stream.on('data', (d: Buffer) => {
    body += d.toString();
  });
  await once(stream, 'end');
  assert.equal(headers[':status'], 200);
  assert.equal(body, 'slow');
  await closed;
});

for (const up of UPSTREAMS.filter((u) => u.bare)) // TLS listeners have one client side
  test(`HTTPS listener (${up.name}): many requests on one kept-alive TLS connection add no listeners per request`, async (t) => {
    const set = await makeCerts([['a.test']]);
    t.after(() => set.cleanup());
    const dir = join(set.dir, 'served');
    await mkdir(dir);
    const c0 = set.certs[0] as { certFile: string; keyFile: string };
    await copyFile(c0.certFile, join(dir, 'n0-cert.pem'));
    await copyFile(c0.keyFile, join(dir, 'n0-key.pem'));
    const be = await backend(t, (req, res) => {
      req.resume();
      res.end('ok');
    });
    const p = await proxy(
      t,
      `route add s / ${be.url}/`,
      { 'proxy.cs': `cs=c1;type=path;cert=${dir}`, 'proxy.addr': '127.0.0.1:0;cs=c1' },
      { lean: up.lean, bare: up.bare },
    );
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    t.after(() => process.off('warning', onWarning));
    const agent = new HttpsAgent({ keepAlive: true, maxSockets: 1, ca: set.ca.pem, servername: 'a.test' });
    t.after(() => agent.destroy());
    const sockets = new Set<unknown>();
    for (let i = 0; i < 25; i++) {
      const method = i % 2 === 0 ? 'GET' : 'POST';
      const status = await new Promise<number>((resolve, reject) => {
        const req = httpsRequest(
          { host: '127.0.0.1', port: p.port, path: '/', method, headers: { host: 'a.test' }, agent },
          (res) => {
            sockets.add(res.socket);
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          },
        );
        req.on('error', reject);
        req.end(method === 'POST' ? 'body' : undefined);
      });
      assert.equal(status, 200);
    }
    assert.equal(sockets.size, 1, 'one kept-alive connection');
    // HTTP/2: many streams on one session.
    const session = h2connect(`https://127.0.0.1:${p.port}`, { ca: set.ca.pem, servername: 'a.test' });
    session.on('error', () => {});
    t.after(() => session.destroy());
    for (let i = 0; i < 25; i++) {
      const stream = session.request({ ':path': '/', ':method': i % 2 === 0 ? 'GET' : 'POST' });
      stream.on('error', () => {});
      stream.end(i % 2 === 0 ? undefined : 'body');
      stream.resume();
      const [h] = (await once(stream, 'response')) as [Record<string, string | number>];
      assert.equal(h[':status'], 200);
      await once(stream, 'end');
    }
    // A warning is emitted asynchronously: let pending ticks run before looking.
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(
      warnings.filter((w) => w.name === 'MaxListenersExceededWarning').map((w) => w.message),
      [],
    );
  });

// The client TLSSocket carries 2 'close' listeners of Node's and 1 of the listener; the tunnel used to
// add 8 more through two pipeline() calls (11 > 10: MaxListenersExceededWarning). websocket.ts now
// relays both directions itself.
test('HTTPS listener: a websocket tunnel over TLS stays under the listener limit of its socket', async (t) => {
  const set = await makeCerts([['a.test']]);
  t.after(() => set.cleanup());
  const c = set.certs[0];
  if (c === undefined) throw new Error('no cert');
  const be = await backend(t, (_req, res) => res.end());
  be.server.on('upgrade', (_req, socket) => {
    socket.on('error', () => {});
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    socket.pipe(socket);
  });
  const p = await proxy(t, `route add s / ${be.url}/`, {
    'proxy.cs': `cs=c1;type=file;cert=${c.certFile};key=${c.keyFile}`,
    'proxy.addr': '127.0.0.1:0;cs=c1',
  });
  const warnings: Error[] = [];
  const onWarning = (w: Error) => warnings.push(w);
  process.on('warning', onWarning);
  t.after(() => process.off('warning', onWarning));
  const echoed = await new Promise<string>((resolve, reject) => {
    const req = httpsRequest({
      host: '127.0.0.1',
      port: p.port,
      path: '/ws',
      servername: 'a.test',
      ca: set.ca.pem,
      agent: false,
      headers: { connection: 'Upgrade', upgrade: 'websocket' },
    });
    req.on('upgrade', (_res, socket) => {
      socket.write('ping');
      socket.once('data', (d: Buffer) => {
        resolve(d.toString());
        socket.destroy();
      });
    });
    req.on('error', reject);
    req.end();
  });
  assert.equal(echoed, 'ping');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(
    warnings.filter((w) => w.name === 'MaxListenersExceededWarning').map((w) => w.message),
    [],
  );
});

test('HTTPS listener: HTTP/1.1 over TLS with more header lines than the bound is a 431', async (t) => {
  const set = await makeCerts([['a.test']]);
  t.after(() => set.cleanup());
  const c = set.certs[0];
  if (c === undefined) throw new Error('no cert');
  let seen = 0;
  const be = await backend(t, (req, res) => {
    seen++;
    req.resume();
    res.end('ok');
  });
  const p = await proxy(t, `route add s / ${be.url}/`, {
    'proxy.cs': `cs=c1;type=file;cert=${c.certFile};key=${c.keyFile}`,
    'proxy.addr': '127.0.0.1:0;cs=c1',
  });
  let head = 'POST /x HTTP/1.1\r\nHost: a.test\r\n';
  for (let i = 0; i < 2100; i++) head += 'a:1\r\n';
  const reply = await new Promise<string>((resolve) => {
    const s = tlsConnect({
      host: '127.0.0.1',
      port: p.port,
      servername: 'a.test',
      ca: set.ca.pem,
      ALPNProtocols: ['http/1.1'],
    });
    let out = '';
    s.on('data', (d: Buffer) => {
      out += d.toString('latin1');
    });
    s.on('error', () => {});
    s.on('close', () => resolve(out));
    s.setTimeout(10_000, () => s.destroy());
    s.write(`${head}Content-Length: 5\r\nConnection: close\r\n\r\nhello`);
  });
  assert.match(reply, /^HTTP\/1\.1 431 /);
  assert.equal(seen, 0);
});
