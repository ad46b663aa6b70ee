/**
 * Calls the planner over HTTP as a person would with curl: a JSON POST with
 * the caller's ID token (on the local stack too, whose front end checks it
 * as Cloud Run does), answered with the
 * status and the JSON (or text) body. Planning a long backfill takes time,
 * so it waits as long as the planner's own timeout.
 */
import {idTokenFor} from './id-token';

const PLANNER_TIMEOUT_MS = 30 * 60_000;

export function plannerClient(
  url: string,
): (body: unknown) => Promise<{status: number; body: unknown}> {
  return async body => {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      authorization: `Bearer ${await idTokenFor(url)}`,
    };
    const res = await fetch(url, {
      method: 'POST',
      headers,
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(PLANNER_TIMEOUT_MS),
    });
    const text = await res.text();
    try {
      return {status: res.status, body: JSON.parse(text) as unknown};
    } catch {
      return {status: res.status, body: text};
    }
  };
}
