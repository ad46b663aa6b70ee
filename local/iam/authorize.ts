/**
 * Who may do what on the local stack: the grants of infra/ (./policy.ts),
 * their IAM Conditions evaluated on the resource
 * (functions/core/iam-conditions.ts), and the roles' permissions
 * (functions/core/iam-roles.ts). One principal stands outside the policy: the
 * stack's project owner, which tests and tools name explicitly for ground
 * truth and fault injection, as a project owner would act on Google Cloud.
 */
import * as fs from 'node:fs';
import {evaluate, Resource} from '../../functions/core/iam-conditions';
import type {GrantKind, LocalPolicy} from './policy';
import {permissionsOf} from '../../functions/core/iam-roles';
import {bearer, memberOf, TokenClaims, verifyToken} from './tokens';

/** The project owner of the local stack: every permission on every resource. */
export const LOCAL_OWNER = 'owner@example.com';

export interface AccessConfig {
  policy: LocalPolicy;
  key: Buffer;
  /** Emails treated as the project's owners (default LOCAL_OWNER). */
  owners?: string[];
}

/** What a stand-in is given: the policy file and the token key file (`--iam DIR`). */
export function readAccessConfig(dir: string): AccessConfig {
  return {
    policy: JSON.parse(fs.readFileSync(`${dir}/policy.json`, 'utf8')) as LocalPolicy,
    key: Buffer.from(fs.readFileSync(`${dir}/key`, 'utf8').trim(), 'base64'),
  };
}

export function writeAccessConfig(dir: string, policy: LocalPolicy, key: Buffer): void {
  fs.mkdirSync(dir, {recursive: true});
  fs.writeFileSync(`${dir}/policy.json`, JSON.stringify(policy, null, 2));
  fs.writeFileSync(`${dir}/key`, key.toString('base64'), {mode: 0o600});
}

export type Caller =
  | {kind: 'anonymous'}
  | {kind: 'invalid'; why: string}
  | {kind: 'principal'; email: string; member: string; claims: TokenClaims};

/** A resource a permission is checked on. */
export interface Target {
  kind: GrantKind;
  /** The bucket, the secret (`projects/P/secrets/ID`), the service name, … */
  name: string;
  /** For Cloud Storage objects: the object's name (the condition sees `…/objects/NAME`). */
  object?: string;
}

export class Access {
  private readonly owners: Set<string>;

  constructor(private readonly config: AccessConfig) {
    this.owners = new Set(config.owners ?? [LOCAL_OWNER]);
  }

  get policy(): LocalPolicy {
    return this.config.policy;
  }

  /** The caller of a request with this Authorization header (access tokens, or ID tokens for `audience`). */
  caller(authorization: string | string[] | undefined, want: 'access' | 'id' = 'access'): Caller {
    const token = bearer(authorization);
    if (!token) return {kind: 'anonymous'};
    const v = verifyToken(this.config.key, token);
    if (!v.ok) return {kind: 'invalid', why: v.why};
    if (v.claims.kind !== want) return {kind: 'invalid', why: `not an ${want} token`};
    return {
      kind: 'principal',
      email: v.claims.email,
      member: memberOf(v.claims.email),
      claims: v.claims,
    };
  }

  isOwner(email: string): boolean {
    return this.owners.has(email);
  }

  /** Whether `email` holds `permission` on the target through a grant of infra/ (or is an owner). */
  allowed(email: string, permission: string, target: Target): boolean {
    if (this.isOwner(email)) return true;
    const member = memberOf(email);
    const resource = conditionResource(target);
    return this.config.policy.grants.some(
      g =>
        g.kind === target.kind &&
        g.target === target.name &&
        g.member === member &&
        permissionsOf(g.role, this.config.policy.customRoles).includes(permission) &&
        // Only bucket grants carry conditions in infra/: one elsewhere is not read, so it grants nothing.
        (!g.condition || (resource !== undefined && evaluate(g.condition.expression, resource))),
    );
  }
}

/** The resource an IAM Condition sees: Cloud Storage's names for a bucket or an object. */
function conditionResource(t: Target): Resource | undefined {
  if (t.kind !== 'bucket') return undefined;
  return t.object === undefined
    ? {name: `projects/_/buckets/${t.name}`, type: 'storage.googleapis.com/Bucket'}
    : {
        name: `projects/_/buckets/${t.name}/objects/${t.object}`,
        type: 'storage.googleapis.com/Object',
      };
}
