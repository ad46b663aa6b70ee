/**
 * What each function must be able to do in the recordings bucket, and some
 * things it must never be able to do, on the object names the code builds
 * (./object-names.ts), checked against the bucket's IAM policy: each
 * binding's IAM Condition evaluated on the object (./iam-conditions.ts), each
 * role's permissions from ./iam-roles.ts (custom roles from the caller).
 * Cloud Storage's testIamPermissions cannot do this: it does not evaluate
 * IAM Conditions on object names.
 *
 * What the policy of one bucket cannot show: grants on the project, folder
 * or organisation, IAM deny policies, and VPC Service Controls.
 */
import type {RecordingType} from './content-types';
import {RECORDING_TYPES} from './content-types';
import {evaluate, Resource} from './iam-conditions';
import {PREDEFINED_ROLES} from './iam-roles';
import * as names from './object-names';

export type FunctionIdentity = 'planner' | 'worker' | 'checker';

export interface BucketOperation {
  identity: FunctionIdentity;
  /** What the function does, for people: "create the run's plan". */
  what: string;
  /** The object's name; absent for the bucket itself (listing). */
  object?: string;
  /** What Cloud Storage checks for it (a replacement needs delete as well as create). */
  permissions: readonly string[];
  /** `allowed`: the pipeline needs it; `denied`: nobody of the pipeline may do it. */
  expect: 'allowed' | 'denied';
  /** The entry of infra/storage.tf's `local.bucket_grants` meant to give it. */
  grant?: string;
}

/** Ids for the sample names (any valid ones: the conditions look at the shape). */
export interface SampleIds {
  env: string;
  day: string;
  runId: string;
  batchId: string;
  conversationId: string;
  recordingId: string;
  messageId: string;
}

const EXTENSION: Record<RecordingType, string> = {
  call: 'ogg',
  chat: 'json',
  email: 'zip',
  message: 'json',
  screen: 'webm',
};

const LIST = ['storage.objects.list'];
const GET = ['storage.objects.get'];
const CREATE = ['storage.objects.create'];
const REPLACE = ['storage.objects.create', 'storage.objects.delete'];
const DELETE = ['storage.objects.delete'];

/** Every operation checked, per identity, in a stable order. */
export function bucketOperations(s: SampleIds): BucketOperation[] {
  const {env, day, runId, batchId} = s;
  const recording = (type: RecordingType) =>
    names.recordingObjectName(env, day, type, s.conversationId, s.recordingId, EXTENSION[type]);
  const n = {
    success: names.markerObjectName(env, day, '_SUCCESS'),
    failure: names.markerObjectName(env, day, '_FAILURE'),
    plan: names.planObjectName(env, day),
    runPlan: names.runPlanObjectName(env, day, runId),
    report: names.batchReportObjectName(env, day, runId, batchId),
    attempts: names.attemptsObjectName(env, day, runId, batchId, s.messageId),
    metadata: names.metadataObjectName(env, day, s.conversationId),
    rejected: names.rejectedMessageObjectName(env, s.messageId),
    ledger: names.decisionObjectName(env, day),
    records: names.decisionRecordsObjectName(env, day),
    index: names.indexObjectName(env, day),
    migration: names.migrationObjectName(env),
    restores: names.restoresObjectName(env),
    inbox: names.restoreInboxObjectName(env, day, 'fingerprint'),
    rejectedInbox: names.rejectedInboxObjectName(env, `${day}/fingerprint.1.json`),
  };
  const op = (
    identity: FunctionIdentity,
    what: string,
    object: string | undefined,
    permissions: readonly string[],
    grant?: string,
    expect: BucketOperation['expect'] = 'allowed',
  ): BucketOperation => ({
    identity,
    what,
    ...(object !== undefined ? {object} : {}),
    permissions,
    expect,
    ...(grant ? {grant} : {}),
  });
  return [
    op('planner', 'list the bucket', undefined, LIST, 'planner_reads'),
    op('planner', 'read a day marker', n.success, GET, 'planner_reads'),
    op('planner', "read the day's plan", n.plan, GET, 'planner_reads'),
    op('planner', 'read a batch report', n.report, GET, 'planner_reads'),
    op('planner', "create a run's plan", n.runPlan, CREATE, 'planner_creates_runs'),
    op('planner', "replace the day's plan", n.plan, REPLACE, 'planner_replaces_plan'),
    op('planner', 'read the migration record', n.migration, GET, 'planner_reads'),
    op('planner', 'replace the migration record', n.migration, REPLACE, 'planner_writes_migration'),
    op('planner', 'replace the restore record', n.restores, REPLACE, 'planner_writes_migration'),
    op('planner', 'remove a restore queue file', n.inbox, DELETE, 'planner_writes_migration'),
    op(
      'planner',
      'keep a rejected restore queue file',
      n.rejectedInbox,
      CREATE,
      'planner_writes_migration',
    ),
    op('worker', 'list the bucket', undefined, LIST, 'worker_reads'),
    ...RECORDING_TYPES.flatMap(t => [
      op('worker', `read a ${t} recording`, recording(t), GET, 'worker_reads'),
      op('worker', `create a ${t} recording`, recording(t), CREATE, 'worker_creates'),
    ]),
    op('worker', 'create a metadata document', n.metadata, CREATE, 'worker_creates'),
    op('worker', 'replace a metadata document', n.metadata, REPLACE, 'worker_replaces_bookkeeping'),
    op('worker', 'create a batch report', n.report, CREATE, 'worker_creates'),
    op('worker', 'replace a batch report', n.report, REPLACE, 'worker_replaces_bookkeeping'),
    op('worker', 'replace an attempts counter', n.attempts, REPLACE, 'worker_replaces_bookkeeping'),
    op(
      'worker',
      'replace a rejected-message record',
      n.rejected,
      REPLACE,
      'worker_replaces_bookkeeping',
    ),
    op('worker', 'create the decided records', n.records, CREATE, undefined, 'denied'),
    op('worker', 'create the migration record', n.migration, CREATE, undefined, 'denied'),
    ...RECORDING_TYPES.flatMap(t => [
      op('worker', `delete a ${t} recording`, recording(t), DELETE, undefined, 'denied'),
      op('worker', `replace a ${t} recording`, recording(t), REPLACE, undefined, 'denied'),
    ]),
    op('checker', 'list the bucket', undefined, LIST, 'checker_reads'),
    op('checker', "read the day's plan", n.plan, GET, 'checker_reads'),
    op('checker', 'read a batch report', n.report, GET, 'checker_reads'),
    op('checker', 'read a call recording', recording('call'), GET, undefined, 'denied'),
    op('checker', 'replace _SUCCESS', n.success, REPLACE, 'checker_replaces_markers'),
    op('checker', 'replace _FAILURE', n.failure, REPLACE, 'checker_replaces_markers'),
    op('checker', 'replace the ledger', n.ledger, REPLACE, 'checker_replaces_markers'),
    op('checker', 'replace the decided records', n.records, REPLACE, 'checker_replaces_markers'),
    op('checker', 'replace the recordings index', n.index, REPLACE, 'checker_replaces_index'),
    op('checker', 'queue restores', n.inbox, CREATE, 'checker_queues_restores'),
    op('checker', 'replace a restore queue file', n.inbox, REPLACE, undefined, 'denied'),
  ];
}

