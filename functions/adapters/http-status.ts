/**
 * The HTTP status of an error from a Google client: `code` (the storage
 * client's ApiError), `status`, or the gaxios response's status.
 */
export function statusOf(err: unknown): number | undefined {
  const e = err as {code?: unknown; status?: unknown; response?: {status?: unknown}};
  if (typeof e.code === 'number') return e.code;
  if (typeof e.status === 'number') return e.status;
  return typeof e.response?.status === 'number' ? e.response.status : undefined;
}
