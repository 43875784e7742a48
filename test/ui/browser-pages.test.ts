import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TrafficStats } from '../../src/metrics/traffic.ts';
import { buildTable } from '../../src/routes/index.ts';
import { type Browser, chromiumSkip, launchChromium } from './chromium.ts';
import { BUILD, makeTable, startTestAdmin } from './helpers.ts';

/**
 * The pages issue #19 changed, in chromium at a desktop (1400 px) and a phone (360 px) width, with
 * hostile service names. The pictures in docs/ui/ are compared (and rewritten) by screenshots.test.ts.
 */

const EVIL_SVC = '<script>window.__xss=1</script>';
const ROUTES = `
route add web example.com/ http://10.0.0.2:8080/
route add ${EVIL_SVC} example.com/ http://10.0.0.3:8080/ weight 0.1 tags "canary"
route add api example.com/api http://10.0.0.4:8080/
route add db :3306 tcp://10.0.0.7:3306
route add secure secure.example/ http://127.0.0.1:8443/ opts "proto=tcp+sni"
route add legacy /old http://10.0.0.5:8080/
`;
const WIDTHS = [1400, 360];

let browser: Browser;

describe('admin UI pages (chromium, 1400 px and 360 px)', { skip: chromiumSkip }, () => {
  before(async () => {
    browser = await launchChromium();
  });
  after(() => browser?.close());

  for (const width of WIDTHS) {
    test(`${width} px: TCP and SNI destinations show their protocol and are not links`, async (t) => {
      const a = await startTestAdmin(t, {
        cfg: { 'ui.routingtable.source.linkenabled': true },
        table: await makeTable(ROUTES),
      });
      const { page, errors } = await browser.newPage(width);
      t.after(() => page.close());
      await page.goto(`${a.url}/routes`);
      await page.waitForSelector('body[data-ready="true"]');
      const row = (svc: string) => page.locator('#routes tbody tr', { has: page.locator(`td:text-is("${svc}")`) });
      const dst = (svc: string) => row(svc).locator('td').nth(3);
      assert.equal(await dst('secure').textContent(), 'tcp+sni://127.0.0.1:8443');
      assert.equal(await dst('secure').locator('a').count(), 0);
      assert.equal(await dst('db').textContent(), 'tcp://10.0.0.7:3306');
      assert.equal(await dst('db').locator('a').count(), 0);
      // the sources of TCP/SNI routes are not web pages either
      assert.equal(await row('db').locator('td').nth(2).locator('a').count(), 0);
      assert.equal(await row('secure').locator('td').nth(2).locator('a').count(), 0);
      // http stays a link
      assert.equal(await dst('api').locator('a').getAttribute('href'), 'http://10.0.0.4:8080/');
      // a hostile service name is text
      assert.equal(await row(EVIL_SVC).count(), 1);
      assert.equal(await page.evaluate('window.__xss'), undefined);
      assert.deepEqual(errors, []);
    });

    test(`${width} px: every navigation link is whole and inside the viewport`, async (t) => {
      const a = await startTestAdmin(t, { cfg: { 'ui.title': 'production-eu-west' }, table: await makeTable(ROUTES) });
      a.updater.warns.push({ service: 'x', message: 'm' });
      const { page, errors } = await browser.newPage(width);
      t.after(() => page.close());
      await page.goto(`${a.url}/routes`);
      await page.waitForSelector('body[data-ready="true"]');
      for (const name of ['Routes', 'Explain', 'History', 'Warnings', 'Traffic', 'Map', 'Overrides']) {
        const link = page.locator('#nav a', { hasText: name });
        assert.equal(await link.isVisible(), true, `${name} visible`);
        const box = await link.boundingBox();
        assert.ok(box && box.x >= 0 && box.x + box.width <= width + 0.5, `${name} inside: ${JSON.stringify(box)}`);
        const clipped = await link.evaluate((n) => {
          const r = n.getBoundingClientRect();
          const p = n.parentElement!.getBoundingClientRect();
          return n.scrollWidth > n.clientWidth + 1 || r.right > p.right + 0.5 || r.bottom > p.bottom + 0.5;
        });
        assert.equal(clipped, false, `${name} not cut off`);
      }
      // nothing overflows the page sideways
      assert.ok(Number(await page.evaluate('document.documentElement.scrollWidth')) <= width);
      assert.deepEqual(errors, []);
    });

    test(`${width} px: Explain shows every target's share and every candidate`, async (t) => {
      const a = await startTestAdmin(t, { table: await makeTable(ROUTES) });
      const { page, errors } = await browser.newPage(width);
      t.after(() => page.close());
      await page.goto(`${a.url}/routes#explain`);
      await page.waitForSelector('body[data-ready="true"]');
      await page.fill('#explain-url', 'http://example.com/index.html');
      await page.click('#explain-form button[type=submit]');
      await page.waitForSelector('#explain-result.ok');
      const rows = page.locator('#explain-targets tbody tr');
      assert.equal(await rows.count(), 2);
      assert.deepEqual(
        await rows
          .nth(0)
          .locator('td')
          .allTextContents()
          .then((x) => x.slice(0, 4)),
        ['web', 'http://10.0.0.2:8080/', '90.0%', '90.0%'],
      );
      assert.deepEqual(
        await rows
          .nth(1)
          .locator('td')
          .allTextContents()
          .then((x) => x.slice(0, 4)),
        [EVIL_SVC, 'http://10.0.0.3:8080/', '10.0%', '10.0%'],
      );
      const outcomes = await page.locator('#explain-candidates tbody tr td:nth-child(3)').allTextContents();
      assert.deepEqual(outcomes, ['nomatch', 'chosen']);
      assert.equal(await page.evaluate('window.__xss'), undefined);
      assert.deepEqual(errors, []);
    });

    test(`${width} px: the Overrides editor previews the table diff and line errors before Save`, async (t) => {
      const build = (text: string) => buildTable(text, { ...BUILD, skipBadLines: true });
      const a = await startTestAdmin(t, {
        table: build(`${ROUTES}\n# --- fabio/config\nroute del legacy`),
        extra: { build },
      });
      a.manual!.data.set('', { value: 'route del legacy', index: 20 });
      const { page, errors } = await browser.newPage(width);
      t.after(() => page.close());
      await page.goto(`${a.url}/manual`);
      await page.waitForSelector('body[data-ready="true"]');
      await page.waitForSelector('#preview-summary:has-text("no route changes")');
      await page.fill(
        '#manual-value',
        [
          'route del legacy',
          'route bogus',
          `route add ${EVIL_SVC} new.example/ http://10.0.0.9:80/`,
          'route weight <script>window.__xss=1</script> example.com/ weight 0.5 tags "canary"',
        ].join('\n'),
      );
      await page.waitForSelector('#preview-errors li');
      assert.deepEqual(await page.locator('#preview-errors .lineno').allTextContents(), ['line 2']);
      const rows = page.locator('#preview-diff tbody tr');
      await page.waitForSelector('#preview-diff tr.pv-rew');
      const text = (await rows.allTextContents()).join('|');
      assert.ok(text.includes(`+${EVIL_SVC}new.example/`), text);
      assert.ok(text.includes('~web'), text);
      assert.ok(text.includes('50.00%'), text);
      assert.equal(a.manual!.data.get('')!.value, 'route del legacy', 'preview writes nothing');
      assert.equal(await page.evaluate('window.__xss'), undefined);
      // Save stays compare-and-set
      await page.click('#manual-save');
      await page.waitForSelector('#manual-status.ok');
      assert.match(a.manual!.data.get('')!.value, /route bogus/);
      assert.deepEqual(errors, []);
    });

    test(`${width} px: Traffic for HTTP and TCP/SNI with uPlot charts, three windows, values on hover`, async (t) => {
      const table = await makeTable(ROUTES);
      let now = Date.now();
      const traffic = new TrafficStats({ now: () => now });
      const web = table.routes.find((r) => r.path === '/' && r.host === 'example.com')!;
      const db = table.routes.find((r) => r.path === ':3306' || r.host + r.path === ':3306')!;
      for (let i = 0; i < 40; i++) traffic.record(web, web.targets[0]!, i % 10 === 0 ? 503 : 200, 0.002 * (i + 1));
      traffic.record(web, web.targets[1]!, 404, 0.01);
      traffic.tcpOpen(db, db.targets[0]!);
      traffic.tcpOpen(db, db.targets[0]!);
      traffic.tcpClose(db, db.targets[0]!, 1500, 3_000_000);
      traffic.tcpDialFail(db, db.targets[0]!);
      now += 60_000;
      traffic.record(web, web.targets[0]!, 200, 0.005);
      const a = await startTestAdmin(t, { table, extra: { traffic } });
      const { page, errors } = await browser.newPage(width);
      const csp: string[] = [];
      page.on('console', (m) => {
        if (/Content.Security.Policy/i.test(m.text())) csp.push(m.text());
      });
      t.after(() => page.close());
      await page.goto(`${a.url}/routes#traffic`);
      await page.waitForSelector('body[data-ready="true"]');
      await page.waitForSelector('#traffic tbody tr.route');
      const routeRow = (svc: string) =>
        page.locator('#traffic tbody tr.route', { has: page.locator(`td:text-is("${svc}")`) });
      const tcp = await routeRow('db').locator('td').allTextContents();
      assert.equal(tcp[2], 'tcp');
      assert.equal(tcp[4], '1', 'dial failures');
      assert.equal(tcp[7], '1', 'active connections');
      assert.equal(tcp[8], '1.5 kB / 3.0 MB');
      const http = await routeRow(EVIL_SVC).locator('td').allTextContents();
      assert.equal(http[2], 'http');
      assert.equal(http[4], '0.0%', 'a 404 is not an error (5xx is)');
      assert.equal((await routeRow('web').locator('td').allTextContents())[4], '9.8%', '4 of 41 were 503');
      // real charts: canvases with a time axis and a y axis, one card per route
      await page.waitForSelector('#traffic-charts .chart-card canvas');
      assert.ok((await page.locator('#traffic-charts .chart-card').count()) >= 3);
      assert.ok((await page.locator('#traffic-charts .u-axis').count()) >= 4);
      const titles = await page.locator('#traffic-charts .chart-title').allTextContents();
      assert.ok(
        titles.some((x) => x.includes(EVIL_SVC)),
        titles.join('|'),
      );
      // hover: the legend shows the values under the cursor
      const over = page
        .locator('#traffic-charts .chart-card', { hasText: 'example.com/' })
        .first()
        .locator('.u-over')
        .first();
      await over.scrollIntoViewIfNeeded();
      const box = (await over.boundingBox())!;
      await page.mouse.move(box.x + box.width - 3, box.y + box.height / 2);
      const values = await page
        .locator('#traffic-charts .chart-card', { hasText: 'example.com/' })
        .first()
        .locator('.u-legend .u-value')
        .allTextContents();
      assert.ok(
        values.some((v) => /\d/.test(v)),
        values.join('|'),
      );
      // windows
      await page.click('#traffic-window button[data-w="1h"]');
      await page.waitForSelector('#traffic-hint:has-text("1 hour in 1-minute slots")');
      await page.click('#traffic-window button[data-w="24h"]');
      await page.waitForSelector('#traffic-hint:has-text("24 hours in 30-minute slots")');
      assert.equal(await page.evaluate('window.__xss'), undefined);
      assert.deepEqual(csp, []);
      assert.deepEqual(errors, []);
    });

    test(`${width} px: the route map groups 500 routes by host, weights as widths, search opens matches`, async (t) => {
      const many = Array.from(
        { length: 500 },
        (_, i) => `route add svc${i} host${i % 50}.example/p${i} http://10.1.${i >> 8}.${i & 255}:80/`,
      ).join('\n');
      const table = await makeTable(`${ROUTES}\n${many}`);
      const traffic = new TrafficStats();
      const web = table.routes.find((r) => r.host === 'example.com' && r.path === '/')!;
      for (let i = 0; i < 20; i++) traffic.record(web, web.targets[0]!, 200, 0.001);
      const a = await startTestAdmin(t, { table, extra: { traffic } });
      const { page, errors } = await browser.newPage(width);
      t.after(() => page.close());
      await page.goto(`${a.url}/routes#map`);
      await page.waitForSelector('body[data-ready="true"]');
      await page.waitForSelector('#map details');
      assert.match((await page.textContent('#map-count')) ?? '', /^5[0-9] hosts, 50[0-9] routes$/);
      // many hosts: collapsed until searched
      assert.equal(await page.locator('#map details[open]').count(), 0);
      await page.fill('#map-filter', 'example.com');
      await page.waitForSelector('#map details[open]');
      const host = page.locator('#map details', { hasText: 'example.com' }).first();
      const segs = host.locator('.map-route', { has: page.locator('.map-path:text-is("/")') }).locator('.map-seg');
      assert.equal(await segs.count(), 2);
      const [w0, w1] = await segs.evaluateAll((ns) => ns.map((n) => n.getBoundingClientRect().width));
      assert.ok(w0! > 5 * w1!, `90 % vs 10 %: ${w0} ${w1}`);
      assert.ok(((await segs.nth(1).getAttribute('title')) ?? '').includes(EVIL_SVC));
      // the busy target is coloured, the idle one grey
      const bg = await segs.evaluateAll((ns) =>
        ns.map((n) => (n as unknown as { style: { background: string } }).style.background),
      );
      assert.notEqual(bg[0], bg[1]);
      assert.equal(bg[1], 'rgb(224, 224, 224)', 'grey');
      // TCP and SNI routes are on the map too
      await page.fill('#map-filter', 'tcp');
      await page.waitForSelector('#map details summary:has-text("TCP :3306")');
      assert.ok(((await page.textContent('#map')) ?? '').includes('secure.example'));
      assert.equal(await page.evaluate('window.__xss'), undefined);
      await page.fill('#map-filter', '');
      await page.fill('#map-filter', 'example.com');
      await page.waitForSelector('#map details[open]');
      assert.deepEqual(errors, []);
    });

    test(`${width} px: the first History row says what it was; the Warnings badge is on every page`, async (t) => {
      const a = await startTestAdmin(t, { table: await makeTable(ROUTES) });
      a.updater.hist.push({ time: '2026-01-01T00:00:00Z', cause: 'kv', index: 1, added: [], removed: [] });
      a.updater.hist.push({
        time: '2026-01-01T00:00:05Z',
        cause: 'consul',
        index: 7,
        added: [`route add ${EVIL_SVC} example.com/ http://10.0.0.3:8080/`],
        removed: [],
      });
      a.updater.warns.push({ service: EVIL_SVC, message: 'one' });
      const { page, errors } = await browser.newPage(width);
      t.after(() => page.close());
      await page.goto(`${a.url}/routes#history`);
      await page.waitForSelector('body[data-ready="true"]');
      const last = page.locator('#history tbody tr').last();
      assert.equal(await last.locator('td').nth(2).textContent(), '1');
      assert.match((await last.locator('td').nth(4).textContent()) ?? '', /first table/);
      const n = ((await (await fetch(`${a.url}/api/warnings`)).json()) as unknown[]).length;
      assert.ok(n >= 1);
      await page.waitForSelector(`#warn-count:text-is("${n}")`);
      await page.goto(`${a.url}/manual`);
      await page.waitForSelector('body[data-ready="true"]');
      await page.waitForSelector(`#warn-count:text-is("${n}")`);
      // live: a new warning reaches the Overrides page's badge without a reload
      a.updater.warns.push({ service: 'y', message: 'two' });
      a.updater.emit();
      await page.waitForSelector(`#warn-count:text-is("${n + 1}")`);
      assert.deepEqual(errors, []);
    });
  }
});
