/**
 * `npm run bench`: every benchmark of the performance issue in one run, one summary table.
 *
 *   npm run bench                 short durations (about 3 minutes)
 *   npm run bench -- --full       the issue's durations: 3 rounds of HTTP/TCP/SNI, 60 s soak
 *   npm run bench -- --only http,tcp,soak,rss,cluster,lookup,propagation,killed   a subset
 *   npm run bench -- --in-place   benchmark the working tree (default: a clean build of HEAD in a temp dir)
 *   npm run bench -- --in-place --no-build   ... and use its dist/ as it is
 *
 * HTTP, TCP and SNI run the side-by-side scripts bench/side-by-side-http.sh and side-by-side-tcp.sh
 * (with PROJECT_CMD, as a user would run them): backend direct, nginx, haproxy, caddy and
 * fabio-ts with -proxy.workers=1, the proxy under test alone on core 1, load and backends on core 0.
 * When this runs as root it wraps each script in a private network namespace (`unshare -n`, so the
 * scripts' fixed ports never collide with another run on the machine) and at `nice -n -15` (so other
 * work on a shared box steals fewer cycles from whichever proxy is being measured; every contender
 * gets the same priority). Ratios are the figures to quote; absolute numbers move with the machine.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median, parseHttpLines, parseTcpLines, type Sample } from './cluster-parse.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** The side-by-side scripts (bench/side-by-side-*.sh); FABIO_BENCH_HARNESS points at another copy. */
const HARNESS = process.env.FABIO_BENCH_HARNESS ?? join(ROOT, 'bench');
const argv = process.argv.slice(2);

// The working tree may hold other people's unfinished edits: unless --in-place, benchmark a clean
// snapshot of the last commit (git archive HEAD, built in a temporary directory) and run this very
// script from there.
if (!argv.includes('--in-place') && !process.env.FABIO_BENCH_SNAPSHOT) {
  const snap = mkdtempSync(join(tmpdir(), 'fabio-bench-head-'));
  const head = execFileSync('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  process.stderr.write(`[bench] snapshot of HEAD ${head} in ${snap} (--in-place benchmarks the working tree)\n`);
  execFileSync('sh', ['-c', `git -C '${ROOT}' archive HEAD | tar -x -C '${snap}'`]);
  symlinkSync(join(ROOT, 'node_modules'), join(snap, 'node_modules'));
  // a type error somewhere still emits JavaScript; the benchmarks say whether it runs
  spawnSync('npm', ['run', 'build'], { cwd: snap, stdio: ['ignore', 'ignore', 'inherit'] });
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(snap, 'bench', 'run-all.ts'), ...argv, '--no-build'], {
    stdio: 'inherit',
    env: { ...process.env, FABIO_BENCH_SNAPSHOT: head },
  });
  process.exit(r.status ?? 1);
}
const full = argv.includes('--full');
const onlyArg = argv.find((a) => a.startsWith('--only'))?.split('=')[1] ?? argv[argv.indexOf('--only') + 1];
const only = argv.some((a) => a.startsWith('--only')) && onlyArg ? new Set(onlyArg.split(',')) : undefined;
const want = (k: string) => !only || only.has(k);
const rounds = full ? 3 : 1;
const tmp = mkdtempSync(join(tmpdir(), 'fabio-bench-'));
/** Every benchmark's own output, for the figures behind the summary. */
const rawLog = join(tmp, 'raw.log');

const isRoot = process.getuid?.() === 0;
const netns = isRoot && spawnSync('unshare', ['-n', 'true']).status === 0;
const prefix = [...(isRoot ? ['nice', '-n', '-15'] : []), ...(netns ? ['unshare', '-n'] : [])];
const inNs = (script: string) => (netns ? `ip link set lo up; exec bash ${script}` : `exec bash ${script}`);

function log(s: string) {
  process.stderr.write(`[bench] ${s}\n`);
}

