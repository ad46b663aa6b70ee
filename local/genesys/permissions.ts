/**
 * Which permissions an OAuth client of the simulator holds, and the one
 * endpoint that tells a caller which of its own it holds:
 * `GET /api/v2/authorization/divisionspermitted/paged/me?permission=…`
 * ("Returns which divisions the current user has the given permission in";
 * the SDKs' docs say it requires no permission). The simulator's
 * organisation has one division, its home division, and every client's role
 * is granted in it: a held permission lists that division, one the client
 * lacks (`;lacks=…` of its `--client` spec, or every client's
 * viewSensitiveData while `dropSensitive` is set) lists none, as a
 * permission held in no division would. Permission strings compare without
 * regard to case, as Genesys Cloud writes them either way
 * (`analytics:conversationDetail:view`, `analytics:conversationdetail:view`).
 *
 * Whether Genesys Cloud answers this route for a client-credentials token
 * (a token "not in the context of a user") is not documented; the simulator
 * answers it, and `grm doctor` reports the check skipped if a real
 * organisation refuses it.
 */
import {ApiError} from './errors';
import {EDIT_RETENTION, OAuthClient, RESTORE, VIEW_SENSITIVE_DATA} from './clients';

/** Reading the organisation's analytics data retention setting. */
export const DATA_RETENTION_VIEW = 'analytics:dataRetention:view';

/**
 * What the simulator's clients are granted: the organisation's role for the
 * export (infra/README.md lists it), plus the two retention permissions of
 * `PUT …/recordings/{id}` (restore an archived recording, change retention
 * dates otherwise).
 */
export const GRANTED_PERMISSIONS: readonly string[] = [
  'analytics:conversationDetail:view',
  DATA_RETENTION_VIEW,
  'recording:recording:view',
  'recording:recordingSegment:view',
  VIEW_SENSITIVE_DATA,
  'recording:screenRecording:view',
  RESTORE,
  EDIT_RETENTION,
];

/** The organisation's only division. */
export const HOME_DIVISION = {
  id: '6f1c2f0e-5c1d-4e7a-9d3b-0a0b0c0d0e01',
  name: 'Home',
  description: 'Home Division',
  homeDivision: true,
  selfUri: '/api/v2/authorization/divisions/6f1c2f0e-5c1d-4e7a-9d3b-0a0b0c0d0e01',
};

/** Whether `client` holds `permission` now (`dropSensitive` takes viewSensitiveData from all). */
export function holds(
  client: OAuthClient | undefined,
  permission: string,
  dropSensitive: boolean,
): boolean {
  const wanted = permission.toLowerCase();
  const granted = GRANTED_PERMISSIONS.find(p => p.toLowerCase() === wanted);
  if (!granted || !client) return false;
  if (granted === VIEW_SENSITIVE_DATA && dropSensitive) return false;
  return !client.lacks.some(l => l.toLowerCase() === wanted);
}

/** The `DivsPermittedEntityListing` of the route, for the calling client. */
export function divisionsPermitted(
  client: OAuthClient | undefined,
  params: URLSearchParams,
  dropSensitive: boolean,
): Record<string, unknown> {
  const permission = params.get('permission');
  if (!permission)
    throw new ApiError(400, 'bad.request', 'The query parameter "permission" is required.');
  const pageNumber = positive(params.get('pageNumber'), 1, 'pageNumber');
  const pageSize = positive(params.get('pageSize'), 25, 'pageSize');
  const all = holds(client, permission, dropSensitive) ? [HOME_DIVISION] : [];
  const entities = all.slice((pageNumber - 1) * pageSize, pageNumber * pageSize);
  return {
    entities,
    pageSize,
    pageNumber,
    total: all.length,
    pageCount: Math.ceil(all.length / pageSize),
  };
}

function positive(raw: string | null, fallback: number, name: string): number {
  if (raw === null) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1)
    throw new ApiError(400, 'bad.request', `"${name}" must be a whole number from 1.`);
  return n;
}
