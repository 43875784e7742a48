/** Binary search and order over sorted arrays: the one copy the route build and the registry use. */

/** Byte (UTF-16 unit) order of two strings, ascending. */
export const ascending = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Index of the first element of `xs[from..]` (sorted so that cmp(element, x) is non-decreasing)
 * for which cmp(element, x) >= 0: the lower bound of x. `x` may be of another type than the
 * elements (a key compared with each element).
 */
export function bound<T, K>(xs: ArrayLike<T>, x: K, cmp: (a: T, x: K) => number, from = 0): number {
  let lo = from;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cmp(xs[mid] as T, x) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
