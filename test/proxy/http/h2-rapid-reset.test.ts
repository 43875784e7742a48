/**
 * HTTP/2 rapid reset (issue #21 item 1, CVE-2023-44487 style): a TLS h2 client that sends HEADERS
 * then RST_STREAM in a loop must not turn into backend connections or descriptors that outlive the
 * proxy's idle timeout, and a normal request must still be answered meanwhile. The proxy runs as a
 * child process so its descriptor count (/proc/<pid>/fd) is its own.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readdirSync, readlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { type ClientHttp2Session, connect as h2connect } from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import { test } from 'node:test';
import { makeCerts } from '../../helpers/certs.ts';
import { freePort, startFabio, until } from '../../helpers/proc.ts';
import { rapidResetConnection } from './h2-frames.ts';

const ATTACK_MS = 2500;

function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** What the descriptors are (for a failure message): socket:[inode], pipe:[...], anon_inode:... */
function fdKinds(pid: number): string {
  const kinds = new Map<string, number>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let k = '?';
    try {
      k = readlinkSync(`/proc/${pid}/fd/${fd}`).replace(/\[\d+\]$/, '');
    } catch {}
    kinds.set(k, (kinds.get(k) ?? 0) + 1);
  }
  return [...kinds].map(([k, n]) => `${k}=${n}`).join(' ');
}

/** A backend that counts its open connections and keeps idle ones for 60 s (as in the report). */
async function countingBackend(): Promise<{ server: Server; port: number; open: () => number; peak: () => number }> {
  const server = createServer((_req, res) => {
    res.end('ok');
  });
  server.keepAliveTimeout = 60_000;
  let open = 0;
  let peak = 0;
  server.on('connection', (s: Socket) => {
    open++;
    if (open > peak) peak = open;
    s.on('close', () => open--);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port, open: () => open, peak: () => peak };
}

function h2get(session: ClientHttp2Session, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = session.request({ ':path': path, ':authority': 'a.test' });
    let status = 0;
    let body = '';
    req.on('response', (h) => {
      status = Number(h[':status']);
    });
    req.setEncoding('utf8');
    req.on('data', (d: string) => {
      body += d;
    });
    req.on('end', () => resolve({ status, body }));
    req.on('error', reject);
    req.end();
  });
}

test('h2 rapid reset: bounded backend connections, descriptors back to baseline, normal requests answered', {
  timeout: 120_000,
}, async (t) => {
  const certs = await makeCerts([['a.test', '127.0.0.1']]);
  t.after(() => certs.cleanup());
  const leaf = certs.certs[0];
  if (leaf === undefined) throw new Error('no cert');
  const be = await countingBackend();
  t.after(() => {
    be.server.closeAllConnections();
    be.server.close();
  });
  const [ui, port] = [await freePort(), await freePort()];
  const f = startFabio([
    `-proxy.cs=cs=c1;type=file;cert=${leaf.certFile};key=${leaf.keyFile}`,
    `-proxy.addr=127.0.0.1:${port};cs=c1`,
    `-ui.addr=127.0.0.1:${ui}`,
    '-proxy.workers=1',
    '-proxy.idleconntimeout=1s',
    '-registry.backend=static',
    `-registry.static.routes=route add s / http://127.0.0.1:${be.port}/`,
  ]);
  t.after(() => f.stop());
  await f.waitFor(/HTTPS proxy listening on/, 30_000);
  const pid = f.proc.pid as number;
  const connectOpts = { ca: certs.ca.pem, servername: 'a.test' };

  // Warm up: one normal request, then let its pooled connection expire.
  const warm = h2connect(`https://127.0.0.1:${port}`, connectOpts);
  warm.on('error', () => {});
  assert.equal((await h2get(warm, '/warm')).status, 200);
  warm.close();
  await until(() => be.open() === 0, 20_000);
  const baseline = fdCount(pid);
  const baselineKinds = fdKinds(pid);

  // The attack: HEADERS then RST_STREAM as fast as the client can, written as raw frames so each
  // stream really reaches the proxy, reconnecting when the proxy closes the connection (a real
  // attacker would).
  const end = Date.now() + ATTACK_MS;
  const stats = { sessions: 0, resets: 0, goaways: 0 };
  const attack = (async () => {
    while (Date.now() < end) {
      stats.sessions++;
      await rapidResetConnection(port, certs.ca.pem, end, stats);
    }
  })();
  // Meanwhile a normal client gets its answer.
  const normal = h2connect(`https://127.0.0.1:${port}`, connectOpts);
  normal.on('error', () => {});
  const answer = await h2get(normal, '/normal');
  assert.equal(answer.status, 200);
  assert.equal(answer.body, 'ok');
  normal.close();
  await attack;
  const fdsAfter = fdCount(pid);
  const openAfter = be.open();
  t.diagnostic(
    `sessions=${stats.sessions} resets=${stats.resets} goaways=${stats.goaways} backend peak=${be.peak()} open after=${openAfter} fds baseline=${baseline} after=${fdsAfter}`,
  );
  // At most a handful of backend connections at any time.
  assert.ok(be.peak() <= 16, `backend connections peaked at ${be.peak()}`);
  // All gone within the idle timeout (1 s) plus a generous margin; descriptors back to baseline.
  await until(() => be.open() === 0, 20_000).catch((e: Error) => {
    throw new Error(`backend connections still open: ${be.open()} (${e.message})`);
  });
  await until(() => fdCount(pid) <= baseline, 20_000).catch((e: Error) => {
    throw new Error(
      `proxy descriptors ${fdCount(pid)} (${fdKinds(pid)}), baseline ${baseline} (${baselineKinds}) (${e.message})`,
    );
  });
  t.diagnostic(`fds settled=${fdCount(pid)}`);
  t.diagnostic(
    [...f.stdout, ...f.stderr]
      .filter((l) => /http2|WARN|DBG/.test(l))
      .slice(0, 5)
      .join(' | '),
  );
});
