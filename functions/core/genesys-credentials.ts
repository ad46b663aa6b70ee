/**
 * The Genesys credentials secret: `[{"clientId","clientSecret"}, …]` (or
 * `{"clients":[…]}`), one entry per OAuth client. Errors never quote the
 * secret's text.
 */
import {PermanentError} from './errors';

export interface GenesysCredentials {
  clientId: string;
  clientSecret: string;
}

/** Parses the credentials secret: `[{"clientId","clientSecret"}, …]` or `{"clients":[…]}`. */
export function parseCredentials(text: string): GenesysCredentials[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new PermanentError('the Genesys credentials secret is not JSON');
  }
  const list = Array.isArray(value) ? value : (value as {clients?: unknown})?.clients;
  if (!Array.isArray(list) || list.length === 0) {
    throw new PermanentError(
      'the Genesys credentials secret must hold [{"clientId":…,"clientSecret":…}, …]',
    );
  }
  return list.map((c, i) => {
    const item = c as {clientId?: unknown; clientSecret?: unknown};
    if (
      typeof item.clientId !== 'string' ||
      typeof item.clientSecret !== 'string' ||
      !item.clientId ||
      !item.clientSecret
    ) {
      throw new PermanentError(
        `Genesys credentials entry #${i} needs non-empty "clientId" and "clientSecret"`,
      );
    }
    return {clientId: item.clientId, clientSecret: item.clientSecret};
  });
}
