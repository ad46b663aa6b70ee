/** A Genesys Cloud API error, answered with the platform's ErrorBody shape. */
export class ApiError extends Error {
  override name = 'ApiError' as const;
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** The documented ErrorBody: message, code, status, contextId, details, errors. */
export function errorBody(status: number, code: string, message: string, contextId: string) {
  return {message, code, status, contextId, details: [], errors: []};
}