/** A binding of a bucket's IAM policy (version 3). */
export interface PolicyBinding {
  role: string;
  members: readonly string[];
  condition?: {title?: string; expression: string};
}

/** Permissions of a role: predefined, or the caller's custom roles (undefined: unknown). */
export type RolePermissions = (role: string) => readonly string[] | undefined;

export const predefinedRolePermissions: RolePermissions = role => PREDEFINED_ROLES[role];

export interface OperationVerdict {
  operation: BucketOperation;
  /** Whether the identity can do it: undefined when the policy leaves it open. */
  can: boolean | undefined;
  /** Permissions no binding grants on the object. */
  missing: string[];
  /** Bindings that grant a needed permission there (for a `denied` operation: what to remove). */
  grantedBy: PolicyBinding[];
  /** Why it is open: roles whose permissions are unknown, conditions that cannot be read. */
  unknown: string[];
}

/** Whether a binding names the member (directly, or as everyone). */
function includesMember(binding: PolicyBinding, member: string): boolean {
  return binding.members.some(
    m => m === member || m === 'allUsers' || m === 'allAuthenticatedUsers',
  );
}

/** Evaluates one operation of `member` (`serviceAccount:EMAIL`) against the bindings. */
export function verdictOf(
  operation: BucketOperation,
  member: string,
  bucket: string,
  bindings: readonly PolicyBinding[],
  roles: RolePermissions,
): OperationVerdict {
  const resource: Resource =
    operation.object === undefined
      ? {name: `projects/_/buckets/${bucket}`, type: 'storage.googleapis.com/Bucket'}
      : {
          name: `projects/_/buckets/${bucket}/objects/${operation.object}`,
          type: 'storage.googleapis.com/Object',
        };
  const missing: string[] = [];
  const grantedBy: PolicyBinding[] = [];
  const unknown: string[] = [];
  for (const permission of operation.permissions) {
    let granted = false;
    for (const b of bindings) {
      if (!includesMember(b, member)) continue;
      const perms = roles(b.role);
      let applies: boolean;
      try {
        applies = !b.condition || evaluate(b.condition.expression, resource);
      } catch (err) {
        unknown.push(
          `the condition "${b.condition?.title ?? ''}" cannot be read (${err instanceof Error ? err.message : String(err)})`,
        );
        continue;
      }
      if (!applies) continue;
      if (perms === undefined) {
        unknown.push(`the permissions of ${b.role} are unknown`);
        continue;
      }
      if (perms.includes(permission)) {
        granted = true;
        if (!grantedBy.includes(b)) grantedBy.push(b);
      }
    }
    if (!granted) missing.push(permission);
  }
  const can = missing.length === 0 ? true : unknown.length > 0 ? undefined : false;
  return {operation, can, missing, grantedBy, unknown: [...new Set(unknown)]};
}

/** What is wrong with a verdict, or undefined when it is as it must be (or open). */
export function problemOf(v: OperationVerdict): 'missing' | 'excess' | undefined {
  if (v.can === undefined) return undefined;
  if (v.operation.expect === 'allowed') return v.can ? undefined : 'missing';
  return v.can ? 'excess' : undefined;
}
