/** OAuth clients of the simulator. */
import {UsageError} from '../common/cli';

/** The OAuth client the simulator accepts when none is configured (not a secret). */
export const DEFAULT_CLIENT = 'demo-client:demo-secret';

export function parseClients(specs: readonly string[]): Map<string, string> {
  const clients = new Map<string, string>();
  for (const spec of specs.length ? specs : [DEFAULT_CLIENT]) {
    const colon = spec.indexOf(':');
    if (colon <= 0 || colon === spec.length - 1)
      throw new UsageError(`--client must be ID:SECRET, got "${spec}"`);
    clients.set(spec.slice(0, colon), spec.slice(colon + 1));
  }
  return clients;
}
