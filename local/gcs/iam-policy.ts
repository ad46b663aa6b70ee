/**
 * buckets.getIamPolicy (`GET /storage/v1/b/BUCKET/iam`) for an emulator
 * started with a policy: the stack's grants on the bucket (local/iam/policy.ts,
 * kind `bucket`), one binding per role and IAM Condition with its members,
 * in Cloud Storage's `storage#policy` shape. As Cloud Storage does, a policy
 * holding conditions is version 3 and is refused (400) unless the caller
 * asks for version 3 (`optionsRequestedPolicyVersion=3`). Reading it needs
 * `storage.buckets.getIamPolicy` on the bucket, which on the local stack only
 * the project owner holds.
 *
 * Not served: the bindings Cloud Storage adds to every bucket for the
 * project's owners, editors and viewers (the local owner stands outside the
 * policy), and setIamPolicy (the policy is infra/'s, read at start).
 */
import {createHash} from 'node:crypto';
import type {LocalPolicy} from '../iam/policy';

export interface BucketBinding {
  role: string;
  members: string[];
  condition?: {title: string; description?: string; expression: string};
}

export interface BucketPolicyResource {
  kind: 'storage#policy';
  resourceId: string;
  version: number;
  etag: string;
  bindings: BucketBinding[];
}

/** The bucket's bindings from the stack's grants (none without a policy). */
export function bucketBindings(policy: LocalPolicy | undefined, bucket: string): BucketBinding[] {
  const byKey = new Map<string, BucketBinding>();
  for (const g of policy?.grants ?? []) {
    if (g.kind !== 'bucket' || g.target !== bucket) continue;
    const key = JSON.stringify([g.role, g.condition?.title ?? '', g.condition?.expression ?? '']);
    let binding = byKey.get(key);
    if (!binding) {
      binding = {
        role: g.role,
        members: [],
        ...(g.condition
          ? {condition: {title: g.condition.title, expression: g.condition.expression}}
          : {}),
      };
      byKey.set(key, binding);
    }
    if (!binding.members.includes(g.member)) binding.members.push(g.member);
  }
  const bindings = [...byKey.values()];
  for (const b of bindings) b.members.sort();
  return bindings.sort((a, b) => a.role.localeCompare(b.role));
}

export type PolicyAnswer = {ok: true; policy: BucketPolicyResource} | {ok: false; message: string};

/** The policy as Cloud Storage answers it for `requestedVersion` (absent: 1). */
export function bucketPolicy(
  policy: LocalPolicy | undefined,
  bucket: string,
  requestedVersion: number | undefined,
): PolicyAnswer {
  const bindings = bucketBindings(policy, bucket);
  const conditional = bindings.some(b => b.condition);
  if (conditional && (requestedVersion ?? 1) < 3)
    return {
      ok: false,
      message:
        "The bucket's IAM policy holds IAM Conditions: request version 3 (optionsRequestedPolicyVersion=3) to read it.",
    };
  const etag = createHash('sha256').update(JSON.stringify(bindings)).digest().subarray(0, 8);
  return {
    ok: true,
    policy: {
      kind: 'storage#policy',
      resourceId: `projects/_/buckets/${bucket}`,
      version: conditional ? 3 : 1,
      etag: etag.toString('base64'),
      bindings,
    },
  };
}
