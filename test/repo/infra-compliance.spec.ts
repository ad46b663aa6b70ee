/**
 * The compliance options of infra/, checked offline like the rest
 * of the Terraform: object retention decided with the bucket and given to
 * the worker with exactly the permission it needs; lifecycle rules whose
 * name conditions, evaluated on the names functions/core/object-names.ts
 * builds, reach bookkeeping and media and never the wrong objects; the
 * optional data-access audit logs; and kms_key used by everything that stores
 * the deployment's data, with every service agent granted the key.
 */
import * as assert from 'node:assert';
import {
  FALLBACK_EXTENSION,
  KNOWN_CONTENT_TYPES,
  RECORDING_TYPES,
  extensionFor,
} from '../../functions/core/content-types';
import * as names from '../../functions/core/object-names';
import {
  Block,
  Hcl,
  interpolate,
  loadInfra,
  locals,
  resource,
  resources,
  variable,
} from '../../local/iam/terraform';

const ENV = 'brave';
const DAY = '2026-03-29';
const RUN = 'r20260401t000000-ab12cd';
const CONV = '0a1b2c3d-0000-4000-8000-000000000001';
const REC = '9f8e7d6c-0000-4000-8000-000000000002';

/** The file extensions content-types.ts gives audio and video. */
function mediaExtensions(): string[] {
  const media = KNOWN_CONTENT_TYPES.filter(t => /^(audio|video)\//.test(t));
  return [...new Set(media.map(t => `.${extensionFor(t)!}`))].sort();
}
/** Every extension content-types.ts knows, and the worker's fallback. */
function allExtensions(): string[] {
  return [...new Set([...KNOWN_CONTENT_TYPES.map(t => extensionFor(t)!), FALLBACK_EXTENSION])];
}

interface Rule {
  prefixes: string[];
  suffixes: string[];
}
/** A lifecycle rule's name conditions: any prefix, and any suffix, of those it has. */
const matches = (rule: Rule, name: string) =>
  (rule.prefixes.length === 0 || rule.prefixes.some(p => name.startsWith(p))) &&
  (rule.suffixes.length === 0 || rule.suffixes.some(s => name.endsWith(s)));

/** The resources of a type, as [name, body]. */
const ofType = (docs: Hcl[], type: string) =>
  resources(docs)
    .filter(([t]) => t === type)
    .map(([, n, b]): [string, Block] => [n, b]);
const dependsOn = (body: Block) => (body.depends_on as string[] | undefined) ?? [];

describe('infra/ compliance options (retention, lifecycle, audit logs, kms_key)', () => {
  let docs: Hcl[];
  let all: Block;
  const values = {'var.export_env': ENV, 'google_storage_bucket.recordings.name': 'rec-bucket'};
  before(async () => {
    docs = await loadInfra();
    all = locals(docs);
  });
  const validation = (name: string) =>
    ((variable(docs, name).validation as Array<{condition: string}> | undefined) ?? [])
      .map(v => v.condition)
      .join(' && ');
  const bucket = () =>
    resource(docs, 'google_storage_bucket', 'recordings') as Block & {
      dynamic: {
        lifecycle_rule: Array<{for_each: string; content: Array<Record<string, Block[]>>}>;
        encryption: Array<{for_each: string; content: Block[]}>;
      };
      lifecycle: Array<{prevent_destroy: boolean; precondition: Array<{condition: string}>}>;
    };

  describe('object retention', () => {
    it('should create the bucket with object retention exactly when retention_days is above 0, and keep prevent_destroy', () => {
      assert.strictEqual(all.retention, '${var.retention_days > 0}');
      assert.strictEqual(bucket().enable_object_retention, '${local.retention}');
      assert.strictEqual(bucket().lifecycle[0]!.prevent_destroy, true);
      assert.strictEqual(variable(docs, 'retention_days').default, 0);
    });

    it('should hand the worker the retention it sets (RETENTION_DAYS, RETENTION_MODE)', () => {
      const env = all.function_env as Record<string, string>;
      assert.strictEqual(env.RETENTION_DAYS, '${tostring(var.retention_days)}');
      assert.strictEqual(env.RETENTION_MODE, '${var.retention_mode}');
      assert.ok(
        validation('retention_mode').includes(
          'contains(["unlocked", "locked"], var.retention_mode)',
        ),
      );
    });

    it('should give the worker storage.objects.setRetention alone, with retention on only', () => {
      const role = resource(docs, 'google_project_iam_custom_role', 'set_retention');
      assert.deepStrictEqual(role.permissions, ['storage.objects.setRetention']);
      assert.strictEqual(role.count, '${local.retention ? 1 : 0}');
      const grant = resource(docs, 'google_storage_bucket_iam_member', 'worker_sets_retention') as {
        for_each: string;
        role: string;
        member: string;
        condition: Array<{expression: string}>;
      };
      assert.strictEqual(grant.for_each, '${local.retention ? local.retained : {}}');
      assert.strictEqual(grant.role, '${google_project_iam_custom_role.set_retention[0].name}');
      assert.strictEqual(grant.member, '${google_service_account.sa["worker"].member}');
      assert.strictEqual(grant.condition[0]!.expression, '${each.value}');
      // Recordings of every folder content-types.ts writes, and metadata documents.
      assert.deepStrictEqual(
        Object.keys(all.retained as Block).sort(),
        [...RECORDING_TYPES, 'metadata'].sort(),
      );
    });

    it('should let no identity override an unlocked retention: no role that holds it, in any grant', () => {
      // Custom roles: only the one above, with only setRetention.
      for (const [name, body] of ofType(docs, 'google_project_iam_custom_role'))
        assert.ok(
          !(body.permissions as string[]).some(p => /overrideUnlockedRetention|\*/.test(p)),
          name,
        );
      // Predefined roles on the bucket and the project: none holds storage.objects.* wholesale
      // (objectAdmin and admin hold overrideUnlockedRetention; legacy owner roles the ACL rights).
      const grantRoles = [
        ...ofType(docs, 'google_storage_bucket_iam_member'),
        ...ofType(docs, 'google_project_iam_member'),
      ].flatMap(([, body]) =>
        body.role === '${each.value.role}'
          ? [
              ...Object.values(all.bucket_grants as Record<string, {role: string}>).map(
                g => g.role,
              ),
              // Every role the operators' list may hold, whichever branch applies.
              ...[...String(all.operator_project_roles).matchAll(/"(roles\/[^"]+)"/g)].map(
                m => m[1]!,
              ),
            ]
          : [String(body.role)],
      );
      assert.ok(grantRoles.length > 10, 'grants found');
      for (const role of grantRoles)
        assert.ok(
          !/^roles\/(storage\.(admin|objectAdmin|legacy\w+)|owner|editor)$/.test(role),
          `${role} holds storage.objects.overrideUnlockedRetention`,
        );
    });
  });

  describe('lifecycle rules', () => {
    const rules = (): Rule[] =>
      (all.noncurrent_rules as Rule[]).map(r => ({
        prefixes: r.prefixes.map(p => interpolate(p, values, all)),
        suffixes: r.suffixes.map(s => interpolate(s, values, all)),
      }));
    const deletes = (name: string) => rules().some(r => matches(r, name));

    it('should delete only noncurrent generations, after noncurrent_bookkeeping_days', () => {
      const [rule] = bucket().dynamic.lifecycle_rule.filter(r => r.for_each.includes('noncurrent'));
      assert.strictEqual(
        rule!.for_each,
        '${var.noncurrent_bookkeeping_days > 0 ? local.noncurrent_rules : []}',
      );
      const content = rule!.content[0]!;
      assert.deepStrictEqual(content.action, [{type: 'Delete'}]);
      const condition = content.condition![0]!;
      assert.strictEqual(condition.with_state, 'ARCHIVED');
      assert.strictEqual(
        condition.days_since_noncurrent_time,
        '${var.noncurrent_bookkeeping_days}',
      );
      assert.strictEqual(condition.send_age_if_zero, false, 'no age condition of 0 sent');
      assert.ok(!('age' in condition), 'never by age: that would reach live objects');
      assert.strictEqual(
        bucket().dynamic.lifecycle_rule.filter(r => JSON.stringify(r.content).includes('"Delete"'))
          .length,
        1,
        'one Delete rule set',
      );
      assert.ok(
        validation('noncurrent_bookkeeping_days').includes('var.noncurrent_bookkeeping_days >= 0'),
      );
    });

    it('should reach the markers, plans, ledger, rejected-message records and index of its export_env', () => {
      for (const name of [
        names.markerObjectName(ENV, DAY, '_SUCCESS'),
        names.markerObjectName(ENV, DAY, '_FAILURE'),
        names.planObjectName(ENV, DAY),
        names.runPlanObjectName(ENV, DAY, RUN),
        names.decisionObjectName(ENV, DAY),
        names.rejectedMessageObjectName(ENV, '125', '{}'),
        `${ENV}/_index/${DAY}.json`,
      ])
        assert.ok(deletes(name), name);
    });

    it('should never reach a recording of any type and extension, a metadata document, a report, an attempt counter or a waiver', () => {
      const untouched = [
        ...RECORDING_TYPES.flatMap(type =>
          allExtensions().map(ext => names.recordingObjectName(ENV, DAY, type, CONV, REC, ext)),
        ),
        names.metadataObjectName(ENV, DAY, CONV),
        names.batchReportObjectName(ENV, DAY, RUN, 'b0001-1f2e3d4c5b6a'),
        names.batchReportObjectName(ENV, DAY, undefined, 'adhoc-1f2e3d4c'),
        names.attemptsObjectName(ENV, DAY, RUN, 'b0001-1f2e3d4c5b6a', '123'),
        names.attemptsObjectName(ENV, DAY, undefined, 'adhoc-1f2e3d4c', '124'),
        names.waiverObjectName(ENV, DAY, 'w20260401000000-ab12cd34'),
        names.planPartObjectName(ENV, DAY, RUN, 1),
        names.markerObjectName('other', DAY, '_SUCCESS'),
      ];
      assert.ok(untouched.length > 60);
      for (const name of untouched) assert.ok(!deletes(name), name);
    });

    it('should move only audio and video, of its export_env, and only to a colder class', () => {
      assert.deepStrictEqual([...(all.media_suffixes as string[])].sort(), mediaExtensions());
      assert.deepStrictEqual(all.storage_classes, ['STANDARD', 'NEARLINE', 'COLDLINE', 'ARCHIVE']);
      const [rule] = bucket().dynamic.lifecycle_rule.filter(r =>
        JSON.stringify(r.content).includes('SetStorageClass'),
      );
      assert.strictEqual(rule!.for_each, '${var.media_storage_classes}');
      const condition = rule!.content[0]!.condition![0]!;
      assert.strictEqual(condition.age, '${lifecycle_rule.value.age_days}');
      assert.deepStrictEqual(condition.matches_prefix, ['${var.export_env}/']);
      assert.strictEqual(condition.matches_suffix, '${local.media_suffixes}');
      assert.strictEqual(
        condition.matches_storage_class,
        '${slice(local.storage_classes, 0, index(local.storage_classes, lifecycle_rule.value.storage_class))}',
      );
      const media = (name: string) =>
        matches({prefixes: [`${ENV}/`], suffixes: all.media_suffixes as string[]}, name);
      assert.ok(media(names.recordingObjectName(ENV, DAY, 'call', CONV, REC, 'ogg')));
      assert.ok(media(names.recordingObjectName(ENV, DAY, 'screen', CONV, REC, 'webm')));
      for (const name of [
        names.recordingObjectName(ENV, DAY, 'chat', CONV, REC, 'json'),
        names.metadataObjectName(ENV, DAY, CONV),
        names.planObjectName(ENV, DAY),
        names.markerObjectName(ENV, DAY, '_SUCCESS'),
      ])
        assert.ok(!media(name), `${name} stays where the checker and the planner read it`);
      const c = validation('media_storage_classes');
      assert.ok(c.includes('contains(["NEARLINE", "COLDLINE", "ARCHIVE"], t.storage_class)'), c);
      assert.deepStrictEqual(variable(docs, 'media_storage_classes').default, []);
    });
  });

  it('should turn on the Data Access audit logs of Cloud Storage (DATA_READ, DATA_WRITE) only when asked', () => {
    const audit = resource(docs, 'google_project_iam_audit_config', 'storage') as {
      count: string;
      service: string;
      audit_log_config: Array<{log_type: string}>;
    };
    assert.strictEqual(audit.count, '${var.storage_data_access_logs ? 1 : 0}');
    assert.strictEqual(audit.service, 'storage.googleapis.com');
    assert.deepStrictEqual(audit.audit_log_config.map(c => c.log_type).sort(), [
      'DATA_READ',
      'DATA_WRITE',
    ]);
    assert.strictEqual(variable(docs, 'storage_data_access_logs').default, false);
  });

  describe('kms_key', () => {
    const KEY = '${local.cmek ? var.kms_key : null}';
    const GRANTS = 'time_sleep.kms_grants';

    it('should turn on the Cloud KMS API with kms_key only', () => {
      assert.match(String(all.apis), /local\.cmek \? \["cloudkms\.googleapis\.com"\] : \[\]/);
    });

    it('should accept only a key id (or nothing) and require it in region', () => {
      assert.strictEqual(all.cmek, '${var.kms_key != ""}');
      const re = /regex\("((?:[^"\\]|\\.)*)", var\.kms_key\)/.exec(validation('kms_key'))?.[1];
      assert.ok(re, validation('kms_key'));
      const pattern = new RegExp(JSON.parse(`"${re}"`) as string);
      assert.ok(
        pattern.test('projects/my-project/locations/europe-west1/keyRings/grm/cryptoKeys/grm'),
      );
      for (const bad of [
        'projects/my-project/locations/europe-west1/keyRings/grm/cryptoKeys/grm/cryptoKeyVersions/1',
        'grm',
        'projects/my-project/locations/europe-west1/keyRings/grm',
      ])
        assert.ok(!pattern.test(bad), bad);
      assert.ok(validation('kms_key').startsWith('${var.kms_key == "" ||'));
      assert.strictEqual(all.kms_key_location, '${local.cmek ? split("/", var.kms_key)[3] : ""}');
      assert.ok(
        bucket().lifecycle[0]!.precondition.some(
          p => p.condition === '${!local.cmek || local.kms_key_location == var.region}',
        ),
      );
    });

    it('should encrypt every topic, bucket, secret, function and image repository with it, once the grants exist', () => {
      const checked: string[] = [];
      const waits = (type: string, name: string, body: Block) => {
        checked.push(`${type}.${name}`);
        assert.ok(
          dependsOn(body).includes(`\${${GRANTS}}`),
          `${type}.${name} waits for the grants`,
        );
      };
      for (const type of [
        'google_pubsub_topic',
        'google_cloudfunctions2_function',
        'google_artifact_registry_repository',
      ])
        for (const [name, body] of ofType(docs, type)) {
          assert.strictEqual(body.kms_key_name, KEY, `${type}.${name}`);
          waits(type, name, body);
        }
      for (const [name, body] of ofType(docs, 'google_storage_bucket')) {
        const enc = (body.dynamic as {encryption?: Array<{for_each: string; content: Block[]}>})
          .encryption?.[0];
        assert.strictEqual(enc?.for_each, '${local.cmek ? [1] : []}', `bucket ${name}`);
        assert.deepStrictEqual(enc.content, [{default_kms_key_name: '${var.kms_key}'}]);
        waits('google_storage_bucket', name, body);
      }
      for (const [name, body] of ofType(docs, 'google_secret_manager_secret')) {
        const replication = body.replication as Array<{
          dynamic: {
            user_managed: Array<{
              content: Array<{dynamic: {replicas: Array<{content: Array<{dynamic: Block}>}>}}>;
            }>;
          };
        }>;
        const replica =
          replication[0]!.dynamic.user_managed[0]!.content[0]!.dynamic.replicas[0]!.content[0]!;
        assert.deepStrictEqual(replica.dynamic.customer_managed_encryption, [
          {content: [{kms_key_name: '${var.kms_key}'}], for_each: '${local.cmek ? [1] : []}'},
        ]);
        const pre = (body.lifecycle as Array<{precondition: Array<{condition: string}>}>)[0]!
          .precondition[0]!.condition;
        assert.match(
          pre,
          /^\$\{!local\.cmek \|\| \(length\(var\.secret_replica_locations\) > 0 && alltrue/,
        );
        assert.match(pre, /l == local\.kms_key_location/, 'each replica in the key location');
        waits('google_secret_manager_secret', name, body);
      }
      const channel = resource(docs, 'google_eventarc_google_channel_config', 'kms');
      assert.strictEqual(channel.crypto_key_name, '${var.kms_key}');
      assert.strictEqual(channel.count, '${local.cmek ? 1 : 0}');
      assert.strictEqual(
        channel.name,
        'projects/${var.project_id}/locations/${var.region}/googleChannelConfig',
      );
      waits('google_eventarc_google_channel_config', 'kms', channel);
      assert.strictEqual(checked.length, 8, checked.join(', '));
      const fn = resource(docs, 'google_cloudfunctions2_function', 'fn');
      assert.ok(
        dependsOn(fn).includes('${google_eventarc_google_channel_config.kms}'),
        'the checker trigger waits for the channel key',
      );
    });

    it('should grant encrypt/decrypt on the key to every service agent that uses it, and nothing more', () => {
      const members = all.kms_agent_members as Record<string, string>;
      assert.deepStrictEqual(Object.keys(members).sort(), [
        'artifactregistry',
        'cloudfunctions',
        'cloudrun',
        'eventarc',
        'pubsub',
        'secretmanager',
        'storage',
      ]);
      assert.match(
        members.storage!,
        /data\.google_storage_project_service_account\.gcs\.email_address/,
      );
      assert.match(members.pubsub!, /google_project_service_identity\.pubsub\.email/);
      for (const [key, service] of [
        ['secretmanager', 'secretmanager'],
        ['artifactregistry', 'artifactregistry'],
      ])
        assert.ok(
          members[key!]!.includes(
            `google_project_service_identity.kms["${service!}.googleapis.com"].email`,
          ),
          members[key!],
        );
      assert.match(
        members.cloudfunctions!,
        /^serviceAccount:service-\$\{data\.google_project\.this\.number\}@gcf-admin-robot\.iam\.gserviceaccount\.com$/,
      );
      assert.match(
        members.cloudrun!,
        /^serviceAccount:service-\$\{data\.google_project\.this\.number\}@serverless-robot-prod\.iam\.gserviceaccount\.com$/,
      );
      assert.strictEqual(all.kms_agents, '${local.cmek ? local.kms_agent_members : {}}');
      const identities = resource(docs, 'google_project_service_identity', 'kms');
      assert.strictEqual(
        identities.for_each,
        '${local.cmek ? local.kms_agent_services : toset([])}',
      );
      assert.strictEqual(
        all.kms_agent_services,
        '${toset(["artifactregistry.googleapis.com", "secretmanager.googleapis.com"])}',
      );
      // Eventarc's agent exists on every configuration (service-accounts.tf).
      assert.strictEqual(
        members.eventarc,
        'serviceAccount:${google_project_service_identity.eventarc.email}',
      );
      const grant = resource(docs, 'google_kms_crypto_key_iam_member', 'agents');
      assert.strictEqual(grant.for_each, '${local.kms_agents}');
      assert.strictEqual(grant.crypto_key_id, '${var.kms_key}');
      assert.strictEqual(grant.role, 'roles/cloudkms.cryptoKeyEncrypterDecrypter');
      assert.strictEqual(grant.member, '${each.value}');
      assert.deepStrictEqual(
        ofType(docs, 'google_kms_crypto_key_iam_member').map(([n]) => n),
        ['agents'],
        'no other key grant',
      );
      const sleep = resource(docs, 'time_sleep', 'kms_grants');
      assert.deepStrictEqual(dependsOn(sleep), ['${google_kms_crypto_key_iam_member.agents}']);
      assert.strictEqual(sleep.count, '${local.cmek ? 1 : 0}');
    });
  });
});
