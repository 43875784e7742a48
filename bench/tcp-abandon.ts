/**
 * Abandoned TCP connections against an upstream that never closes: does fabio-ts give the
 * descriptors back? (The issue: 2,000 clients that left held 4,045 descriptors; 10,000 reached the
 * process limit and HTTP routes then answered 500 `connect EMFILE`.)
 *
 * fabio-ts runs as a child process (`-proxy.workers=1`, static routes: one `proto=tcp` listener to
 * an upstream that accepts, reads and never closes, in another child process, and one `proto=http`
 * listener to a backend in this process). N clients connect through the TCP listener, send one
 * byte, half-close and leave (C at a time). The proxy's descriptors (/proc/<pid>/fd) are sampled
 * every 100 ms: before, peak, when the last client left, and how long after that they are back to
 * the baseline (+5). An HTTP request through the proxy at the peak and at the end shows whether
 * other routes still work.
 *
 *   npx tsx bench/tcp-abandon.ts [N=10000] [linger=5s] [C=200]
 *
 * The "before" figure of the issue is `linger=1000h` (no bound in practice), or the same script run
 * on a commit without proxy.lingertimeout. The process limit is `ulimit -n` of the shell (the
 * upstream child holds N sockets, the proxy up to 2N).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { fileURLToPath } from 'node:url';

const N = Number(process.argv[2] ?? 10_000);
const LINGER = process.argv[3] ?? '5s';
const C = Number(process.argv[4] ?? 200);
const ROOT = fileURLToPath(new URL('../', import.meta.url));

const fds = (pid: number) => {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return -1;
  }
};

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const p = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return p;
}

function child(args: string[], ready: RegExp): Promise<{ proc: ChildProcess; line: string; out: string[] }> {
  const proc = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const out: string[] = [];
  return new Promise((resolve, reject) => {
    const feed = (d: Buffer) => {
      for (const line of d.toString().split('\n')) {
        if (line === '') continue;
        out.push(line);
        if (ready.test(line)) resolve({ proc, line, out });
      }
    };
    proc.stdout?.on('data', feed);
    proc.stderr?.on('data', feed);
    proc.once('exit', (c) => reject(new Error(`${args.join(' ')} exited ${c}: ${out.join('\n')}`)));
  });
}

function abandon(port: number): Promise<void> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true }, () => s.end('x'));
    s.on('error', () => {});
    s.on('finish', () => s.destroy());
    s.on('close', () => resolve());
  });
}

function httpGet(port: number): Promise<string> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false, timeout: 10_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(String(res.statusCode)));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve(`error ${(e as NodeJS.ErrnoException).code ?? e.message}`));
  });
}

async function main(): Promise<void> {
  const backend = http.createServer((_q, r) => r.end('ok'));
  await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
  const bePort = (backend.address() as net.AddressInfo).port;
  const up = await child(
    [
      '-e',
      `const net=require('node:net');const s=net.createServer({allowHalfOpen:true},c=>{c.on('error',()=>{});c.resume();});s.listen(0,'127.0.0.1',()=>console.log('port '+s.address().port));`,
    ],
    /^port \d+/,
  );
  const upPort = Number(up.line.slice(5));
  const [tcpPort, httpPort, uiPort] = [await freePort(), await freePort(), await freePort()];
  const routes = `route add tcpsvc :${tcpPort} tcp://127.0.0.1:${upPort}\nroute add web / http://127.0.0.1:${bePort}/`;
  const fabio = await child(
    [
      '--import',
      'tsx',
      'src/cli.ts',
      '-proxy.workers=1',
      '-registry.backend=static',
      `-registry.static.routes=${routes}`,
      `-proxy.addr=127.0.0.1:${httpPort};proto=http,127.0.0.1:${tcpPort};proto=tcp`,
      `-ui.addr=127.0.0.1:${uiPort}`,
      `-proxy.lingertimeout=${LINGER}`,
    ],
    /TCP proxy listening/,
  );
  const pid = fabio.proc.pid as number;
  const stop = () => {
    fabio.proc.kill('SIGKILL');
    up.proc.kill('SIGKILL');
    backend.close();
  };
  try {
    // wait for the HTTP route too
    const t00 = Date.now();
    while ((await httpGet(httpPort)) !== '200' && Date.now() - t00 < 10_000) await sleep(100);
    const before = fds(pid);
    let peak = before;
    let peakAt = 0;
    const t0 = Date.now();
    const sampler = setInterval(() => {
      const n = fds(pid);
      if (n > peak) {
        peak = n;
        peakAt = Date.now() - t0;
      }
    }, 100);
    let next = 0;
    const worker = async () => {
      while (next < N) {
        next++;
        await abandon(tcpPort);
      }
    };
    await Promise.all(Array.from({ length: C }, worker));
    const doneAt = Date.now() - t0;
    const atDone = fds(pid);
    const httpAtPeak = await httpGet(httpPort);
    // back to the baseline? (bounded: linger + 60 s)
    const lingerMs = parseDuration(LINGER);
    const deadline = Date.now() + Math.min(lingerMs, 120_000) + 60_000;
    let back: number | undefined;
    while (Date.now() < deadline) {
      if (fds(pid) <= before + 5) {
        back = Date.now() - t0 - doneAt;
        break;
      }
      await sleep(100);
    }
    clearInterval(sampler);
    const after = fds(pid);
    const httpAfter = await httpGet(httpPort);
    const emfile = fabio.out.filter((l) => /EMFILE/.test(l)).length;
    console.log(
      JSON.stringify(
        {
          commit: process.env.BENCH_COMMIT,
          connections: N,
          concurrency: C,
          linger: LINGER,
          fdLimit: process.env.FD_LIMIT,
          fds: { before, peak, peakAtMs: peakAt, whenLastClientLeft: atDone, after },
          lastClientLeftAtMs: doneAt,
          backToBaselineMsAfterLastClient: back ?? `not within ${Math.round((deadline - t0 - doneAt) / 1000)} s`,
          http: { atPeak: httpAtPeak, after: httpAfter },
          emfileLogLines: emfile,
        },
        null,
        2,
      ),
    );
  } finally {
    stop();
  }
}

function parseDuration(s: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(s);
  if (m === null) return 0;
  const mult = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
  return Number(m[1]) * mult;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

await main();
