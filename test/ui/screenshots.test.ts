import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { TrafficStats } from '../../src/metrics/traffic.ts';
import { buildTable } from '../../src/routes/index.ts';
import { type Browser, chromiumSkip, launchChromium } from './chromium.ts';
import { BUILD, startTestAdmin, type TestAdmin } from './helpers.ts';
import { comparePng, decodePng } from './png.ts';

/**
 * Screenshot comparison: every page rendered from a fixed fixture (table, traffic, history,
 * warnings, a fixed clock in the server and in the page, UTC) at 1400 px and 360 px, compared with
 * the PNGs in docs/ui/ that README's "What the UI looks like" shows. A pixel counts as different
 * when a channel moves by more than TOLERANCE (anti-aliasing noise); a page fails when more than
 * MAX_FRACTION of its pixels differ, which any layout change does (a moved box shifts everything
 * after it). `UI_SCREENSHOTS=1` rewrites the goldens instead of comparing; review them in the diff.
 *
 * The goldens are this machine's rendering (Debian's Chromium and fonts): another Chromium
 * version or font set renders text differently, and the goldens must then be rewritten there.
 */

const GOLDEN = join(import.meta.dirname, '../../docs/ui');
const WRITE = process.env.UI_SCREENSHOTS === '1';
const TOLERANCE = 24;
const MAX_FRACTION = 0.001;
const NOW = Date.UTC(2026, 0, 15, 12, 0, 0);
const WIDTHS = [1400, 360];

const EVIL_SVC = '<script>window.__xss=1</script>';
const ROUTES = `
route add web example.com/ http://10.0.0.2:8080/
route add ${EVIL_SVC} example.com/ http://10.0.0.3:8080/ weight 0.1 tags "canary"
route add api example.com/api http://10.0.0.4:8080/
route add db :3306 tcp://10.0.0.7:3306
route add secure secure.example/ http://127.0.0.1:8443/ opts "proto=tcp+sni"
route add legacy /old http://10.0.0.5:8080/
`;
const build = (text: string) => buildTable(text, { ...BUILD, skipBadLines: true });

/** Fixed traffic: a few minutes of HTTP and TCP on a clock that only the fixture moves. */
function fixedTraffic(text: string) {
  const table = build(text);
  let now = NOW - 240_000;
  const traffic = new TrafficStats({ now: () => now });
  const web = table.routes.find((r) => r.host === 'example.com' && r.path === '/')!;
  const api = table.routes.find((r) => r.host === 'example.com' && r.path === '/api')!;
  const db = table.routes.find((r) => r.host + r.path === ':3306')!;
  for (let step = 0; step < 24; step++) {
    for (let i = 0; i < 10 + ((step * 7) % 13); i++)
      traffic.record(web, web.targets[0]!, i % 9 === 0 ? 503 : 200, 0.002 + (i % 5) * 0.003);
    traffic.record(web, web.targets[1]!, step % 4 === 0 ? 404 : 200, 0.01);
    for (let i = 0; i < 3 + (step % 5); i++) traffic.record(api, api.targets[0]!, 200, 0.02 + i * 0.01);
    traffic.tcpOpen(db, db.targets[0]!);
    traffic.tcpClose(db, db.targets[0]!, 1500 * (step + 1), 30_000 * (step % 6));
    if (step % 8 === 3) traffic.tcpDialFail(db, db.targets[0]!);
    now += 10_000;
  }
  traffic.tcpOpen(db, db.targets[0]!);
  now = NOW;
  return { table, traffic };
}

async function fixture(t: Parameters<typeof startTestAdmin>[0]): Promise<TestAdmin> {
  const text = `${ROUTES}\n# --- fabio/config\nroute del legacy`;
  const { table, traffic } = fixedTraffic(text);
  const a = await startTestAdmin(t, {
    cfg: { 'ui.title': 'production-eu-west', 'ui.routingtable.source.linkenabled': true },
    table,
    extra: { traffic, build },
  });
  a.manual!.data.set('', { value: 'route del legacy', index: 20 });
  a.updater.hist.push(
    { time: '2026-01-15T11:00:00.000Z', cause: 'kv', index: 1, added: [], removed: [] },
    {
      time: '2026-01-15T11:30:00.000Z',
      cause: 'consul',
      index: 7,
      added: [`route add ${EVIL_SVC} example.com/ http://10.0.0.3:8080/ weight 0.1 tags "canary"`],
      removed: ['route add web example.com/ http://10.0.0.9:8080/'],
    },
  );
  a.updater.warns.push({ service: EVIL_SVC, message: 'tag "urlprefix-" has no route', tag: 'urlprefix-' });
  a.updater.emit();
  return a;
}

