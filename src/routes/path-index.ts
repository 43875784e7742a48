import type { CRoute } from './compiled.ts';
import type { Matcher } from './types.ts';

/**
 * Path lookup for hosts with many routes: a radix tree over route paths (lower-cased for
 * iprefix). Routes are tried in path-descending order and the first match wins. For prefix the
 * route paths that prefix a request path are nested, so the first in that order is the longest:
 * the deepest route node on the walk. For iprefix several original paths can share a lower-cased
 * prefix chain in a different order, so the walk keeps the match with the smallest sort position.
 * The walk compares labels with startsWith(label, offset): no allocation.
 */
interface RNode {
  label: string;
  children: Map<number, RNode> | undefined;
  route: CRoute | undefined;
  /** Sort position of `route` in the host's path-descending order. */
  pos: number;
}

export interface PathIndex {
  readonly root: RNode;
}

/** Below this many routes a linear scan is as fast (bench/lookup.ts). */
export const INDEX_MIN_ROUTES = 8;

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
  if (matcher === 'glob' || routes.length < INDEX_MIN_ROUTES) return undefined;
  const root = node('');
  routes.forEach((r, i) => insert(root, matcher === 'iprefix' ? r.lowerPath : r.path, r, i));
  return { root };
}

/** // hot path */
export function probePath(ix: PathIndex, matcher: Matcher, path: string, lowerPath: string): CRoute | undefined {
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
