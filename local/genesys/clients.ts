/** OAuth clients of the simulator, and the permissions each one lacks. */
import {UsageError} from '../common/cli';

/** The OAuth client the simulator accepts when none is configured (not a secret). */
export const DEFAULT_CLIENT = 'demo-client:demo-secret';

/** Without it, batch downloads silently leave out recordings flagged as sensitive. */
export const VIEW_SENSITIVE_DATA = 'recording:recording:viewSensitiveData';

/** Restoring an archived recording (`PUT …/recordings/{id}` with a later archive date). */
export const RESTORE = 'recording:recording:restore';

/** Changing a recording's retention dates other than by a restore. */
export const EDIT_RETENTION = 'recording:recording:editRetention';

/** The permissions a client can be configured to lack (all others are always granted). */
export const MODELLED: readonly string[] = [VIEW_SENSITIVE_DATA, RESTORE, EDIT_RETENTION];

export interface OAuthClient {
  secret: string;
  /** Permissions its roles do not grant. */
  lacks: string[];
}

/**
 * Parses `--client` specs: `ID:SECRET` (a client with every permission the
 * simulator models) or `ID:SECRET;lacks=PERMISSION[,PERMISSION…]`. A secret may
 * hold anything but `;`.
 */
export function parseClients(specs: readonly string[]): Map<string, OAuthClient> {
  const clients = new Map<string, OAuthClient>();
  for (const spec of specs.length ? specs : [DEFAULT_CLIENT]) {
    const [credentials = '', ...options] = spec.split(';');
    const colon = credentials.indexOf(':');
    if (colon <= 0 || colon === credentials.length - 1)
      throw new UsageError(`--client must be ID:SECRET[;lacks=PERMISSION,…], got "${spec}"`);
    const lacks: string[] = [];
    for (const option of options) {
      const m = /^lacks=(.+)$/.exec(option);
      if (!m)
        throw new UsageError(
          `--client takes only ;lacks=PERMISSION,… after ID:SECRET, got "${option}"`,
        );
      for (const permission of m[1]!.split(',')) {
        if (!MODELLED.includes(permission))
          throw new UsageError(
            `--client …;lacks=${permission}: the simulator models lacking only ${MODELLED.join(', ')}`,
          );
        if (!lacks.includes(permission)) lacks.push(permission);
      }
    }
    clients.set(credentials.slice(0, colon), {secret: credentials.slice(colon + 1), lacks});
  }
  return clients;
}
