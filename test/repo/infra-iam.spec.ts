/**
 * Least privilege in the recordings bucket: the IAM Conditions of
 * infra/storage.tf evaluated on the object names the functions really build
 * (functions/core/object-names.ts), for every operation each function
 * performs and some it must never be able to.
 */
import * as assert from 'node:assert';
import {RECORDING_TYPES} from '../../functions/core/content-types';
import * as names from '../../functions/core/object-names';
import {evaluate, extract, Resource} from '../../functions/core/iam-conditions';
import {
  Block,
  Hcl,
  interpolate,
  loadInfra,
  locals,
  resource,
  resources,
} from '../../local/iam/terraform';

const BUCKET = 'rec-bucket';
const ENV = 'brave';
const DAY = '2026-03-29';
const RUN = 'r20260401t000000-ab12cd';
const CONV = '0a1b2c3d-0000-4000-8000-000000000001';
const REC = '9f8e7d6c-0000-4000-8000-000000000002';

/**
 * Permissions of the predefined roles the grants use (Cloud Storage IAM
 * roles), as far as these tests need them: none of them holds
 * setRetention or overrideUnlockedRetention (Storage Object Admin would).
 * The custom role of infra/storage.tf is added from its own definition.
 */
const ROLE_PERMISSIONS: Record<string, string[]> = {
  'roles/storage.objectViewer': ['get', 'list'],
  'roles/storage.objectCreator': ['create'],
  'roles/storage.objectUser': ['get', 'list', 'create', 'delete'],
  // The legacy roles a new bucket binds to the project's convenience values.
  'roles/storage.legacyBucketReader': ['list', 'buckets.get'],
  'roles/storage.legacyBucketWriter': ['list', 'create', 'delete', 'buckets.get'],
  'roles/storage.legacyBucketOwner': [
    'list',
    'create',
    'delete',
    'buckets.get',
    'buckets.update',
    'buckets.getIamPolicy',
    'buckets.setIamPolicy',
  ],
  'roles/storage.legacyObjectReader': ['get'],
  'roles/storage.legacyObjectOwner': ['get', 'update', 'getIamPolicy', 'setIamPolicy'],
};
/** The roles Cloud Storage binds to the convenience values of a new bucket's project. */
const LEGACY_ROLES = Object.keys(ROLE_PERMISSIONS).filter(r => r.includes('.legacy'));
const CUSTOM_ROLE = '${google_project_iam_custom_role.set_retention[0].name}';

type Op =
  | 'grant'
  | 'read'
  | 'list'
  | 'create'
  | 'replace'
  | 'delete'
  | 'createRetained'
  | 'replaceRetained'
  | 'overrideRetention';
/**
 * Overwriting an object needs delete as well as create; giving it a
 * retention in the same upload needs setRetention (objects.insert);
 * shortening or removing an unlocked retention overrideUnlockedRetention.
 */
const NEEDS: Record<Op, string[]> = {
  grant: ['buckets.setIamPolicy'],
  read: ['get'],
  list: ['list'],
  create: ['create'],
  replace: ['create', 'delete'],
  delete: ['delete'],
  createRetained: ['create', 'setRetention'],
  replaceRetained: ['create', 'delete', 'setRetention'],
  overrideRetention: ['overrideUnlockedRetention'],
};

interface Grant {
  sa: string;
  role: string;
  when: string;
}

const recording = (type: (typeof RECORDING_TYPES)[number]) =>
  names.recordingObjectName(ENV, DAY, type, CONV, REC, 'bin');
