/**
 * The recordings bucket's IAM policy as `grm doctor` reads it: version 3
 * (`bucket.iam.getPolicy({requestedPolicyVersion: 3})`, so its IAM
 * Conditions come with it), and the permissions of a custom role a binding
 * names, from the IAM API (`roles.get`; there is none on the local stack).
 * And the probe: as a function identity, impersonated through IAM
 * Credentials (`generateAccessToken`, the call google-auth-library's
 * Impersonated client makes, made here directly: that client warns on the
 * console about credential files, which this is not), create and read back
 * one object; then delete that generation with the caller's own rights.
 */
import {statusOf} from './http-status';
import type {Storage} from '@google-cloud/storage';
import {AuthClient, GoogleAuth, OAuth2Client} from 'google-auth-library';
import type {PolicyBinding} from '../core/bucket-access';
import {ApiRefusal, BucketPolicySource, BucketProbe, ProbeOutcome} from '../ops/doctor/ports';
import {apiMessage} from './deployment-apis';

const SCOPES = ['https://www.googleapis.com/auth/cloud-platform'];

export class BucketPolicy implements BucketPolicySource {
  constructor(
    private readonly storage: Storage,
    private readonly bucket: string,
    /** Whether the IAM API can be asked for custom roles (not on the local stack). */
    private readonly iamApi: boolean,
  ) {}

  async bindings(): Promise<PolicyBinding[]> {
    try {
      const [policy] = await this.storage
        .bucket(this.bucket)
        .iam.getPolicy({requestedPolicyVersion: 3});
      return (policy.bindings ?? []).map(b => {
        const c = b.condition as {title?: unknown; expression?: unknown} | undefined;
        return {
          role: b.role,
          members: b.members ?? [],
          ...(c && typeof c.expression === 'string'
            ? {
                condition: {
                  expression: c.expression,
                  ...(typeof c.title === 'string' ? {title: c.title} : {}),
                },
              }
            : {}),
        };
      });
    } catch (err) {
      throw refusal(err);
    }
  }

  async customRole(role: string): Promise<string[] | undefined> {
    if (!this.iamApi || !/^(projects|organizations)\/[^/]+\/roles\/[^/]+$/.test(role))
      return undefined;
    try {
      const res = await new GoogleAuth({scopes: SCOPES}).request<{
        includedPermissions?: string[];
      }>({url: `https://iam.googleapis.com/v1/${role}`, method: 'GET', timeout: 30_000});
      return res.data.includedPermissions ?? [];
    } catch {
      return undefined;
    }
  }
}

export class ImpersonatingProbe implements BucketProbe {
  constructor(
    private readonly opts: {
      bucket: string;
      /** Storage as the caller (no client) or as the impersonated identity. */
      storage: (auth?: AuthClient) => Storage;
      /** IAM Credentials' endpoint (the local stack's stand-in); Google's by default. */
      iamCredentialsUrl?: string;
    },
  ) {}

  async writeAndRead(email: string, object: string, content: string): Promise<ProbeOutcome> {
    let as: AuthClient;
    try {
      as = await this.impersonate(email);
    } catch (err) {
      const r = refusal(err);
      return {ok: false, stage: 'impersonate', status: r.status, detail: r.message};
    }
    const file = this.opts.storage(as).bucket(this.opts.bucket).file(object);
    let generation: string | undefined;
    try {
      await file.save(content, {
        resumable: false,
        contentType: 'application/json',
        preconditionOpts: {ifGenerationMatch: 0},
      });
      generation = String(file.metadata.generation ?? '') || undefined;
    } catch (err) {
      const r = refusal(err);
      return {ok: false, stage: 'write', status: r.status, detail: r.message};
    }
    let read: ProbeOutcome | undefined;
    try {
      const [bytes] = await file.download();
      if (bytes.toString('utf8') !== content)
        read = {ok: false, stage: 'read', detail: 'it read back other bytes than it wrote'};
    } catch (err) {
      const r = refusal(err);
      read = {ok: false, stage: 'read', status: r.status, detail: r.message};
    }
    const cleanup = await this.remove(object, generation);
    if (read) return read;
    return cleanup === undefined
      ? {ok: true, cleanedUp: true}
      : {ok: true, cleanedUp: false, detail: cleanup};
  }

  /** A client holding a five-minute access token of `email`, minted with the caller's credentials. */
  private async impersonate(email: string): Promise<AuthClient> {
    const endpoint = this.opts.iamCredentialsUrl ?? 'https://iamcredentials.googleapis.com';
    const res = await new GoogleAuth({scopes: SCOPES}).request<{
      accessToken?: string;
      expireTime?: string;
    }>({
      url: `${endpoint}/v1/projects/-/serviceAccounts/${encodeURIComponent(email)}:generateAccessToken`,
      method: 'POST',
      data: {scope: SCOPES, lifetime: '300s'},
      timeout: 30_000,
    });
    if (!res.data.accessToken) throw new Error('IAM Credentials returned no access token');
    const client = new OAuth2Client();
    client.setCredentials({
      access_token: res.data.accessToken,
      expiry_date: Date.parse(res.data.expireTime ?? '') || Date.now() + 300_000,
    });
    return client;
  }

  /** Deletes the probe's generation as the caller; undefined on success, else why not. */
  private async remove(
    object: string,
    generation: string | undefined,
  ): Promise<string | undefined> {
    try {
      await this.opts
        .storage()
        .bucket(this.opts.bucket)
        .file(object, generation ? {generation: Number(generation)} : {})
        .delete();
      return undefined;
    } catch (err) {
      return refusal(err).message;
    }
  }
}

/** Any client's error as an ApiRefusal: its HTTP status and the service's own message. */
function refusal(err: unknown): ApiRefusal {
  if (err instanceof ApiRefusal) return err;
  const e = err as {
    code?: unknown;
    status?: unknown;
    message?: unknown;
    response?: {status?: unknown; data?: unknown};
  };
  const status = statusOf(err) ?? 0;
  const fromBody = e.response?.data !== undefined ? apiMessage(e.response.data) : undefined;
  const message =
    fromBody && fromBody !== 'refused'
      ? fromBody
      : typeof e.message === 'string'
        ? e.message.slice(0, 300)
        : 'no answer';
  return new ApiRefusal(status, status ? `HTTP ${status}: ${message}` : message);
}
