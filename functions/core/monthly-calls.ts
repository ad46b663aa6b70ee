/**
 * Genesys calls counted per calendar month (UTC, `YYYY-MM`): what a history
 * migration and the restores of archived recordings each record, and what a
 * migration's monthly call cap reads. Pure.
 */

/** Calls per month, keyed `YYYY-MM`. */
export type MonthlyCalls = Record<string, number>;

/** The calendar month (UTC) of an instant, `YYYY-MM`. */
export function monthOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 7);
}

/** `calls` with `n` more in `month`. */
export function addCalls(calls: MonthlyCalls | undefined, month: string, n: number): MonthlyCalls {
  return {...calls, [month]: (calls?.[month] ?? 0) + n};
}

/** Every month's calls together. */
export function totalCalls(calls: MonthlyCalls | undefined): number {
  return Object.values(calls ?? {}).reduce((a, b) => a + b, 0);
}

/** Whether a stored value is a map of `YYYY-MM` months to counts. */
export function isMonthlyCalls(v: unknown): v is MonthlyCalls {
  return (
    typeof v === 'object' &&
    v !== null &&
    !Array.isArray(v) &&
    Object.entries(v).every(
      ([k, n]) => /^\d{4}-\d{2}$/.test(k) && Number.isSafeInteger(n) && (n as number) >= 0,
    )
  );
}
