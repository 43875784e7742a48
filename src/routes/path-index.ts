import type { CRoute, PathIndex, RNode } from './compiled.ts';
import type { Matcher } from './types.ts';

/**
 * Path lookup for hosts with many routes: a radix tree over route paths (lower-cased for
 * iprefix). Routes are tried in path-descending order and the first match wins. For prefix the
 * route paths that prefix a request path are nested, so the first in that order is the longest:
 * the deepest route node on the walk. For iprefix several original paths can share a lower-cased
 * prefix chain in a different order, so the walk keeps the match with the smallest sort position.
 * The walk compares labels with startsWith(label, offset): no allocation. The node and index
 * shapes live in compiled.ts with the other compiled shapes.
 */

/**
 * Below this many routes a linear scan is as fast (bench/lookup.ts, 10k routes: median lookup
 * 557-774 ns with 8, 610-676 ns with 16) and the tree's nodes and child maps are not worth their
 * memory (10k routes: retained table 12.65 MB with 8, 11.55 MB with 16).
 */
export const INDEX_MIN_ROUTES = 16;

function node(label: string): RNode {
  return { label, children: undefined, route: undefined, pos: 0 };
}

function insert(root: RNode, key: string, route: CRoute, pos: number): void {
  let n = root;
  let i = 0;
  while (i < key.length) {
    const c = key.charCodeAt(i);
    const child = n.children?.get(c);
    if (child === undefined) {
      const leaf = node(key.slice(i));
      n.children ??= new Map();
      n.children.set(c, leaf);
      n = leaf;
      i = key.length;
      break;
    }
    const label = child.label;
    let k = 0;
    while (k < label.length && i + k < key.length && label.charCodeAt(k) === key.charCodeAt(i + k)) k++;
    if (k < label.length) {
      // split the edge at k
      const mid = node(label.slice(0, k));
      child.label = label.slice(k);
      mid.children = new Map([[child.label.charCodeAt(0), child]]);
      (n.children as Map<number, RNode>).set(c, mid);
      n = mid;
    } else n = child;
    i += k;
  }
  if (n.route === undefined) {
    // routes arrive sorted, so the first one for a key is the one fabio would try first
    n.route = route;
    n.pos = pos;
  }
}

export function buildPathIndex(routes: readonly CRoute[], matcher: Matcher): PathIndex | undefined {
  if (routes.length < INDEX_MIN_ROUTES) return undefined;
  const root = node('');
  if (matcher === 'glob') {
    const literal = new Map<string, CRoute>();
    const order = new Map<CRoute, number>();
    const globs: CRoute[] = [];
    routes.forEach((r, i) => {
      order.set(r, i);
      if (r.glob !== undefined) globs.push(r);
      else if (!literal.has(r.path)) literal.set(r.path, r);
    });
    return { root, literal, globs, order };
  }
  for (let i = 0; i < routes.length; i++) {
    const r = routes[i] as CRoute;
    insert(root, matcher === 'iprefix' ? r.lowerPath : r.path, r, i);
  }
  return { root, literal: undefined, globs: [], order: undefined };
}

/** glob matcher: the literal hit or the first matching glob route, whichever sorts first. */
function probeGlob(ix: PathIndex, path: string): CRoute | undefined {
  const lit = (ix.literal as ReadonlyMap<string, CRoute>).get(path);
  const litPos =
    lit === undefined ? Number.MAX_SAFE_INTEGER : ((ix.order as ReadonlyMap<CRoute, number>).get(lit) as number);
  const gs = ix.globs;
  for (let i = 0; i < gs.length; i++) {
    const g = gs[i] as CRoute;
    if (((ix.order as ReadonlyMap<CRoute, number>).get(g) as number) > litPos) break;
    if (g.glob?.(path)) return g;
  }
  return lit;
}

/** // hot path */
export function probePath(ix: PathIndex, matcher: Matcher, path: string, lowerPath: string): CRoute | undefined {
  if (matcher === 'glob') return probeGlob(ix, path);
  const p = matcher === 'iprefix' ? lowerPath : path;
  let n: RNode = ix.root;
  let best = n.route;
  let bestPos = best === undefined ? Number.MAX_SAFE_INTEGER : n.pos;
  let i = 0;
  while (i < p.length) {
    const child = n.children?.get(p.charCodeAt(i));
    if (child === undefined || !p.startsWith(child.label, i)) break;
    i += child.label.length;
    n = child;
    if (n.route !== undefined && (matcher === 'prefix' || n.pos < bestPos)) {
      best = n.route;
      bestPos = n.pos;
    }
  }
  return best;
}
