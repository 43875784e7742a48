// The admin UI's cost at 500 routes with live updates: the admin server's CPU (this process) and
// the browser tab's script+layout time (chromium's Performance.getMetrics), while the table is
// swapped once a second and the Routes, Traffic or Map view is open. Run:
//   node --import tsx bench/ui-cost.ts [seconds=20]
import { memoryLogger } from '../src/log/logger.ts';
import { TrafficStats } from '../src/metrics/traffic.ts';
import { buildTable } from '../src/routes/index.ts';
import { TableStore } from '../src/routes/table-store.ts';
import { startAdmin } from '../src/ui/index.ts';
import { fakeConfig } from '../test/ui/fake-config.ts';
import { BUILD, fakeManual, fakeUpdater } from '../test/ui/helpers.ts';

const seconds = Number(process.argv[2] ?? 20);
const N = 500;
const text = (gen: number) =>
  Array.from(
    { length: N },
    (_, i) =>
      `route add svc${i} host${i % 50}.example/p${i} http://10.${i >> 8}.${i & 255}.${gen % 2 ? 2 : 1}:8080/\n` +
      `route add svc${i} host${i % 50}.example/p${i} http://10.${i >> 8}.${i & 255}.9:8080/ weight 0.1`,
  ).join('\n');

const store = new TableStore();
store.swap(buildTable(text(0), BUILD));
const traffic = new TrafficStats();
const feed = () => {
  for (const r of store.current!.routes)
    for (const t of r.targets) for (let k = 0; k < 3; k++) traffic.record(r, t, k === 2 ? 503 : 200, 0.003 * (k + 1));
};
feed();
const admin = await startAdmin({
  cfg: fakeConfig({}),
  store,
  log: memoryLogger('ERROR'),
  version: 'bench',
  updater: fakeUpdater(),
  manual: fakeManual(),
  traffic,
});
const url = `http://127.0.0.1:${admin.port}`;
for (const w of ['5m', '1h', '24h']) {
  const t0 = performance.now();
  const body = await (await fetch(`${url}/api/traffic?series=routes&window=${w}`)).text();
  const all = await (await fetch(`${url}/api/traffic?window=${w}`)).text();
  console.log(
    `/api/traffic?series=routes&window=${w} (what the UI polls every 5 s): ${(body.length / 1e6).toFixed(2)} MB JSON ` +
      `(${(all.length / 1e6).toFixed(2)} MB with target series) in ${(performance.now() - t0).toFixed(0)} ms for both`,
  );
}
const { chromium } = await import('playwright-core');
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });

for (const view of ['routes', 'traffic', 'map']) {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable');
  await page.goto(`${url}/routes#${view}`);
  await page.waitForSelector('body[data-ready="true"]');
  const m0 = Object.fromEntries(
    ((await cdp.send('Performance.getMetrics')).metrics as { name: string; value: number }[]).map((x) => [
      x.name,
      x.value,
    ]),
  );
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let s = 1; s <= seconds; s++) {
    await new Promise((r) => setTimeout(r, 1000));
    store.swap(buildTable(text(s), BUILD, store.current));
    feed();
  }
  const wall = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  const m1 = Object.fromEntries(
    ((await cdp.send('Performance.getMetrics')).metrics as { name: string; value: number }[]).map((x) => [
      x.name,
      x.value,
    ]),
  );
  const d = (k: string) => (m1[k] ?? 0) - (m0[k] ?? 0);
  console.log(
    `${view}: ${N} routes (${N * 2} targets), 1 swap/s for ${wall.toFixed(0)} s: ` +
      `server ${(((c.user + c.system) / 1e6 / wall) * 100).toFixed(1)} % of a core (incl. table builds); ` +
      `browser script ${((d('ScriptDuration') / wall) * 100).toFixed(1)} %, layout ${((d('LayoutDuration') / wall) * 100).toFixed(1)} %, ` +
      `task ${((d('TaskDuration') / wall) * 100).toFixed(1)} % of a core; JS heap ${((m1.JSHeapUsedSize ?? 0) / 1e6).toFixed(1)} MB`,
  );
  await page.close();
}
await browser.close();
await admin.close(0);