const n = {
  recording: recording('call'),
  metadata: names.metadataObjectName(ENV, DAY, CONV),
  plan: names.planObjectName(ENV, DAY),
  runPlan: names.runPlanObjectName(ENV, DAY, RUN),
  planPart: names.planPartObjectName(ENV, DAY, RUN, 1),
  report: names.batchReportObjectName(ENV, DAY, RUN, 'b0001'),
  adhocReport: names.batchReportObjectName(ENV, DAY, undefined, 'adhoc-1'),
  attempts: names.attemptsObjectName(ENV, DAY, RUN, 'b0001', '123'),
  adhocAttempts: names.attemptsObjectName(ENV, DAY, undefined, 'adhoc-1', '124'),
  rejected: names.rejectedMessageObjectName(ENV, '125'),
  success: names.markerObjectName(ENV, DAY, '_SUCCESS'),
  failure: names.markerObjectName(ENV, DAY, '_FAILURE'),
  ledger: names.decisionObjectName(ENV, DAY),
  records: names.decisionRecordsObjectName(ENV, DAY),
  waiver: names.waiverObjectName(ENV, DAY, 'w20260401000000-ab12cd34'),
  otherEnvReport: names.batchReportObjectName('other', DAY, RUN, 'b0001'),
  otherEnvMarker: names.markerObjectName('other', DAY, '_SUCCESS'),
  index: names.indexObjectName(ENV, DAY),
  otherEnvIndex: names.indexObjectName('other', DAY),
  /** Under the index folder, but not a name the checker writes. */
  strayIndex: `${names.indexPrefix(ENV)}notes.txt`,
};

