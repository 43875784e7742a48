import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { memoryLogger } from '../../src/log/logger.ts';
import { buildTable } from '../../src/routes/index.ts';
import { TableStore } from '../../src/routes/table-store.ts';
import { TableUpdater } from '../../src/runtime/table-updater.ts';
import { type Browser, chromiumSkip, launchChromium } from './chromium.ts';
import { BUILD, makeTable, startTestAdmin } from './helpers.ts';

/**
 * Issue #19's live parts in chromium at 1400 px and 360 px: History → "explain against version N",
 * the route map following live events without losing the user's search, zoom and collapsed hosts,
 * and ejected targets (issue #15) on every page. The ejection fields come from another branch, so
 * the answers are given them here by intercepting the API (the page must also work without them).
 */

const EVIL_SVC = '<script>window.__xss=1</script>';
const WIDTHS = [1400, 360];
const ROUTES = `
route add web example.com/ http://10.0.0.2:8080/
route add ${EVIL_SVC} example.com/ http://10.0.0.3:8080/ weight 0.1
route add api example.com/api http://10.0.0.4:8080/
route add db :3306 tcp://10.0.0.7:3306
`;

let browser: Browser;

/** Adds fields to the JSON answers of `path` (a test fixture standing in for the resil branch). */
async function patchJson(page: Page, path: string, fn: (body: unknown) => unknown) {
  await page.route(
    (u) => u.pathname === path,
    async (route) => {
      const res = await route.fetch();
      route.fulfill({ response: res, json: fn(await res.json()) });
    },
  );
}

