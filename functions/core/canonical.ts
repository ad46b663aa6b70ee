/**
 * One text for one meaning: JSON with every object's keys in a fixed order,
 * so two records that say the same thing compare equal whatever order their
 * writer happened to set the fields in. Pure.
 */

/** `value` as JSON with every object's keys sorted (arrays keep their order). */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

/** Whether two JSON values say the same thing (key order never matters, list order does). */
export function sameJson(a: unknown, b: unknown): boolean {
  return canonicalJson(a) === canonicalJson(b);
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort())
    out[key] = sortKeys((value as Record<string, unknown>)[key]);
  return out;
}

/**
 * `value` with the keys of `order` first, in that order, and any others after
 * them sorted: the order a writer uses so that equal records are equal bytes.
 */
export function ordered<T extends object>(value: T, order: readonly (keyof T)[]): T {
  const out: Record<string, unknown> = {};
  const src = value as Record<string, unknown>;
  for (const key of order as readonly string[]) if (src[key] !== undefined) out[key] = src[key];
  for (const key of Object.keys(src).sort())
    if (!(key in out) && src[key] !== undefined) out[key] = src[key];
  return out as T;
}
