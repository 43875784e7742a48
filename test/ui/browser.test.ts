import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS, chromiumSkip } from './chromium.ts';
import { makeTable, startTestAdmin } from './helpers.ts';

/**
 * The UI in a real browser: Debian's chromium driven by playwright-core. Skipped (with a message)
 * when /usr/bin/chromium is missing; CI installs it.
 */

const skip = chromiumSkip;

const ROUTES = `
route add web example.com/ http://10.0.0.2:8080/ tags "blue"
route add web example.com/ http://10.0.0.3:8080/
route add api example.com/api http://10.0.0.4:8080/ weight 0.25
route add legacy /old http://10.0.0.5:8080/
`;

// Strings anyone who can register a Consul service controls.
const EVIL_SVC = '<script>window.__xss=1</script>';
const EVIL_TAG = '"><img src=x onerror=window.__xss=2>';
// The route language cannot carry `"` inside tags (such a tag is skipped at translation and shown
// as a warning), so the table variant uses a single quote.
const EVIL_TAG_ROUTE = "'><img src=x onerror=window.__xss=2>";
const EVIL_OPT = 'x=<img/src=x/onerror=window.__xss=3>';
const EVIL_TEXT = `route add ${EVIL_SVC} evil.example/<svg/onload=window.__xss=4> http://10.9.9.9:80/ tags "${EVIL_TAG_ROUTE}" opts "${EVIL_OPT}"`;

let ctx: BrowserContext;
let dir: string;

async function newPage(): Promise<{ page: Page; dialogs: string[]; errors: string[] }> {
  const page = await ctx.newPage();
  const dialogs: string[] = [];
  const errors: string[] = [];
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  page.setDefaultTimeout(5000);
  return { page, dialogs, errors };
}

