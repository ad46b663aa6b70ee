/**
 * Check 3: SendGrid accepts the key and lets it send: `GET /v3/scopes` with
 * it answers 200 and its scopes include `mail.send`. Nothing is sent. (A
 * verified sender for MAIL_FROM is not something the key's scopes show.)
 */
import {CheckResult, failed, passed, skipped} from '../../core/doctor';
import type {SendGridProbe} from './ports';

const NEW_KEY =
  'SendGrid: Settings > API Keys > Create API Key with Restricted Access and Mail Send on, then add it as a new version of the key secret (secret check above)';

export async function checkSendGrid(
  probe: SendGridProbe,
  key: string | undefined,
): Promise<CheckResult> {
  const id = 'sendgrid.mail-send';
  const title = 'SendGrid key may send mail';
  if (key === undefined)
    return skipped(id, title, 'the key secret could not be read or is malformed (above)');
  const answer = await probe.scopes(key);
  if ('error' in answer)
    return skipped(id, title, `SendGrid did not answer (${answer.error}); run doctor again`);
  if (answer.status === 401 || answer.status === 403)
    return failed(
      id,
      title,
      `SendGrid refused the key (HTTP ${answer.status}): it is wrong, revoked, or of another account`,
      NEW_KEY,
    );
  if (answer.status !== 200)
    return failed(
      id,
      title,
      `GET /v3/scopes answered HTTP ${answer.status}`,
      'run doctor again; if it persists, check status.sendgrid.com',
    );
  const scopes = answer.scopes ?? [];
  if (!scopes.includes('mail.send'))
    return failed(
      id,
      title,
      `the key is accepted but lacks mail.send (${scopes.length} other scope${scopes.length === 1 ? '' : 's'}): no email would go out`,
      NEW_KEY,
    );
  return passed(id, title, 'accepted; its scopes include mail.send');
}
