/** Validation of the ids that end up in object names and API paths. */

/** Genesys ids are UUIDs. Anything else never becomes part of an object name. */
export const GENESYS_ID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Run and batch ids: short, URL- and path-safe. */
export const TOKEN_RE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

export function isGenesysId(value: unknown): value is string {
  return typeof value === 'string' && GENESYS_ID_RE.test(value);
}

/** One email address (no display name, no list separators). */
export const EMAIL_RE = /^[^\s@<>",;]+@[^\s@<>",;]+\.[^\s@<>",;]+$/;

export function isToken(value: unknown): value is string {
  return typeof value === 'string' && TOKEN_RE.test(value);
}
