/**
 * Check 5: each function identity can do in the bucket what its role needs,
 * and the worker cannot delete or replace a recording. First on paper: the
 * bucket's IAM policy, each binding's condition evaluated on the names the
 * code builds (core/bucket-access.ts). Then by doing, where the caller may
 * impersonate the identity (iam.serviceAccounts.getAccessToken): as it,
 * create and read back a probe object under a name only it may write, in a
 * day far in the past that nothing reads (a run plan of the planner's, an
 * attempts counter of the worker's, the ledger of the checker's; none of
 * them decides a day), never with a retention; then delete that generation
 * with the caller's own rights.
 */
import {
  BucketOperation,
  bucketOperations,
  FunctionIdentity,
  OperationVerdict,
  PolicyBinding,
  predefinedRolePermissions,
  problemOf,
  SampleIds,
  verdictOf,
} from '../../core/bucket-access';
import {CheckResult, failed, passed, skipped} from '../../core/doctor';
import {PREDEFINED_ROLES} from '../../core/iam-roles';
import * as names from '../../core/object-names';
import {lookupFailed} from './wiring';
import type {DoctorPorts, DoctorSettings, ProbeOutcome} from './ports';
import {serviceAccount} from './ports';

const IDENTITIES: readonly FunctionIdentity[] = ['planner', 'worker', 'checker'];

/** The day probes are written under: far before any export, never planned, never read. */
export const PROBE_DAY = '1970-01-01';

/** The object each identity's probe writes: a name only that identity may create. */
export function probeObject(identity: FunctionIdentity, env: string, token: string): string {
  const run = `doctor-${token}`;
  switch (identity) {
    case 'planner':
      return names.runPlanObjectName(env, PROBE_DAY, run);
    case 'worker':
      return names.attemptsObjectName(env, PROBE_DAY, run, 'doctor', token);
    case 'checker':
      return names.decisionObjectName(env, PROBE_DAY);
  }
}

export async function checkBucket(
  p: DoctorPorts,
  s: DoctorSettings,
  sample: SampleIds,
): Promise<CheckResult[]> {
  const probes = async () => {
    const out: CheckResult[] = [];
    for (const identity of IDENTITIES) out.push(await probe(p, s, identity));
    return out;
  };
  let bindings: PolicyBinding[];
  try {
    bindings = await p.bucket.bindings();
  } catch (err) {
    return [
      lookupFailed(
        'bucket.policy',
        `IAM policy of gs://${s.bucket}`,
        err,
        'roles/iam.securityReviewer (storage.buckets.getIamPolicy) on the bucket or project',
        "the bucket's IAM policy",
      ),
      ...IDENTITIES.map(i =>
        skipped(
          `bucket.${i}`,
          `bucket rights of ${i}`,
          "the bucket's IAM policy could not be read",
        ),
      ),
      ...(await probes()),
    ];
  }
  const custom = new Map<string, readonly string[] | undefined>();
  for (const b of bindings)
    if (!PREDEFINED_ROLES[b.role] && !custom.has(b.role))
      custom.set(b.role, await p.bucket.customRole(b.role));
  const roles = (role: string) => predefinedRolePermissions(role) ?? custom.get(role);

  const results: CheckResult[] = [];
  for (const identity of IDENTITIES) {
    const email = serviceAccount(s, identity);
    const verdicts = bucketOperations(sample)
      .filter(op => op.identity === identity)
      .map(op => verdictOf(op, `serviceAccount:${email}`, s.bucket, bindings, roles));
    results.push(matrixResult(identity, email, verdicts, s));
  }
  results.push(...(await probes()));
  return results;
}

function where(op: BucketOperation): string {
  return op.object === undefined ? 'the bucket' : op.object;
}

