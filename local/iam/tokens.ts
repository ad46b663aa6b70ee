/**
 * The local stack's OAuth access tokens and OIDC ID tokens: JWTs signed
 * (HS256) with a key that only the stack and its stand-ins hold, so a
 * stand-in can tell who is calling without a token service. The local
 * metadata server (./metadata-server.ts) hands them to each function, as
 * Cloud Run's metadata server hands out its service account's tokens.
 */
import {createHmac, randomBytes, timingSafeEqual} from 'node:crypto';

export interface TokenClaims {
  /** The principal's email (a service account's, or a user's). */
  email: string;
  kind: 'access' | 'id';
  /** ID tokens: who they are for (Cloud Run checks its own URL). */
  aud?: string;
  /** Seconds since the epoch. */
  exp: number;
  iat: number;
}

/** How long a token is valid, as Google's (one hour). */
export const TOKEN_LIFETIME_S = 3600;

const b64 = (b: Buffer | string) => Buffer.from(b).toString('base64url');

export function newTokenKey(): Buffer {
  return randomBytes(32);
}

export function mintToken(
  key: Buffer,
  claims: Omit<TokenClaims, 'exp' | 'iat'>,
  now = Date.now(),
): string {
  const iat = Math.floor(now / 1000);
  const body = b64(JSON.stringify({...claims, iat, exp: iat + TOKEN_LIFETIME_S}));
  const head = b64(JSON.stringify({alg: 'HS256', typ: 'JWT'}));
  const sig = createHmac('sha256', key).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}

export type Verified = {ok: true; claims: TokenClaims} | {ok: false; why: string};

export function verifyToken(key: Buffer, token: string, now = Date.now()): Verified {
  const parts = token.split('.');
  if (parts.length !== 3) return {ok: false, why: 'not a token of this stack'};
  const [head, body, sig] = parts as [string, string, string];
  const want = createHmac('sha256', key).update(`${head}.${body}`).digest();
  const got = Buffer.from(sig, 'base64url');
  if (got.length !== want.length || !timingSafeEqual(got, want))
    return {ok: false, why: 'bad signature'};
  let claims: TokenClaims;
  try {
    claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as TokenClaims;
  } catch {
    return {ok: false, why: 'malformed claims'};
  }
  if (typeof claims.email !== 'string' || typeof claims.exp !== 'number')
    return {ok: false, why: 'malformed claims'};
  if (claims.exp * 1000 <= now) return {ok: false, why: 'expired'};
  return {ok: true, claims};
}

/** The IAM member a token's principal is: `serviceAccount:` for service accounts, else `user:`. */
export function memberOf(email: string): string {
  return email.endsWith('.gserviceaccount.com') ? `serviceAccount:${email}` : `user:${email}`;
}

/** The bearer token of an Authorization header, if any. */
export function bearer(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  const m = /^Bearer\s+(\S+)$/i.exec(value ?? '');
  return m?.[1];
}