describe('infra/ bucket IAM (conditions evaluated on real object names)', () => {
  let grants: Grant[];
  let docs: Hcl[];

  before(async () => {
    docs = await loadInfra();
    const all = locals(docs);
    const values = {
      'var.prefix': 'grm',
      'var.export_env': ENV,
      'google_storage_bucket.recordings.name': BUCKET,
    };
    const table = all.bucket_grants as Record<string, Grant>;
    grants = Object.values(table).map(g => ({...g, when: interpolate(g.when, values, all)}));
    const iam = resource(docs, 'google_storage_bucket_iam_member', 'functions') as {
      role: string;
      member: string;
      condition: Block[];
    };
    assert.strictEqual(iam.role, '${each.value.role}');
    assert.strictEqual(iam.member, '${google_service_account.sa[each.value.sa].member}');
    assert.strictEqual((iam.condition[0] as {expression: string}).expression, '${each.value.when}');
    // Operators read bookkeeping under a condition; archive readers read everything.
    const operators = resource(docs, 'google_storage_bucket_iam_member', 'operator_reads') as {
      role: string;
      condition: Array<{expression: string}>;
    };
    grants.push({
      sa: 'operator',
      role: operators.role,
      when: interpolate(operators.condition[0]!.expression, values, all),
    });
    const readers = resource(docs, 'google_storage_bucket_iam_member', 'archive_readers');
    assert.ok(!('condition' in readers));
    grants.push({sa: 'archive reader', role: String(readers.role), when: ''});
    const waives = resource(docs, 'google_storage_bucket_iam_member', 'operator_waives') as {
      role: string;
      condition: Array<{expression: string}>;
    };
    grants.push({
      sa: 'operator',
      role: waives.role,
      when: interpolate(waives.condition[0]!.expression, values, all),
    });
    // With retention on: the worker's custom role on recordings and metadata.
    const role = resource(docs, 'google_project_iam_custom_role', 'set_retention') as {
      permissions: string[];
    };
    ROLE_PERMISSIONS[CUSTOM_ROLE] = role.permissions.map(p => p.replace(/^storage\.objects\./, ''));
    // One grant per kind of object, each with its own condition (IAM's operator limit).
    const retains = resource(docs, 'google_storage_bucket_iam_member', 'worker_sets_retention') as {
      for_each: string;
      role: string;
      member: string;
      condition: Array<{expression: string}>;
    };
    assert.strictEqual(retains.role, CUSTOM_ROLE);
    assert.strictEqual(retains.member, '${google_service_account.sa["worker"].member}');
    assert.strictEqual(retains.for_each, '${local.retention ? local.retained : {}}');
    assert.strictEqual(retains.condition[0]!.expression, '${each.value}');
    for (const when of Object.values(all.retained as Record<string, string>))
      grants.push({sa: 'worker', role: retains.role, when: interpolate(when, values, all)});
    // The legacy roles, held authoritatively with exactly these members: the project's
    // convenience values keep what they are listed with, and nothing else.
    const legacy = resource(docs, 'google_storage_bucket_iam_binding', 'legacy') as {
      for_each: string;
      bucket: string;
      role: string;
      members: string;
    };
    assert.strictEqual(legacy.for_each, '${local.legacy_bucket_members}');
    assert.strictEqual(legacy.bucket, '${google_storage_bucket.recordings.name}');
    assert.deepStrictEqual([legacy.role, legacy.members], ['${each.key}', '${each.value}']);
    assert.ok(!('condition' in legacy));
    const legacyMembers = all.legacy_bucket_members as Record<string, string[]>;
    assert.deepStrictEqual(Object.keys(legacyMembers).sort(), LEGACY_ROLES.sort());
    for (const [role, members] of Object.entries(legacyMembers))
      for (const m of members) {
        const who = /^project(Owner|Editor|Viewer):\$\{var\.project_id\}$/.exec(m)?.[1];
        assert.ok(who, `${role}: ${m} is not a convenience value of this project`);
        grants.push({sa: `project ${who.toLowerCase()}`, role, when: ''});
      }
    // The BigLake connection of the recordings table (bigquery.tf).
    const bigquery = resource(docs, 'google_storage_bucket_iam_member', 'bigquery_reads_index') as {
      role: string;
      member: string;
      condition: Array<{expression: string}>;
    };
    // The connection's own account, granted once it exists (time_sleep.bigquery_connection_account).
    assert.strictEqual(
      bigquery.member,
      'serviceAccount:${time_sleep.bigquery_connection_account[0].triggers.account}',
    );
    const wait = resource(docs, 'time_sleep', 'bigquery_connection_account') as {
      triggers: Record<string, string>;
    };
    assert.match(
      wait.triggers.account!,
      /google_bigquery_connection\.index\[0\]\.cloud_resource\[0\]\.service_account_id/,
    );
    grants.push({
      sa: 'index reader',
      role: bigquery.role,
      when: interpolate(bigquery.condition[0]!.expression, values, all),
    });
  });

  function can(sa: string, op: Op, name: string): boolean {
    const target: Resource =
      op === 'list' || op === 'grant'
        ? {name: `projects/_/buckets/${BUCKET}`, type: 'storage.googleapis.com/Bucket'}
        : {
            name: `projects/_/buckets/${BUCKET}/objects/${name}`,
            type: 'storage.googleapis.com/Object',
          };
    return NEEDS[op].every(permission =>
      grants.some(
        g =>
          g.sa === sa &&
          (ROLE_PERMISSIONS[g.role] ?? assert.fail(`unknown role ${g.role}`)).includes(
            permission,
          ) &&
          (g.when === '' || evaluate(g.when, target)),
      ),
    );
  }

  const cases: Array<[string, Op, keyof typeof n, boolean]> = [
    // The planner: reads earlier days, writes each run's plan once and the day's plan.
    ['planner', 'list', 'plan', true],
    ['planner', 'read', 'success', true],
    ['planner', 'read', 'failure', true],
    ['planner', 'read', 'plan', true],
    ['planner', 'read', 'report', true],
    ['planner', 'read', 'recording', false],
    ['planner', 'read', 'metadata', false],
    ['planner', 'create', 'runPlan', true],
    ['planner', 'replace', 'runPlan', false],
    ['planner', 'create', 'report', false],
    ['planner', 'create', 'attempts', false],
    ['planner', 'replace', 'plan', true],
    ['planner', 'create', 'recording', false],
    ['planner', 'create', 'success', false],
    ['planner', 'replace', 'report', false],
    ['planner', 'read', 'otherEnvReport', false],
    // The worker: creates recordings, rewrites its bookkeeping and metadata, nothing else;
    // it lists a recording group's objects before it exports them (on the bucket).
    ['worker', 'list', 'recording', true],
    ['worker', 'read', 'recording', true],
    ['worker', 'create', 'recording', true],
    ['worker', 'replace', 'recording', false],
    ['worker', 'delete', 'recording', false],
    ['worker', 'create', 'metadata', true],
    ['worker', 'replace', 'metadata', true],
    ['worker', 'replace', 'report', true],
    ['worker', 'replace', 'adhocReport', true],
    ['worker', 'replace', 'attempts', true],
    ['worker', 'replace', 'adhocAttempts', true],
    ['worker', 'read', 'attempts', true],
    ['worker', 'create', 'rejected', true],
    ['worker', 'replace', 'rejected', true],
    ['worker', 'create', 'success', false],
    ['worker', 'create', 'failure', false],
    ['worker', 'replace', 'ledger', false],
    // The decided records are the proof a worker-level tamperer must not move.
    ['worker', 'create', 'records', false],
    ['worker', 'replace', 'records', false],
    ['worker', 'createRetained', 'records', false],
    ['worker', 'create', 'plan', false],
    ['worker', 'create', 'runPlan', false],
    ['worker', 'create', 'otherEnvReport', false],
    // The checker: reads plans and reports, owns the ledger and the markers.
    ['checker', 'list', 'report', true],
    ['checker', 'read', 'plan', true],
    ['checker', 'read', 'report', true],
    ['checker', 'replace', 'ledger', true],
    ['checker', 'replace', 'records', true],
    ['checker', 'read', 'records', true],
    ['checker', 'replace', 'success', true],
    ['checker', 'replace', 'failure', true],
    ['checker', 'delete', 'failure', true],
    ['checker', 'delete', 'success', true],
    ['checker', 'read', 'planPart', true],
    ['checker', 'read', 'ledger', true],
    ['checker', 'read', 'adhocReport', true],
    ['checker', 'read', 'success', true],
    ['checker', 'read', 'index', true],
    ['checker', 'read', 'recording', false],
    ['checker', 'read', 'metadata', false],
    ['checker', 'read', 'rejected', false],
    ['checker', 'read', 'otherEnvReport', false],
    ['checker', 'replace', 'report', false],
    ['checker', 'replace', 'plan', false],
    ['checker', 'create', 'recording', false],
    ['checker', 'delete', 'recording', false],
    ['checker', 'replace', 'otherEnvMarker', false],
    // ... and writes each decided day's recordings index, nothing else of the index folder.
    ['checker', 'create', 'index', true],
    ['checker', 'replace', 'index', true],
    ['checker', 'create', 'strayIndex', false],
    ['checker', 'replace', 'otherEnvIndex', false],
    ['worker', 'create', 'index', false],
    ['worker', 'replace', 'index', false],
    ['planner', 'create', 'index', false],
    ['operator', 'read', 'index', true],
    ['operator', 'create', 'index', false],
    // The BigLake connection reads the index, and nothing else of the bucket.
    ['index reader', 'list', 'index', true],
    ['index reader', 'read', 'index', true],
    ['index reader', 'read', 'recording', false],
    ['index reader', 'read', 'metadata', false],
    ['index reader', 'read', 'success', false],
    ['index reader', 'read', 'otherEnvIndex', false],
    ['index reader', 'create', 'index', false],
    // Operators: the bookkeeping, not the recordings, and nothing to write.
    ['operator', 'list', 'report', true],
    ['operator', 'read', 'failure', true],
    ['operator', 'read', 'report', true],
    ['operator', 'read', 'metadata', true],
    ['operator', 'read', 'rejected', true],
    ['operator', 'read', 'recording', false],
    ['operator', 'create', 'report', false],
    ['operator', 'delete', 'failure', false],
    ['operator', 'read', 'otherEnvReport', false],
    ['operator', 'create', 'waiver', true],
    ['operator', 'replace', 'waiver', false],
    ['operator', 'read', 'waiver', true],
    ['checker', 'read', 'waiver', true],
    ['worker', 'create', 'waiver', false],
    ['worker', 'replace', 'waiver', false],
    ['planner', 'create', 'waiver', false],
    // The project's convenience values: viewers (the plan identity among them) see the
    // bucket and its names, never an object; editors nothing; owners manage the bucket.
    ['project viewer', 'list', 'recording', true],
    ['project viewer', 'read', 'recording', false],
    ['project viewer', 'read', 'metadata', false],
    ['project viewer', 'grant', 'recording', false],
    ['project editor', 'read', 'recording', false],
    ['project editor', 'delete', 'recording', false],
    ['project editor', 'create', 'recording', false],
    ['project editor', 'grant', 'recording', false],
    ['project owner', 'read', 'recording', false],
    ['project owner', 'grant', 'recording', true],
    ['archive reader', 'read', 'recording', true],
    ['archive reader', 'delete', 'recording', false],
    // Retention (retention_days > 0): the worker gives what it creates of recordings and
    // metadata a retention, nothing else; nobody may shorten or remove one.
    ['worker', 'createRetained', 'recording', true],
    ['worker', 'createRetained', 'metadata', true],
    ['worker', 'replaceRetained', 'metadata', true],
    ['worker', 'replaceRetained', 'recording', false],
    ['worker', 'createRetained', 'report', false],
    ['worker', 'createRetained', 'attempts', false],
    ['worker', 'createRetained', 'rejected', false],
    ['worker', 'createRetained', 'success', false],
    ['worker', 'createRetained', 'waiver', false],
    ['worker', 'createRetained', 'otherEnvReport', false],
    ['planner', 'createRetained', 'runPlan', false],
    ['checker', 'createRetained', 'ledger', false],
    ['operator', 'createRetained', 'waiver', false],
    ['worker', 'overrideRetention', 'recording', false],
    ['worker', 'overrideRetention', 'metadata', false],
    ['checker', 'overrideRetention', 'success', false],
    ['planner', 'overrideRetention', 'plan', false],
    ['operator', 'overrideRetention', 'waiver', false],
    ['archive reader', 'overrideRetention', 'recording', false],
  ];
  for (const [sa, op, name, allowed] of cases) {
    it(`should ${allowed ? 'let' : 'not let'} the ${sa} ${op} ${name}`, () => {
      assert.strictEqual(can(sa, op, n[name]), allowed, n[name]);
    });
  }

  it('should let the worker retain a recording of any type, and nobody override a retention', () => {
    for (const type of RECORDING_TYPES) {
      assert.strictEqual(can('worker', 'createRetained', recording(type)), true, type);
      for (const sa of ['planner', 'worker', 'checker', 'operator', 'archive reader'])
        assert.strictEqual(can(sa, 'overrideRetention', recording(type)), false, `${sa} ${type}`);
    }
    for (const [role, permissions] of Object.entries(ROLE_PERMISSIONS))
      assert.ok(!permissions.includes('overrideUnlockedRetention'), role);
    assert.deepStrictEqual(ROLE_PERMISSIONS[CUSTOM_ROLE], ['setRetention']);
  });

  it('should hold every legacy role of the bucket in one authoritative binding, and no member grant with one', () => {
    // A binding and member grants of one role would undo each other on every apply.
    for (const [type, , body] of resources(docs))
      if (type === 'google_storage_bucket_iam_member')
        assert.ok(!String(body.role).includes('.legacy'), String(body.role));
    for (const g of grants.filter(g => g.role.includes('.legacy')))
      assert.match(g.sa, /^project /, `${g.sa} holds ${g.role}`);
    for (const role of ['roles/storage.legacyObjectReader', 'roles/storage.legacyObjectOwner'])
      assert.deepStrictEqual(
        grants.filter(g => g.role === role),
        [],
        `nobody reads objects through ${role}`,
      );
  });

  it('should let no function replace or delete a recording of any type', () => {
    for (const type of RECORDING_TYPES)
      for (const sa of ['planner', 'worker', 'checker'])
        for (const op of ['replace', 'delete'] as const)
          assert.strictEqual(can(sa, op, recording(type)), false, `${sa} ${op} ${type}`);
  });

  it('should grant the functions nothing in the bucket without a condition', () => {
    for (const g of grants.filter(g => ['planner', 'worker', 'checker'].includes(g.sa)))
      assert.match(g.when, /startsWith\("projects\/_\/buckets\/rec-bucket\/objects\/brave\/"\)/);
  });

  it('should read extract() templates as the IAM docs describe', () => {
    const name = 'projects/_/buckets/b/objects/brave/2026-01-01/_manifest/runs/r1/plan.json';
    assert.strictEqual(extract(name, 'objects/brave/{day}/_manifest/'), '2026-01-01');
    assert.strictEqual(extract(name, '/runs/{run}/'), 'r1');
    assert.strictEqual(extract(name, 'objects/other/{day}/'), '');
    assert.strictEqual(extract(name, '/plan.json{x}'), '');
    assert.throws(() =>
      evaluate('resource.name.matches("x")', {name, type: 'storage.googleapis.com/Object'}),
    );
  });
});