/** Runs cmd, sampling the peak RSS of the process whose pid appears in pidFile (if any). */
function run(cmd: string[], env: Record<string, string>, pidFile?: string): Promise<{ out: string; rssMB: number }> {
  return new Promise((resolve) => {
    const c = spawn(cmd[0] as string, cmd.slice(1), {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    c.stdout.on('data', (d: Buffer) => {
      out += d;
      if (argv.includes('-v')) process.stderr.write(d);
    });
    c.stderr.on('data', (d: Buffer) => {
      out += d;
    });
    let rss = 0;
    const t = setInterval(() => {
      if (!pidFile) return;
      try {
        const pid = readFileSync(pidFile, 'utf8').trim();
        const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
        if (m) rss = Math.max(rss, Number(m[1]) / 1024);
      } catch {}
    }, 250);
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearInterval(t);
      appendFileSync(rawLog, `\n$ ${cmd.join(' ')}\n${out}`);
      resolve({ out, rssMB: rss });
    };
    c.on('close', finish);
    // a grandchild that outlives the benchmark would keep the pipes open: do not wait for it
    c.on('exit', () => setTimeout(finish, 1000).unref());
  });
}

const fabio = (pidFile: string, args: string) =>
  `echo $$ > ${pidFile}; cd ${ROOT} && exec node dist/cli.js -proxy.workers=1 -log.level=WARN -registry.backend=static ${args}`;

interface Row {
  bench: string;
  name: string;
  rps?: number;
  p50?: number;
  p99?: number;
  errors?: string;
  rssMB?: number;
  gbps?: number;
  ratios?: string;
}
const rows: Row[] = [];
const notes: string[] = [];

/** Median over rounds of fabio-ts / peer within the same round (contenders of one round ran back to back). */
function ratioText(samples: Sample[], metric: 'rps' | 'gbps', peers: string[]): string {
  const at = (n: string, r: number) => samples.find((s) => s.name === n && s.round === r)?.[metric] ?? 0;
  const roundsSeen = [...new Set(samples.map((s) => s.round))];
  const out: string[] = [];
  for (const n of peers) {
    const rs = roundsSeen.filter((r) => at(n, r) > 0).map((r) => at('project', r) / at(n, r));
    if (rs.length > 0) out.push(`${n} ${median(rs).toFixed(2)}x`);
  }
  return out.join(', ');
}

function addRows(bench: string, samples: Sample[], metric: 'rps' | 'gbps', peers: string[], rssMB: number) {
  const names = [...new Set(samples.map((s) => s.name))];
  for (const n of names) {
    const mine = samples.filter((s) => s.name === n);
    rows.push({
      bench,
      name: n === 'project' ? 'fabio-ts' : n,
      rps: metric === 'rps' ? median(mine.map((s) => s.rps ?? 0)) : undefined,
      gbps: metric === 'gbps' ? median(mine.map((s) => s.gbps ?? 0)) : undefined,
      p50: mine.some((s) => s.p50 !== undefined) ? median(mine.map((s) => s.p50 ?? 0)) : undefined,
      p99: mine.some((s) => s.p99 !== undefined) ? median(mine.map((s) => s.p99 ?? 0)) : undefined,
      errors: mine.map((s) => s.errors || '0').join('/'),
      rssMB: n === 'project' ? rssMB : undefined,
      ratios: n === 'project' ? ratioText(samples, metric, peers) : undefined,
    });
  }
}

if (!argv.includes('--no-build')) {
  log('npm run build');
  execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
}

if (want('lookup')) {
  log('lookup (bench/lookup.ts prefix 10000)');
  const { out } = await run(['npx', 'tsx', join(ROOT, 'bench/lookup.ts'), 'prefix', '10000'], {});
  const line = out.split('\n').find((l) => /^\s*10000\s+prefix/.test(l));
  const cols = line?.trim().split(/\s+/) ?? [];
  rows.push({
    bench: 'lookup 10k routes',
    name: 'fabio-ts',
    errors: '0',
    ratios: `median ${cols[6] ?? '?'} ns/lookup, build ${cols[2] ?? '?'} ms`,
  });
}

if (want('http')) {
  const pid = join(tmp, 'http.pid');
  const cmd = fabio(
    pid,
    `-proxy.addr=127.0.0.1:19999 -ui.addr=127.0.0.1:19998 -registry.static.routes='route add bench bench.local/ http://127.0.0.1:18080/'`,
  );
  const D = full ? 10 : 4;
  log(`http keep-alive: side-by-side-http.sh D=${D} ROUNDS=${rounds}`);
  const r = await run(
    [...prefix, 'bash', '-c', inNs(join(HARNESS, 'side-by-side-http.sh'))],
    { D: String(D), ROUNDS: String(rounds), PROJECT_CMD: cmd },
    pid,
  );
  const s = parseHttpLines(r.out);
  if (s.length === 0) notes.push(`side-by-side-http.sh gave no figures:\n${r.out}`);
  addRows('http keep-alive', s, 'rps', ['nginx', 'haproxy', 'caddy', 'direct'], r.rssMB);
}

if (want('tcp')) {
  const pid = join(tmp, 'tcp.pid');
  const routes = `'route add a :19997 tcp://127.0.0.1:15201
route add b :19998 tcp://127.0.0.1:18080
route add c sni-a.test tcp://127.0.0.1:18443'`;
  const cmd = fabio(
    pid,
    `-proxy.addr='127.0.0.1:19997;proto=tcp,127.0.0.1:19998;proto=tcp,127.0.0.1:19996;proto=tcp+sni' -ui.addr=127.0.0.1:19990 -registry.static.routes=${routes}`,
  );
  const D = full ? 5 : 3;
  const all: Sample[] = [];
  let rss = 0;
  for (let i = 1; i <= rounds; i++) {
    log(`tcp/sni: side-by-side-tcp.sh D=${D} round ${i}/${rounds}`);
    const r = await run(
      [...prefix, 'bash', '-c', inNs(join(HARNESS, 'side-by-side-tcp.sh'))],
      { D: String(D), PROJECT_CMD: cmd },
      pid,
    );
    const s = parseTcpLines(r.out, i);
    if (s.length === 0) notes.push(`side-by-side-tcp.sh gave no figures:\n${r.out}`);
    all.push(...s);
    rss = Math.max(rss, r.rssMB);
  }
  addRows(
    'tcp bulk (Gbit/s)',
    all.filter((s) => s.bench === 'bulk'),
    'gbps',
    ['haproxy', 'nginx', 'direct'],
    rss,
  );
  addRows(
    'tcp new conn/s',
    all.filter((s) => s.bench === 'conn'),
    'rps',
    ['haproxy', 'nginx', 'direct'],
    rss,
  );
  addRows(
    'sni handshakes/s',
    all.filter((s) => s.bench === 'sni'),
    'rps',
    ['haproxy', 'nginx', 'direct'],
    rss,
  );
}

async function jsonBench(name: string, script: string, args: string[]): Promise<Record<string, unknown> | undefined> {
  log(`${name}: tsx ${script} ${args.join(' ')}`);
  const r = await run(
    [...(isRoot ? ['nice', '-n', '-15'] : []), 'npx', 'tsx', join(ROOT, script), ...args, '--json'],
    {},
  );
  const line = r.out.split('\n').find((l) => l.startsWith('{'));
  if (!line) {
    notes.push(`${script} failed:\n${r.out.slice(-2000)}`);
    return undefined;
  }
  return JSON.parse(line) as Record<string, unknown>;
}

if (want('soak')) {
  const secs = full ? 60 : 10;
  const j = await jsonBench('soak', 'bench/soak.ts', ['--seconds', String(secs), '--churn', '50']);
  const rs = (j?.rows ?? []) as {
    label: string;
    rps: number;
    p50: number;
    p99: number;
    errors: number;
    non2xx: number;
    misrouted: number;
    rssMB?: number;
    cpuUsPerReq?: number;
    proxyCore?: number;
  }[];
  for (const r of rs) {
    rows.push({
      bench: `soak ${secs}s`,
      name: r.label,
      rps: r.rps,
      p50: r.p50,
      p99: r.p99,
      errors: `${r.errors}+${r.non2xx}+${r.misrouted}`,
      rssMB: r.rssMB,
    });
  }
  if (j && rs.length === 2) {
    const last = rows[rows.length - 1] as Row;
    last.ratios = `churn/no-churn ${((rs[1]?.rps ?? 0) / (rs[0]?.rps ?? 1)).toFixed(2)}x, ${String(j.swaps)} table swaps (${String(j.changes)} catalog changes); proxy µs/req ${rs[0]?.cpuUsPerReq} → ${rs[1]?.cpuUsPerReq} (requests per CPU-second churn/no-churn ${String(j.perCpuRatio)}x), core ${rs[0]?.proxyCore} → ${rs[1]?.proxyCore}`;
  }
}

if (want('rss')) {
  const j = await jsonBench('idle rss', 'bench/idle-rss.ts', ['--connections', '10000']);
  if (j) {
    rows.push({ bench: 'idle RSS, 1 process', name: 'fabio-ts', rssMB: j.idleMB as number, ratios: 'target <= 80 MB' });
    rows.push({
      bench: 'idle RSS, 2 workers',
      name: 'fabio-ts',
      rssMB: j.maxWorkerMB as number,
      ratios: `largest process; all ${String(j.workersTotalMB)} MB`,
    });
    rows.push({
      bench: '10k idle keep-alive',
      name: 'fabio-ts',
      rssMB: j.connsMB as number,
      ratios: `${String(j.open)} conns open; target <= 300 MB`,
    });
  }
}

if (want('cluster')) {
  const j = await jsonBench('2-worker propagation', 'bench/cluster-propagation.ts', ['--changes', full ? '100' : '30']);
  if (j) {
    rows.push({
      bench: 'route change -> 2 workers',
      name: 'fabio-ts',
      p50: j.p50 as number,
      p99: j.p99 as number,
      errors: String(j.failed),
      ratios: `${String(j.changes)} changes; IPC ack p99 ${String(j.ackP99)} ms; target p99 <= 100 ms`,
    });
  }
}

if (want('propagation')) {
  log(`propagation: tsx bench/propagation.ts --services ${full ? 5000 : 500} --changes ${full ? 100 : 20}`);
  const { out } = await run(
    [
      'npx',
      'tsx',
      join(ROOT, 'bench/propagation.ts'),
      '--services',
      full ? '5000' : '500',
      '--changes',
      full ? '100' : '20',
    ],
    {},
  );
  // `  passing → live in the store   p50 p90 p99 max`; the last block is the large catalog
  const ups = out.split('\n').filter((l) => l.includes('passing → live in the store'));
  const nums = (ups[ups.length - 1] ?? '').match(/\d+(\.\d+)?/g) ?? [];
  if (nums.length < 4) notes.push(`bench/propagation.ts gave no figures:\n${out.slice(-1500)}`);
  rows.push({
    bench: 'consul -> table (passing)',
    name: 'fabio-ts',
    p50: Number(nums[0]),
    p99: Number(nums[2]),
    errors: '0',
    ratios: `${full ? 5000 : 500} services registered`,
  });
}

if (want('killed')) {
  // issue #15: failed requests when a backend dies under load (fabio's behaviour vs the defaults),
  // and what the retry path costs when nothing fails (the proxy's CPU µs per request, retries off vs on)
  const secs = full ? 10 : 5;
  const j = await jsonBench('backend killed', 'bench/backend-killed.ts', [
    String(secs),
    '32',
    '--rounds',
    full ? '5' : '3',
  ]);
  const killed = (j?.killed ?? []) as {
    label: string;
    requests: number;
    failed: number;
    pct: number;
    ejections: number;
  }[];
  for (const k of killed) {
    rows.push({
      bench: 'backend killed under load',
      name: k.label.startsWith('fabio (') ? 'fabio mode' : 'defaults',
      errors: `${k.failed}/${k.requests}`,
      ratios: `${k.pct} % failed, ${k.ejections} ejection(s); 1 of 3 backends stopped after 2 s of ${secs} s`,
    });
  }
  const healthy = (j?.healthy ?? []) as { label: string; rps: number; cpuUsPerReq: number; failed: number }[];
  for (const h of healthy) {
    const on = h.label.startsWith('retries on');
    const off = healthy.find((x) => !x.label.startsWith('retries on'));
    rows.push({
      bench: 'retry path, nothing fails',
      name: on ? 'retries on' : 'retries off',
      rps: h.rps,
      errors: String(h.failed),
      ratios:
        on && off
          ? `proxy CPU ${h.cpuUsPerReq} µs/req vs ${off.cpuUsPerReq} off (${(h.cpuUsPerReq / off.cpuUsPerReq).toFixed(2)}x); medians of interleaved rounds`
          : `proxy CPU ${h.cpuUsPerReq} µs/req`,
    });
  }
}

const fmt = (v: number | undefined, d = 0) => (v === undefined || Number.isNaN(v) ? '-' : v.toFixed(d));
const header = ['benchmark', 'who', 'req/s', 'Gbit/s', 'p50 ms', 'p99 ms', 'errors', 'RSS MB', 'fabio-ts ratio / note'];
const table = rows.map((r) => [
  r.bench,
  r.name,
  fmt(r.rps),
  fmt(r.gbps, 2),
  fmt(r.p50, 2),
  fmt(r.p99, 2),
  r.errors ?? '-',
  fmt(r.rssMB),
  r.ratios ?? '',
]);
const widths = header.map((h, i) => Math.max(h.length, ...table.map((t) => (t[i] as string).length)));
const line = (cells: string[]) =>
  cells.map((c, i) => (i < 2 || i === 8 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join('  ');
console.log(
  `\nfabio-ts benchmark summary, commit ${process.env.FABIO_BENCH_SNAPSHOT ?? 'working tree'} (${full ? 'full' : 'short'}; ${rounds} round(s), medians; proxy pinned to core 1, load on core 0${netns ? ', private netns' : ''}${isRoot ? ', nice -15' : ''})`,
);
console.log(line(header));
for (const t of table) console.log(line(t));
console.log('errors: socket errors/timeouts as wrk prints them per round; soak: errors+non2xx+misrouted');
console.log(`raw output of every benchmark: ${rawLog}`);
for (const n of notes) console.log(`\nNOTE ${n}`);
