import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';

/** Debian's chromium driven by playwright-core, for the browser tests of the admin UI. */

export const CHROMIUM = '/usr/bin/chromium';
export const chromiumSkip = existsSync(CHROMIUM) ? false : `browser tests need ${CHROMIUM} (apt-get install chromium)`;

/** Headless, no sandbox (root in CI), and none of Chromium's own network chatter (the box has no network). */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export interface Browser {
  newPage(width?: number): Promise<{ page: Page; dialogs: string[]; errors: string[] }>;
  close(): Promise<void>;
}

/** `fixed`: UTC, en-US and a device scale of 1, so that pages render the same on every run (screenshots). */
export async function launchChromium(opts: { fixed?: boolean } = {}): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  const dir = mkdtempSync(join(tmpdir(), 'fabio-ts-ui-'));
  const ctx: BrowserContext = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    ...(opts.fixed
      ? { timezoneId: 'UTC', locale: 'en-US', deviceScaleFactor: 1, reducedMotion: 'reduce' as const }
      : {}),
  });
  return {
    async newPage(width = 1400) {
      const page = await ctx.newPage();
      await page.setViewportSize({ width, height: width < 600 ? 740 : 900 });
      const dialogs: string[] = [];
      const errors: string[] = [];
      page.on('dialog', (d) => {
        dialogs.push(d.message());
        void d.dismiss();
      });
      page.on('pageerror', (e) => errors.push(String(e)));
      page.setDefaultTimeout(5000);
      return { page, dialogs, errors };
    },
    async close() {
      await ctx.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
