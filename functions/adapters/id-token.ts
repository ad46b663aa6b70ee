/**
 * ID tokens for calling the planner as the operator: from Application
 * Default Credentials when they can mint one (service accounts, workload
 * identity, impersonation), else from the gcloud CLI's logged-in user
 * (`gcloud auth print-identity-token`), which user ADC cannot do.
 */
import {execFile} from 'node:child_process';
import {promisify} from 'node:util';
import {GoogleAuth} from 'google-auth-library';

export async function idTokenFor(audience: string): Promise<string> {
  try {
    const client = await new GoogleAuth().getIdTokenClient(audience);
    const token = await client.idTokenProvider.fetchIdToken(audience);
    if (token) return token;
  } catch {
    // user credentials cannot mint ID tokens; gcloud can
  }
  try {
    const {stdout} = await promisify(execFile)('gcloud', ['auth', 'print-identity-token'], {
      timeout: 30_000,
    });
    const token = stdout.trim();
    if (token) return token;
  } catch {
    // fall through to one clear error
  }
  throw new Error(
    'no identity token: log in with `gcloud auth login` (or use service-account credentials) to call the planner',
  );
}