/**
 * Waits for what every page loads on its own (the Warnings badge, the Overrides list), then for two
 * animation frames: layout and canvases are drawn.
 */
async function settle(page: Page) {
  await page.waitForSelector('#warn-count:not(:empty)');
  await page.waitForFunction(
    `document.querySelectorAll('#overrides option').length >= (document.body.dataset.page === 'manual' ? 1 : 2)`,
  );
  await page.evaluate('new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))');
}

/** The page steps that bring each view to its pictured state. */
const PAGES: Record<string, (page: Page, url: string) => Promise<void>> = {
  async routes(page, url) {
    await page.goto(`${url}/routes`);
    await page.waitForSelector('body[data-ready="true"]');
    await page.waitForSelector('#live.on');
  },
  async explain(page, url) {
    await page.goto(`${url}/routes#explain`);
    await page.waitForSelector('body[data-ready="true"]');
    await page.fill('#explain-url', 'http://example.com/index.html');
    await page.click('#explain-form button[type=submit]');
    await page.waitForSelector('#explain-result.ok');
    await page.waitForSelector('#explain-against:has-text("version 1")');
  },
  async history(page, url) {
    await page.goto(`${url}/routes#history`);
    await page.waitForSelector('body[data-ready="true"]');
    await page.waitForSelector('#history tbody tr:nth-child(2)');
  },
  async traffic(page, url) {
    await page.goto(`${url}/routes#traffic`);
    await page.waitForSelector('body[data-ready="true"]');
    await page.waitForSelector('#traffic-charts .chart-card:nth-child(3) canvas');
  },
  async map(page, url) {
    await page.goto(`${url}/routes#map`);
    await page.waitForSelector('body[data-ready="true"]');
    await page.waitForSelector('#map details[open] .map-seg');
  },
  async overrides(page, url) {
    await page.goto(`${url}/manual`);
    await page.waitForSelector('body[data-ready="true"]');
    await page.fill(
      '#manual-value',
      [
        'route del legacy',
        'route bogus',
        `route add ${EVIL_SVC} new.example/ http://10.0.0.9:80/`,
        'route weight web example.com/ weight 0.5',
      ].join('\n'),
    );
    await page.waitForSelector('#preview-diff tr.pv-rew');
  },
};

let browser: Browser;

describe('admin UI screenshots match docs/ui/ (chromium, 1400 px and 360 px)', { skip: chromiumSkip }, () => {
  before(async () => {
    browser = await launchChromium({ fixed: true });
  });
  after(() => browser?.close());

  for (const width of WIDTHS) {
    for (const [name, steps] of Object.entries(PAGES)) {
      test(`${name} at ${width} px`, async (t) => {
        const a = await fixture(t);
        const { page, errors } = await browser.newPage(width);
        t.after(() => page.close());
        await page.clock.setFixedTime(NOW);
        await steps(page, a.url);
        await settle(page);
        const png = await page.screenshot({ animations: 'disabled', caret: 'hide' });
        const file = join(GOLDEN, `${name}-${width}.png`);
        assert.deepEqual(errors, []);
        assert.equal(await page.evaluate('window.__xss'), undefined);
        if (WRITE) {
          writeFileSync(file, png);
          return;
        }
        assert.ok(existsSync(file), `${file} missing: run with UI_SCREENSHOTS=1 to write it`);
        const d = comparePng(decodePng(readFileSync(file)), decodePng(png), TOLERANCE);
        if (d.fraction > MAX_FRACTION) {
          const out = join(mkdtempSync(join(tmpdir(), 'fabio-ts-shot-')), `${name}-${width}.png`);
          writeFileSync(out, png);
          assert.fail(
            `${name} at ${width} px differs from ${file} in ${d.pixels} pixels (${(d.fraction * 100).toFixed(2)} %, ` +
              `box ${JSON.stringify(d.box)}); this run's picture: ${out}. If the change is meant, UI_SCREENSHOTS=1 rewrites the goldens.`,
          );
        }
      });
    }
  }
});