describe('admin UI in chromium', { skip }, () => {
  before(async () => {
    const { chromium } = await import('playwright-core');
    dir = mkdtempSync(join(tmpdir(), 'fabio-ts-ui-'));
    ctx = await chromium.launchPersistentContext(dir, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
    });
  });
  after(async () => {
    await ctx?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('routes page: columns, filter kept in ?filter=, live update without reload', async (t) => {
    const a = await startTestAdmin(t, {
      cfg: { 'ui.title': 'prod', 'ui.color': 'indigo' },
      table: await makeTable(ROUTES),
    });
    const { page, errors } = await newPage();
    t.after(() => page.close());
    await page.goto(`${a.url}/routes`);
    await page.waitForSelector('body[data-ready="true"]');
    const rows = page.locator('#routes tbody tr');
    assert.equal(await rows.count(), 4);
    assert.deepEqual(await rows.nth(0).locator('td').allTextContents(), [
      '1',
      'legacy',
      '/old',
      'http://10.0.0.5:8080/',
      '',
      '100.00%',
    ]);
    assert.deepEqual(await rows.nth(1).locator('td').allTextContents(), [
      '2',
      'api',
      'example.com/api',
      'http://10.0.0.4:8080/',
      '',
      '100.00%',
    ]);
    assert.equal(await rows.nth(2).locator('td').nth(4).textContent(), 'tags=blue');
    assert.equal(await rows.nth(2).locator('td').nth(5).textContent(), '50.00%');
    assert.equal(await page.title(), 'fabio-ts - prod');

    await page.fill('#filter', 'example.com 10.0.0.3');
    assert.equal(await page.locator('#routes tbody tr:not([hidden])').count(), 1);
    assert.equal(new URL(page.url()).searchParams.get('filter'), 'example.com 10.0.0.3');
    // The filter survives a reload.
    await page.reload();
    await page.waitForSelector('body[data-ready="true"]');
    assert.equal(await page.inputValue('#filter'), 'example.com 10.0.0.3');
    assert.equal(await page.locator('#routes tbody tr:not([hidden])').count(), 1);
    await page.fill('#filter', '');

    // Live: a new table shows up without a reload.
    await page.evaluate('window.__marker = 42');
    await page.waitForSelector('#live.on');
    a.store.swap(await makeTable(`${ROUTES}\nroute add newsvc new.example/ http://10.0.0.7:80/`));
    await page.locator('#routes tbody tr', { hasText: 'newsvc' }).waitFor({ timeout: 2000 });
    assert.equal(await page.evaluate('window.__marker'), 42, 'no reload happened');
    assert.equal(await rows.count(), 5);
    await page.screenshot({ path: join(tmpdir(), 'fabio-ts-ui-routes.png'), fullPage: true });
    assert.deepEqual(errors, []);
  });

  test('explain shows the decision step by step', async (t) => {
    const a = await startTestAdmin(t, { table: await makeTable(ROUTES) });
    const { page, errors } = await newPage();
    t.after(() => page.close());
    await page.goto(`${a.url}/routes#explain`);
    await page.waitForSelector('body[data-ready="true"]');
    assert.equal(await page.isVisible('#view-explain'), true);
    assert.equal(await page.isVisible('#view-routes'), false);
    await page.fill('#explain-url', 'http://example.com/api/users?x=1');
    await page.click('#explain-form button[type=submit]');
    await page.waitForSelector('#explain-result.ok');
    assert.match(
      (await page.textContent('#explain-result')) ?? '',
      /example\.com\/api .*service api on http:\/\/10\.0\.0\.4:8080\//,
    );
    assert.ok((await page.locator('#explain-steps li').count()) >= 2);
    await page.fill('#explain-url', 'http://nowhere.example/');
    await page.fill('#explain-headers', 'Host: nowhere.too');
    await page.click('#explain-form button[type=submit]');
    await page.waitForSelector('#explain-result.bad');
    assert.deepEqual(errors, []);
  });

  test('manual override editor saves in rw, conflicts show, refused in ro', async (t) => {
    const a = await startTestAdmin(t, { table: await makeTable(ROUTES) });
    a.manual!.data.set('', { value: 'route del legacy', index: 20 });
    const { page, errors } = await newPage();
    t.after(() => page.close());
    await page.goto(`${a.url}/manual`);
    await page.waitForSelector('body[data-ready="true"]');
    assert.equal(await page.inputValue('#manual-value'), 'route del legacy');
    await page.click('#manual-help');
    await page.waitForSelector('#manual-helptext:not([hidden])');
    assert.match((await page.textContent('#manual-helptext')) ?? '', /route add/);
    await page.fill('#manual-value', 'route weight web example.com/ weight 0.1 tags "blue"');
    await page.click('#manual-save');
    await page.waitForSelector('#manual-status.ok');
    assert.equal(a.manual!.data.get('')!.value, 'route weight web example.com/ weight 0.1 tags "blue"');
    // Someone else writes in between: our save is refused with 409.
    a.manual!.data.set('', { value: 'other', index: 99 });
    await page.fill('#manual-value', 'mine');
    await page.click('#manual-save');
    await page.waitForSelector('#manual-status.bad');
    assert.match((await page.textContent('#manual-status')) ?? '', /version mismatch/);
    assert.equal(a.manual!.data.get('')!.value, 'other');

    const ro = await startTestAdmin(t, { cfg: { 'ui.access': 'ro' }, table: await makeTable(ROUTES) });
    const resp = await page.goto(`${ro.url}/manual`);
    assert.equal(resp?.status(), 403);
    await page.goto(`${ro.url}/routes`);
    await page.waitForSelector('body[data-ready="true"]');
    assert.equal(await page.locator('#overrides').count(), 0);
    const status = await page.evaluate(async () => {
      const r = await fetch('/api/manual', {
        method: 'PUT',
        headers: { 'Content-Type': 'application/json' },
        body: '{"value":"x","version":"0"}',
      });
      return r.status;
    });
    assert.equal(status, 403);
    assert.deepEqual(errors, []);
  });

  test('hostile service names, tags and KV text render as text in every view', async (t) => {
    const a = await startTestAdmin(t, {
      cfg: { 'ui.routingtable.source.linkenabled': true, 'ui.title': '<img src=x onerror=window.__xss=5>' },
      table: await makeTable(`${ROUTES}\n${EVIL_TEXT}\nroute add ${EVIL_SVC} /<b>x http://10.9.9.8:80/`),
    });
    a.updater.hist.push({
      time: '2026-01-01T00:00:00Z',
      cause: 'consul',
      index: 3,
      added: [EVIL_TEXT],
      removed: [`route add ${EVIL_SVC} /x http://h:1/`],
    });
    a.updater.warns.push({ service: EVIL_SVC, tag: EVIL_TAG, message: `cannot translate ${EVIL_TAG}` });
    a.manual!.data.set('', { value: `</textarea><script>window.__xss=6</script>`, index: 30 });
    const { page, dialogs, errors } = await newPage();
    t.after(() => page.close());
    for (const view of ['routes', 'history', 'warnings', 'explain', 'traffic']) {
      await page.goto(`${a.url}/routes#${view}`);
      await page.waitForSelector('body[data-ready="true"]');
    }
    await page.goto(`${a.url}/routes`);
    await page.waitForSelector('body[data-ready="true"]');
    const text = (await page.textContent('#routes tbody')) ?? '';
    assert.ok(text.includes(EVIL_SVC), text);
    assert.ok(text.includes(`tags=${EVIL_TAG_ROUTE}`), text);
    assert.ok(text.includes(EVIL_OPT), text);
    assert.equal(await page.locator('#routes img, #routes script, #routes svg').count(), 0);
    await page.goto(`${a.url}/routes#history`);
    await page.waitForSelector('body[data-ready="true"]');
    assert.ok(((await page.textContent('#history')) ?? '').includes(EVIL_TEXT));
    await page.goto(`${a.url}/routes#warnings`);
    await page.waitForSelector('body[data-ready="true"]');
    assert.ok(((await page.textContent('#warnings')) ?? '').includes(EVIL_TAG));
    await page.goto(`${a.url}/routes#explain`);
    await page.waitForSelector('body[data-ready="true"]');
    await page.fill('#explain-url', 'http://evil.example/<svg/onload=window.__xss=4>');
    await page.click('#explain-form button[type=submit]');
    await page.waitForSelector('#explain-result.ok');
    assert.ok(((await page.textContent('#explain-result')) ?? '').includes(EVIL_SVC));
    await page.goto(`${a.url}/manual`);
    await page.waitForSelector('body[data-ready="true"]');
    assert.equal(await page.inputValue('#manual-value'), '</textarea><script>window.__xss=6</script>');
    assert.equal(await page.evaluate('window.__xss'), undefined);
    assert.deepEqual(dialogs, []);
    assert.deepEqual(errors, []);
  });
});
