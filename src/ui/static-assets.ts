import { readFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { EMBEDDED_ASSETS } from './embedded-assets.ts';
import { CSP } from './http-util.ts';

/**
 * Serves src/ui/assets (dist/ui/assets after the build): resolved relative to this module so it
 * works from both. Only plain file names with a known extension under the folder are served. In the
 * single executable the files are compiled in (EMBEDDED_ASSETS) and there is no module URL to
 * resolve against, so the folder is never looked at.
 */
const ASSETS = EMBEDDED_ASSETS ? undefined : new URL('./assets/', import.meta.url);

const TYPES: Readonly<Record<string, string>> = {
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  svg: 'image/svg+xml',
  png: 'image/png',
  ico: 'image/x-icon',
  woff2: 'font/woff2',
  txt: 'text/plain; charset=utf-8',
};

const cache = new Map<string, Buffer>();

/**
 * Third-party files the UI serves under their asset name (vendor-assets.json: name → file in its
 * npm package). The build copies them into dist/ui/assets and build-binary embeds them; only when
 * running from the source tree are they read from the package itself. Never fetched at run time.
 */
async function vendorFile(name: string): Promise<Buffer | undefined> {
  try {
    const map = JSON.parse(await readFile(new URL('./vendor-assets.json', import.meta.url), 'utf8')) as Record<
      string,
      string
    >;
    const spec = Object.hasOwn(map, name) ? map[name] : undefined;
    if (spec === undefined) return undefined;
    return await readFile(createRequire(import.meta.url).resolve(spec));
  } catch {
    return undefined;
  }
}

export async function serveAsset(name: string, res: ServerResponse): Promise<boolean> {
  if (!/^[a-zA-Z0-9_-]+(?:[./][a-zA-Z0-9_-]+)*\.[a-z0-9]+$/.test(name)) return false;
  const ext = name.slice(name.lastIndexOf('.') + 1);
  const type = TYPES[ext];
  if (!type) return false;
  let body = EMBEDDED_ASSETS ? EMBEDDED_ASSETS.get(name) : cache.get(name);
  if (!body) {
    if (!ASSETS) return false;
    try {
      body = await readFile(new URL(name, ASSETS));
    } catch {
      body = await vendorFile(name);
      if (!body) return false;
    }
    cache.set(name, body);
  }
  res.statusCode = 200;
  res.setHeader('Content-Type', type);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Cache-Control', 'no-cache');
  if (ext === 'svg') res.setHeader('Content-Security-Policy', CSP);
  res.end(body);
  return true;
}
