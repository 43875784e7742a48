/**
 * fabio's weight rules (Route.weighTargets): fixed weights first, normalised when they exceed 1 or
 * when every target is fixed; the rest split evenly over dynamic targets; then a ring of up to
 * 10,000 slots for rnd/rr where each target with weight > 0 gets at least one slot, smallest
 * targets placed first and spaced evenly.
 */

export const MAX_SLOTS = 10_000;

/** Effective weight of each target from its fixed weight (0 = dynamic). */
export function effectiveWeights(fixed: readonly number[]): number[] {
  const n = fixed.length;
  let nFixed = 0;
  let sumFixed = 0;
  for (const f of fixed) {
    if (f > 0) {
      nFixed++;
      sumFixed += f;
    }
  }
  if (nFixed === 0) return fixed.map(() => 1 / n);
  const scale = sumFixed > 1 || (nFixed === n && sumFixed < 1) ? 1 / sumFixed : 1;
  let dynamic = (1 - sumFixed) / (n - nFixed);
  if (!(dynamic > 0)) dynamic = 0; // also catches NaN/-0 when every target is fixed
  return fixed.map((f) => (f > 0 ? f * scale : dynamic));
}

const IDENTITY: Uint32Array[] = [];

/**
 * The ring 0..n-1, shared by every route with n unweighted targets (rings are never written after
 * a build, so one copy serves all tables; most routes have no fixed weights).
 */
export function identityRing(n: number): Uint32Array {
  let r = IDENTITY[n];
  if (r === undefined) {
    r = new Uint32Array(n);
    for (let i = 0; i < n; i++) r[i] = i;
    if (n <= 256) IDENTITY[n] = r;
  }
  return r;
}

/**
 * The weighted ring as target indexes. With no fixed weight every target gets one slot in
 * insertion order (fabio uses the target list itself as the ring).
 */
export function buildRing(fixed: readonly number[], weights: readonly number[]): Uint32Array {
  if (!fixed.some((f) => f > 0)) return identityRing(weights.length);
  const counts = weights.map((w, i) => {
    let n = Math.trunc(MAX_SLOTS * w);
    if (n === 0 && w > 0) n = 1;
    return { i, n: Number.isFinite(n) && n > 0 ? n : 0 };
  });
  const used = counts.reduce((a, c) => a + c.n, 0);
  // Stable: Go's sort.Sort is not, so ties are ordered by insertion here (documented choice).
  counts.sort((a, b) => a.n - b.n || a.i - b.i);
  const ring = new Uint32Array(used);
  const taken = new Uint8Array(used);
  for (const c of counts) {
    if (c.n <= 0) continue;
    const step = Math.trunc(used / c.n);
    let next = 0;
    for (let k = 0; k < c.n; k++) {
      while (taken[next] === 1) next = (next + 1) % used;
      ring[next] = c.i;
      taken[next] = 1;
      next = (next + step) % used;
    }
  }
  return ring;
}
