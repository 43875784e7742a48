/**
 * The embedded catalog in a child process, preloaded with S services × I instances, for the
 * propagation benchmarks: the catalog's own JSON encoding of a 45 MB health state (50,000 services
 * × 3) must not be billed to the process being measured, as Consul runs apart in production.
 *
 *   npx tsx bench/catalog-child.ts S I     (prints the catalog's URL on stdout, runs until killed)
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startDevCatalog } from '../src/registry/dev-catalog/index.ts';

export interface CatalogProcess {
  readonly url: string;
  /** CPU time (user + system) the catalog process used so far, in ms. */
  cpuMs(): number;
  close(): Promise<void>;
}

/** utime + stime of a process from /proc (Linux), in ms; NaN elsewhere. */
export function procCpuMs(pid: number | undefined): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const after = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return ((Number(after[11]) + Number(after[12])) * 1000) / 100;
  } catch {
    return Number.NaN;
  }
}

/** Registration body of instance i of bulk service s (one `urlprefix-svcS.example.com/pK` tag). */
export const bulkBody = (s: number, i: number) => ({
  ID: `svc${s}-${i}`,
  Name: `svc${s}`,
  Address: `10.${(s >> 8) & 255}.${s & 255}.${i + 1}`,
  Port: 8000 + i,
  Tags: [`urlprefix-svc${s}.example.com/p${s % 7}`, 'bulk'],
  Check: { TTL: '1h', Status: 'passing' },
});

export async function startCatalogProcess(services: number, instances: number): Promise<CatalogProcess> {
  const script = fileURLToPath(import.meta.url);
  const child = spawn(process.execPath, ['--import', 'tsx', script, String(services), String(instances)], {
    // stdin is a pipe only so that the child sees its parent go away (a crashed run leaves no catalog)
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', (c) => reject(new Error(`catalog exited ${c}`)));
  });
  return {
    url: line.trim(),
    cpuMs: () => procCpuMs(child.pid),
    close: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill();
      await new Promise((r) => child.once('exit', r));
    },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [n, per] = [Number(process.argv[2]), Number(process.argv[3])];
  const cat = await startDevCatalog({ host: '127.0.0.1', port: 0, jitter: false });
  // Same decoder and semantics as PUT /v1/agent/service/register, without 150k HTTP round trips.
  for (let s = 0; s < n; s++) for (let i = 0; i < per; i++) cat.registerServiceForTest(bulkBody(s, i));
  process.stdout.write(`${cat.url}\n`);
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
}
