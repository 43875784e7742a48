import type { Target } from './types.ts';

/**
 * Target pickers that work on a route's target list and its effective weights, for the choices
 * the proxy makes after the table's own pick (src/proxy/outlier): p2c, a retry on another target,
 * a target left out because it is ejected. Pure: load, exclusion and randomness are parameters.
 */

/**
 * A weighted random index among the targets `allowed` accepts (weights: Target.weight); uniform
 * among them when their weights are all 0. -1 when none is allowed.
 */
export function pickWeighted(
  targets: readonly Target[],
  allowed: (i: number) => boolean,
  random: () => number,
): number {
  let sum = 0;
  let count = 0;
  for (let i = 0; i < targets.length; i++) {
    if (!allowed(i)) continue;
    sum += (targets[i] as Target).weight;
    count++;
  }
  if (count === 0) return -1;
  if (!(sum > 0)) {
    let k = Math.floor(random() * count) % count;
    for (let i = 0; i < targets.length; i++) if (allowed(i) && k-- === 0) return i;
    return -1;
  }
  let x = random() * sum;
  let last = -1;
  for (let i = 0; i < targets.length; i++) {
    if (!allowed(i)) continue;
    const w = (targets[i] as Target).weight;
    if (w <= 0) continue;
    last = i;
    if (x < w) return i;
    x -= w;
  }
  return last;
}

/**
 * Power of two choices: `first` (the table's weighted pick) against a second weighted draw among
 * the other allowed targets; the one with fewer outstanding requests wins, `first` on a tie. Both
 * candidates are drawn by weight, so with equal load each target keeps its weighted share (a
 * canary at weight 0.1 still gets about 10 %).
 */
export function pickP2c(
  targets: readonly Target[],
  first: number,
  load: (i: number) => number,
  allowed: (i: number) => boolean,
  random: () => number,
): number {
  const second = pickWeighted(targets, (i) => i !== first && allowed(i), random);
  if (second < 0) return first;
  return load(second) < load(first) ? second : first;
}

/**
 * The replacement of a pick that passive outlier detection ejected: a weighted pick among the
 * targets that are neither ejected nor redirects. `idx` itself when that target is not ejected,
 * is a redirect, or every other target is ejected too. The proxy (Balancer.choose) and explain
 * share it, so explain's pick skips what the proxy skips.
 */
export function skipEjected(
  targets: readonly Target[],
  idx: number,
  ejected: (key: string) => boolean,
  random: () => number,
): number {
  const t = targets[idx];
  if (targets.length < 2 || t === undefined || t.redirectCode !== 0 || !ejected(t.key)) return idx;
  const other = pickWeighted(
    targets,
    (i) => {
      const x = targets[i] as Target;
      return x.redirectCode === 0 && !ejected(x.key);
    },
    random,
  );
  return other < 0 ? idx : other;
}