function matrixResult(
  identity: FunctionIdentity,
  email: string,
  verdicts: OperationVerdict[],
  s: DoctorSettings,
): CheckResult {
  const id = `bucket.${identity}`;
  const title = `bucket rights of ${identity}`;
  const missing = verdicts.filter(v => problemOf(v) === 'missing');
  const excess = verdicts.filter(v => problemOf(v) === 'excess');
  const open = verdicts.filter(v => v.can === undefined);
  const problems = [
    ...missing.map(
      v =>
        `${email} cannot ${v.operation.what} (${where(v.operation)}): no binding grants ${v.missing.join(' and ')} there`,
    ),
    ...excess.map(
      v =>
        `${email} can ${v.operation.what} (${where(v.operation)}), which it must not: granted by ${v.grantedBy.map(bindingName).join(', ')}`,
    ),
  ];
  const openNote = open.length
    ? `; ${open.length} left open (${[...new Set(open.flatMap(v => v.unknown))].join('; ')})`
    : '';
  if (problems.length === 0) {
    const needed = verdicts.filter(v => v.operation.expect === 'allowed').length;
    const refused = verdicts.length - needed;
    return passed(
      id,
      title,
      `${needed - open.filter(v => v.operation.expect === 'allowed').length} operations allowed as needed, ${refused - open.filter(v => v.operation.expect === 'denied').length} refused as they must be by the bucket's policy${openNote}`,
    );
  }
  const grants = [...new Set(missing.flatMap(v => (v.operation.grant ? [v.operation.grant] : [])))];
  const fixes = [
    ...(grants.length
      ? [
          `terraform -chdir=infra apply restores ${grants.map(g => `google_storage_bucket_iam_member.functions["${g}"]`).join(', ')}`,
        ]
      : []),
    ...[...new Set(excess.flatMap(v => v.grantedBy))].map(b => removeCommand(s.bucket, email, b)),
  ];
  return failed(id, title, problems.join('; ') + openNote, fixes.join('; and '));
}

function bindingName(b: PolicyBinding): string {
  return b.condition
    ? `${b.role} (condition "${b.condition.title ?? ''}")`
    : `${b.role} (no condition)`;
}

function removeCommand(bucket: string, email: string, b: PolicyBinding): string {
  const condition = b.condition
    ? `--condition='expression=${b.condition.expression},title=${b.condition.title ?? ''}'`
    : '--condition=None';
  return `gcloud storage buckets remove-iam-policy-binding gs://${bucket} --member=serviceAccount:${email} --role=${b.role} ${condition}`;
}

async function probe(
  p: DoctorPorts,
  s: DoctorSettings,
  identity: FunctionIdentity,
): Promise<CheckResult> {
  const id = `bucket.probe.${identity}`;
  const title = `bucket write as ${identity}`;
  const email = serviceAccount(s, identity);
  if (!p.probe)
    return skipped(
      id,
      title,
      s.local
        ? "the local stack's IAM Credentials stand-in is not in this environment (GRM_IAM_CREDENTIALS_URL, printed by npm run stack)"
        : 'impersonation is not available',
    );
  const object = probeObject(identity, s.env, s.probeToken);
  const content = JSON.stringify({
    kind: 'grm-doctor-probe',
    identity,
    at: new Date(s.now).toISOString(),
    note: 'written by grm doctor and deleted at once; safe to delete',
  });
  const outcome: ProbeOutcome = await p.probe.writeAndRead(email, object, content);
  if (outcome.ok && outcome.cleanedUp)
    return passed(id, title, `created and read back ${object} as ${email}, then deleted it`);
  if (outcome.ok)
    return failed(
      id,
      title,
      `created and read back ${object} as ${email}, but could not delete it: ${outcome.detail}`,
      `gcloud storage rm gs://${s.bucket}/${object} --all-versions --project=${s.project}`,
    );
  if (outcome.stage === 'impersonate')
    return skipped(
      id,
      title,
      `you may not impersonate ${email} (${outcome.detail}); to test by doing, grant yourself roles/iam.serviceAccountTokenCreator on it: gcloud iam service-accounts add-iam-policy-binding ${email} --project=${s.project} --member=user:YOUR_EMAIL --role=roles/iam.serviceAccountTokenCreator`,
    );
  if (outcome.status === 412)
    return skipped(
      id,
      title,
      `${object} exists already (another grm doctor, or one that was stopped): delete it with gcloud storage rm gs://${s.bucket}/${object} --all-versions`,
    );
  return failed(
    id,
    title,
    `${email} could not ${outcome.stage === 'write' ? 'create' : 'read back'} ${object}: ${outcome.detail}`,
    'terraform -chdir=infra apply; if the bucket policy above allows it, an IAM deny policy, an organisation policy or VPC Service Controls refuses it: ask who administers them',
  );
}