describe('admin UI live views (chromium, 1400 px and 360 px)', { skip: chromiumSkip }, () => {
  before(async () => {
    browser = await launchChromium();
  });
  after(() => browser?.close());

  for (const width of WIDTHS) {
    test(`${width} px: a History row explains the request against the table before that change`, async (t) => {
      const store = new TableStore();
      const build = (text: string) => buildTable(text, BUILD);
      const updater = new TableUpdater({
        store,
        log: memoryLogger('INFO'),
        build,
        routesFormat: 'delta',
        coalesceMs: 0,
      });
      t.after(() => updater.close());
      const a = await startTestAdmin(t, { extra: { store, updater, build } });
      const push = (text: string, index: number) => {
        updater.update({ text, cause: 'consul', index });
        updater.flush();
      };
      push(`route add ${EVIL_SVC} example.com/ http://10.0.0.1:8080/`, 10);
      push(`route add ${EVIL_SVC} example.com/ http://10.0.0.2:9090/`, 11);
      const { page, errors } = await browser.newPage(width);
      t.after(() => page.close());
      await page.goto(`${a.url}/routes#history`);
      await page.waitForSelector('body[data-ready="true"]');
      const newest = page.locator('#history tbody tr').first();
      assert.match((await newest.locator('td').nth(3).textContent()) ?? '', /^v2/);
      await newest.locator('a.explain-at', { hasText: 'before (v1)' }).click();
      await page.waitForSelector('#view-explain:not([hidden])');
      await page.waitForSelector('#explain-result.ok');
      assert.match((await page.textContent('#explain-result')) ?? '', /on http:\/\/10\.0\.0\.1:8080\//);
      assert.match(
        (await page.textContent('#explain-against')) ?? '',
        /Against table version 1, .*live table is version 2/,
      );
      assert.equal(await page.locator('#explain-targets tbody tr td').first().textContent(), EVIL_SVC);
      // back to the live table
      await page.click('#explain-live');
      await page.waitForSelector('#explain-live[hidden]', { state: 'attached' });
      await page.click('#explain-form button[type=submit]');
      await page.waitForSelector('#explain-against:has-text("live table (version 2)")');
      assert.match((await page.textContent('#explain-result')) ?? '', /10\.0\.0\.2:9090/);
      assert.equal(await page.evaluate('window.__xss'), undefined);
      assert.deepEqual(errors, []);
    });

    test(`${width} px: the route map follows live table changes and keeps search, zoom and collapsed hosts`, async (t) => {
      const a = await startTestAdmin(t, { table: await makeTable(ROUTES) });
      const { page, errors } = await browser.newPage(width);
      t.after(() => page.close());
      await page.goto(`${a.url}/routes#map`);
      await page.waitForSelector('body[data-ready="true"]');
      await page.waitForSelector('#live.on', { state: 'attached' });
      await page.waitForSelector('#map details[open]');
      await page.fill('#map-filter', 'example');
      await page.waitForSelector('#map-count:text-is("1 host, 2 routes")');
      // zoom in, collapse example.com by hand
      await page.locator('#map-zoom').fill('150');
      const host = page.locator('#map details', { hasText: 'example.com' });
      await host.locator('summary').click();
      assert.equal(await host.evaluate((n) => (n as unknown as { open: boolean }).open), false);
      // the table changes: a new route on example.com and a new host, both matching the search
      a.store.swap(
        await makeTable(
          `${ROUTES}\nroute add shop example.com/shop http://10.0.0.8:80/\nroute add blog blog.example.org/ http://10.0.0.9:80/`,
        ),
      );
      await page.waitForSelector('#map-count:text-is("2 hosts, 4 routes")');
      assert.equal(await page.inputValue('#map-filter'), 'example', 'search kept');
      assert.equal(await page.evaluate(`document.getElementById('map').style.getPropertyValue('--map-zoom')`), '1.5');
      const fs = await page.evaluate(`getComputedStyle(document.querySelector('#map .map-path')).fontSize`);
      assert.equal(fs, '18px', 'zoomed 12 px × 1.5');
      assert.equal(
        await host.evaluate((n) => (n as unknown as { open: boolean }).open),
        false,
        'still collapsed after the refresh',
      );
      assert.equal(
        await page
          .locator('#map details', { hasText: 'blog.example.org' })
          .evaluate((n) => (n as unknown as { open: boolean }).open),
        true,
        'the new host opens as a search result',
      );
      await host.locator('summary').click();
      await page.waitForSelector('#map .map-path:text-is("/shop")');
      assert.deepEqual(errors, []);
    });

    test(`${width} px: ejected targets are marked on Routes, Explain, Map and History`, async (t) => {
      const a = await startTestAdmin(t, { table: await makeTable(ROUTES) });
      a.updater.hist.push({ time: '2026-01-01T00:00:00Z', cause: 'consul', index: 3, added: [], removed: [] });
      const until = '2026-01-01T00:05:00.000Z';
      const { page, errors } = await browser.newPage(width);
      t.after(() => page.close());
      const ejected = (u: unknown) => u === 'http://10.0.0.3:8080/';
      await patchJson(page, '/api/routes', (rows) =>
        (rows as { dst: string }[]).map((r) => (ejected(r.dst) ? { ...r, ejected: true, ejectedUntil: until } : r)),
      );
      await patchJson(page, '/api/explain', (b) => {
        const body = b as { targets: { url: string }[] };
        return { ...body, targets: body.targets.map((x) => ({ ...x, ejected: ejected(x.url) })) };
      });
      await patchJson(page, '/api/routes/history', (h) => [
        ...(h as unknown[]),
        // the entries src/runtime/outlier-history.ts adds (cause 'outlier', no line diff)
        {
          time: '2026-01-01T00:00:10Z',
          cause: 'outlier',
          index: 0,
          added: [],
          removed: [],
          outlier: {
            event: 'ejected',
            service: EVIL_SVC,
            url: 'http://10.0.0.3:8080/',
            route: 'example.com/',
            seconds: 30,
            message: 'ejected http://10.0.0.3:8080/ of example.com/ for 30s',
          },
        },
        {
          time: '2026-01-01T00:05:00Z',
          cause: 'outlier',
          index: 0,
          added: [],
          removed: [],
          outlier: {
            event: 'returned',
            service: EVIL_SVC,
            url: 'http://10.0.0.3:8080/',
            route: 'example.com/',
            message: 'returned http://10.0.0.3:8080/ of example.com/',
          },
        },
      ]);
      await page.goto(`${a.url}/routes`);
      await page.waitForSelector('body[data-ready="true"]');
      // routes
      const row = page.locator('#routes tbody tr.ejected');
      assert.equal(await row.count(), 1);
      assert.equal(await row.locator('td').nth(1).textContent(), EVIL_SVC);
      assert.equal(await row.locator('.eject-badge').textContent(), 'ejected');
      assert.match((await row.locator('.eject-badge').getAttribute('title')) ?? '', /until 2026-01-01T00:05:00\.000Z/);
      assert.equal(await page.locator('#routes tbody .eject-badge').count(), 1, 'only the ejected target');
      // explain
      await page.goto(`${a.url}/routes#explain`);
      await page.fill('#explain-url', 'http://example.com/');
      await page.click('#explain-form button[type=submit]');
      await page.waitForSelector('#explain-targets tbody tr.ejected');
      const ej = page.locator('#explain-targets tbody tr.ejected');
      assert.equal(await ej.locator('td').first().textContent(), EVIL_SVC);
      assert.match((await ej.locator('td').last().textContent()) ?? '', /ejected skipped/);
      assert.equal(await page.locator('#explain-targets tbody tr:not(.ejected) .eject-badge').count(), 0);
      // map
      await page.goto(`${a.url}/routes#map`);
      await page.waitForSelector('#map details');
      const seg = page.locator('#map .map-seg.ejected');
      assert.equal(await seg.count(), 1);
      assert.match((await seg.getAttribute('title')) ?? '', /ejected by outlier detection/);
      assert.match((await seg.textContent()) ?? '', /^⊘ /);
      // history
      await page.goto(`${a.url}/routes#history`);
      await page.waitForSelector('#history tbody tr.h-ejected');
      assert.match(
        (await page.locator('#history tbody tr.h-ejected').textContent()) ?? '',
        /ejected for 30s \(route example\.com\/\)/,
      );
      assert.match((await page.locator('#history tbody tr.h-restored').textContent()) ?? '', /back in rotation/);
      assert.equal(await page.evaluate('window.__xss'), undefined);
      assert.deepEqual(errors, []);
    });
  }

  test('an ejection that ends leaves the routes page without a table change or event', async (t) => {
    const a = await startTestAdmin(t, { table: await makeTable(ROUTES) });
    const { page, errors } = await browser.newPage(1400);
    t.after(() => page.close());
    let answers = 0;
    await patchJson(page, '/api/routes', (rows) =>
      answers++ === 0
        ? (rows as { dst: string }[]).map((r) =>
            r.dst === 'http://10.0.0.2:8080/'
              ? { ...r, ejected: true, ejectedUntil: new Date(Date.now() + 200).toISOString() }
              : r,
          )
        : rows,
    );
    await page.goto(`${a.url}/routes`);
    await page.waitForSelector('body[data-ready="true"]');
    await page.waitForSelector('#routes tbody tr.ejected');
    await page.waitForSelector('#routes tbody tr.ejected', { state: 'detached' });
    assert.equal(answers, 2, 'looked again once, when the ejection was due');
    assert.deepEqual(errors, []);
  });
});
