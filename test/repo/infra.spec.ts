/**
 * The Terraform, checked offline (no Google provider can be downloaded here;
 * terraform-schema.spec.ts checks every argument against the provider's own
 * schema): it agrees with the code — entry points with what functions/
 * registers, every setting of the settings table (functions/config.ts) set
 * from the variable it names, with the same default and range — and keeps
 * the deployment's promises: APIs first, internal-only worker and checker,
 * least-privilege identities, dead letters kept, a source archive that holds
 * only what the functions need.
 */
import * as assert from 'node:assert';
import {parseMigrationRequest} from '../../functions/core/migration';
import {cronProblem} from '../../functions/core/cron';
import {NIGHTLY_LISTED_WITHIN_MINUTES} from '../../functions/core/quiet-window';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {SETTINGS} from '../../functions/config';
import {indexObjectName, indexPrefix} from '../../functions/core/object-names';
import type {ChoiceSetting, IntSetting, Setting} from '../../functions/core/settings';
import {INDEX_PARTITION_KEY, RECORDINGS_SCHEMA} from '../../functions/core/recordings-index';
import {
  Block,
  Hcl,
  interpolate,
  loadInfra,
  locals,
  parseHcl,
  resource,
  resources,
  variable,
} from '../../local/iam/terraform';

const ROOT = path.join(__dirname, '..', '..');
const read = (f: string) => fs.readFileSync(path.join(ROOT, f), 'utf8');

/** The names functions/entrypoints/ registers: a literal, or a constant of the same file. */
function registeredFunctions(): string[] {
  const dir = path.join(ROOT, 'functions', 'entrypoints');
  return fs.readdirSync(dir).flatMap(f => {
    const text = fs.readFileSync(path.join(dir, f), 'utf8');
    return [...text.matchAll(/functions\.(?:http|cloudEvent)\((?:'([A-Za-z]+)'|([A-Z_]+))/g)].map(
      m => m[1] ?? new RegExp(`const ${m[2]} = '([A-Za-z]+)'`).exec(text)?.[1] ?? `? ${m[2]}`,
    );
  });
}

/** Every setting, from the settings table. */
const SETTING_LIST: readonly Setting[] = Object.values(SETTINGS);

/** The Terraform variable a setting comes from, if any (the table says; absent: its name). */
const variableOf = (s: Setting): string | undefined =>
  s.terraform === undefined
    ? s.name.toLowerCase()
    : typeof s.terraform === 'object' && 'variable' in s.terraform
      ? s.terraform.variable
      : undefined;

/**
 * How Terraform sets the settings the table says it makes of something else
 * than a variable's value (`as`, `fixed`): a resource's name, a function's
 * max instance count.
 */
const DERIVED: Record<string, string> = {
  BUCKET: '${google_storage_bucket.recordings.name}',
  BATCHES_TOPIC: '${google_pubsub_topic.batches.name}',
  GENESYS_CREDENTIALS_SECRET: '${google_secret_manager_secret.secret["genesys_clients"].secret_id}',
  SENDGRID_KEY_SECRET: '${google_secret_manager_secret.secret["sendgrid_api_key"].secret_id}',
  // Each instance paces itself to its share of a client's budget: the instances that may run.
  WORKER_INSTANCES: '${tostring(local.functions.worker.max_instances)}',
  PLANNER_INSTANCES: '${tostring(local.functions.planner.max_instances)}',
};

interface FunctionSpec {
  entry_point: string;
  timeout: number;
  ingress: string;
  invoker: string;
  trigger: boolean;
  concurrency: number | string;
  cpu: string | null;
}

describe('infra/ (Terraform)', () => {
  let docs: Hcl[];
  let all: Block;
  let fns: Record<string, FunctionSpec>;
  before(async () => {
    docs = await loadInfra();
    all = locals(docs);
    fns = all.functions as Record<string, FunctionSpec>;
  });
  const env = () => all.function_env as Record<string, string>;
  const validation = (name: string) =>
    ((variable(docs, name).validation as Array<{condition: string}> | undefined) ?? [])
      .map(v => v.condition)
      .join(' && ');

  it('should deploy every registered function on nodejs22 with its entry point', () => {
    const fn = resource(docs, 'google_cloudfunctions2_function', 'fn') as {
      build_config: Array<{runtime: string; entry_point: string}>;
    };
    assert.strictEqual(fn.build_config[0]!.runtime, 'nodejs22');
    assert.strictEqual(fn.build_config[0]!.entry_point, '${each.value.entry_point}');
    assert.deepStrictEqual(
      Object.values(fns)
        .map(f => f.entry_point)
        .sort(),
      registeredFunctions().sort(),
    );
  });

  it('should set only environment variables the code reads, and every setting but the local-only ones', () => {
    const known = new Set(SETTING_LIST.map(s => s.name));
    known.add('LOG_EXECUTION_ID'); // read by the Functions Framework
    known.add('ROLLOUT_ID'); // read by nobody: changing it rolls new instances
    for (const key of Object.keys(env()))
      assert.ok(known.has(key), `${key} is set by Terraform but never read`);
    for (const s of SETTING_LIST)
      assert.strictEqual(
        s.name in env(),
        s.terraform !== 'local',
        `${s.name}: ${s.terraform === 'local' ? 'local only, yet set' : 'cannot be set from Terraform'}`,
      );
  });

  it('should set every setting from the variable the settings table names, or as it says', () => {
    const derived = SETTING_LIST.filter(
      s => typeof s.terraform === 'object' && ('fixed' in s.terraform || s.terraform.as),
    );
    assert.deepStrictEqual(derived.map(s => s.name).sort(), Object.keys(DERIVED).sort());
    for (const s of SETTING_LIST) {
      const v = variableOf(s);
      if (v) assert.ok(variable(docs, v), `var.${v} of ${s.name}`);
      if (s.name in DERIVED) {
        assert.strictEqual(env()[s.name], DERIVED[s.name], `${s.name} is derived`);
        continue;
      }
      if (!v) continue;
      const expected =
        s.type === 'int'
          ? `\${tostring(var.${v})}`
          : s.type === 'emails'
            ? `\${join(",", var.${v})}`
            : `\${var.${v}}`;
      assert.strictEqual(env()[s.name], expected, `${s.name} comes from var.${v}`);
    }
  });

  it('should give every numeric setting a variable with the default and range of the settings table', () => {
    const ints = SETTING_LIST.filter((s): s is IntSetting => s.type === 'int');
    assert.ok(ints.length >= 10);
    for (const s of ints) {
      const v = variableOf(s);
      if (!v) continue;
      // Another variable's default is its own (worker_max_instances); its range is the setting's.
      if (v === s.name.toLowerCase())
        assert.strictEqual(variable(docs, v).default, s.default, `var.${v} default`);
      const condition = validation(v);
      assert.ok(
        condition.includes(`floor(var.${v}) == var.${v}`),
        `var.${v} must be an integer: ${condition}`,
      );
      assert.ok(condition.includes(`var.${v} >= ${s.min}`), `var.${v} >= ${s.min}: ${condition}`);
      assert.ok(condition.includes(`var.${v} <= ${s.max}`), `var.${v} <= ${s.max}: ${condition}`);
    }
  });

  it('should give every choice setting a variable with the default and values of the settings table', () => {
    const choices = SETTING_LIST.filter((s): s is ChoiceSetting => s.type === 'choice');
    assert.ok(choices.length >= 2);
    for (const s of choices) {
      const v = s.name.toLowerCase();
      assert.strictEqual(variableOf(s), v);
      assert.strictEqual(variable(docs, v).default, s.default);
      assert.ok(
        validation(v).includes(`contains([${s.values.map(x => `"${x}"`).join(', ')}], var.${v})`),
        validation(v),
      );
    }
  });

  it('should refuse at plan time a dead-letter budget Pub/Sub would reject (5 to 100)', () => {
    const c = validation('max_delivery_attempts');
    assert.ok(
      c.includes('var.max_delivery_attempts >= 5') &&
        c.includes('var.max_delivery_attempts <= 100'),
      c,
    );
  });

  it('should have every resource depend on the APIs, directly or through what it references', () => {
    const graph = dependencyGraph(docs, all);
    const apis = 'google_project_service.apis';
    const reaches = (node: string, seen = new Set<string>()): boolean => {
      if (node === apis) return true;
      if (seen.has(node)) return false;
      seen.add(node);
      return [...(graph.get(node) ?? [])].some(next => reaches(next, seen));
    };
    // An archive is made on the machine running Terraform and calls no API;
    // two data sources are read at plan time from APIs that are on before the
    // first apply (Storage everywhere, Resource Manager by infra/README.md).
    const local = new Set([
      apis,
      'data.archive_file.source',
      'data.google_project.this',
      'data.google_storage_project_service_account.gcs',
    ]);
    const missing = [...graph.keys()].filter(n => !local.has(n) && !reaches(n));
    assert.deepStrictEqual(missing, [], 'these can race the API enablement on a first apply');
    assert.ok(graph.size > 30);
  });

  it('should make the worker and the checker internal-only, and the planner a validated choice', () => {
    assert.strictEqual(fns.worker!.ingress, 'ALLOW_INTERNAL_ONLY');
    assert.strictEqual(fns.checker!.ingress, 'ALLOW_INTERNAL_ONLY');
    assert.strictEqual(fns.planner!.ingress, '${var.planner_ingress}');
    assert.ok(validation('planner_ingress').includes('ALLOW_INTERNAL_ONLY'));
    const fn = resource(docs, 'google_cloudfunctions2_function', 'fn') as {
      service_config: Array<Record<string, string>>;
    };
    assert.strictEqual(fn.service_config[0]!.ingress_settings, '${each.value.ingress}');
  });

  it('should build as a dedicated service account into its own repository', () => {
    const fn = resource(docs, 'google_cloudfunctions2_function', 'fn') as {
      build_config: Array<Record<string, string>>;
      depends_on: string[];
    };
    assert.strictEqual(
      fn.build_config[0]!.service_account,
      '${google_service_account.sa["build"].id}',
    );
    assert.strictEqual(
      fn.build_config[0]!.docker_repository,
      '${google_artifact_registry_repository.functions.id}',
    );
    for (const d of [
      'time_sleep.build_grants',
      'google_project_iam_member.eventarc_receiver',
      'google_project_iam_member.gcs_pubsub',
    ])
      assert.ok(
        fn.depends_on.some(x => x.includes(d)),
        `the functions wait for ${d}`,
      );
  });

  it("should create Eventarc's agent and grant it its role, on every configuration, before the checker's trigger", () => {
    const agent = resource(docs, 'google_project_service_identity', 'eventarc');
    assert.strictEqual(agent.service, 'eventarc.googleapis.com');
    assert.ok(!('count' in agent) && !('for_each' in agent), 'not only with kms_key');
    const grant = resource(docs, 'google_project_iam_member', 'eventarc_agent');
    assert.strictEqual(grant.role, 'roles/eventarc.serviceAgent');
    assert.strictEqual(
      grant.member,
      'serviceAccount:${google_project_service_identity.eventarc.email}',
    );
    // The functions wait for the grant to be seen, not only for it to be made.
    const wait = resource(docs, 'time_sleep', 'eventarc_agent') as {
      create_duration: string;
      triggers: Record<string, string>;
      depends_on: string[];
    };
    assert.strictEqual(wait.triggers.agent, '${google_project_service_identity.eventarc.email}');
    assert.deepStrictEqual(wait.depends_on, ['${google_project_iam_member.eventarc_agent}']);
    assert.ok(parseInt(wait.create_duration, 10) >= 60, wait.create_duration);
    const fn = resource(docs, 'google_cloudfunctions2_function', 'fn');
    assert.ok((fn.depends_on as string[]).includes('${time_sleep.eventarc_agent}'));
    // Existing CMEK deployments keep the agent they had (it was created with kms_key).
    const moved = docs.flatMap(d => ((d as Block).moved as Block[] | undefined) ?? []);
    assert.deepStrictEqual(moved, [
      {
        from: '${google_project_service_identity.kms["eventarc.googleapis.com"]}',
        to: '${google_project_service_identity.eventarc}',
      },
    ]);
  });

  it('should let the checker take many events per instance (with the vCPU that needs)', () => {
    assert.strictEqual(fns.checker!.concurrency, '${var.checker_concurrency}');
    assert.strictEqual(fns.checker!.cpu, '1');
    assert.strictEqual(fns.worker!.concurrency, 1);
  });

  it('should create the no-decision alert with the metric it queries, without waiting for Monitoring to see it', () => {
    const policy = resource(docs, 'google_monitoring_alert_policy', 'no_day_decided') as {
      conditions: Array<{condition_prometheus_query_language: Array<Block>}>;
    };
    const promql = policy.conditions[0]!.condition_prometheus_query_language[0]!;
    assert.strictEqual(promql.disable_metric_validation, true);
    assert.match(
      String(promql.query),
      /user_\$\{google_logging_metric\.days_decided\.name\}\[36h\]/,
    );
    // No wait stands between the metric and the policy any more.
    assert.deepStrictEqual(
      resources(docs).filter(
        ([t, , b]) => t === 'time_sleep' && JSON.stringify(b).includes('days_decided'),
      ),
      [],
    );
  });

  it('should have Cloud Scheduler call the planner with an OIDC token for its URL (the nightly run and the migration tick)', () => {
    for (const name of ['nightly', 'migration_tick']) {
      const job = resource(docs, 'google_cloud_scheduler_job', name) as {
        http_target: Array<{
          uri: string;
          body: string;
          oidc_token: Array<{audience: string; service_account_email: string}>;
        }>;
      };
      const target = job.http_target[0]!;
      assert.match(
        target.uri,
        /google_cloudfunctions2_function\.fn\["planner"\]\.service_config\[0\]\.uri/,
      );
      assert.strictEqual(target.oidc_token[0]!.audience, target.uri);
      assert.strictEqual(
        target.oidc_token[0]!.service_account_email,
        '${google_service_account.sa["scheduler"].email}',
      );
    }
    // The tick's body is a request the planner takes as a migration tick.
    const tick = resource(docs, 'google_cloud_scheduler_job', 'migration_tick') as {
      http_target: Array<{body: string}>;
    };
    const literal = /^\$\{base64encode\((".*")\)\}$/.exec(tick.http_target[0]!.body)?.[1];
    assert.ok(literal, `the tick's body is not base64encode("…"): ${tick.http_target[0]!.body}`);
    const body = JSON.parse(JSON.parse(literal) as string) as {migration: unknown};
    assert.deepStrictEqual(Object.keys(body), ['migration']);
    assert.deepStrictEqual(parseMigrationRequest(body.migration, '2026-01-01'), {action: 'tick'});
  });

  it("should give the planner the nightly job's schedule, refusing at plan time the forms it cannot read", () => {
    const job = resource(docs, 'google_cloud_scheduler_job', 'nightly');
    assert.strictEqual(job.schedule, '${var.schedule}');
    assert.strictEqual(job.time_zone, '${var.time_zone}');
    assert.strictEqual(env().SCHEDULE, '${var.schedule}');
    assert.strictEqual(env().TIME_ZONE, '${var.time_zone}');
    assert.strictEqual(cronProblem(String(variable(docs, 'schedule').default)), undefined);
    // The validation's regular expression (RE2 in Terraform; these constructs read the same in
    // JavaScript) against the planner's own reading of the schedule.
    const literal = /can\(regex\(("(?:[^"\\]|\\.)*"), var\.schedule\)\)/.exec(
      validation('schedule'),
    )?.[1];
    assert.ok(literal, `var.schedule has no regex validation: ${validation('schedule')}`);
    const re = new RegExp(JSON.parse(literal) as string);
    const readable = [
      '0 0 * * *',
      '30 2 * * 1-5',
      '0 0 * * MON,THU',
      '*/15 1-3 * * *',
      ' 5  0 1 JAN *',
    ];
    const refused = [
      '0 2 * *',
      '0 2 1 * MON',
      'every 24 hours',
      '@daily',
      '0 0 * * * ; rm',
      '',
      '0 2 ? * *',
    ];
    for (const s of readable) {
      assert.strictEqual(cronProblem(s), undefined, s);
      assert.ok(re.test(s), `Terraform refuses "${s}", which the planner reads`);
    }
    for (const s of refused) {
      assert.ok(cronProblem(s), s);
      assert.ok(!re.test(s), `Terraform lets "${s}" through, which the planner refuses`);
    }
    // The quiet window lasts at most until the first attempt of the nightly job has ended.
    assert.strictEqual(fns.planner!.timeout, NIGHTLY_LISTED_WITHIN_MINUTES * 60);
    assert.strictEqual(job.attempt_deadline, `${NIGHTLY_LISTED_WITHIN_MINUTES * 60}s`);
  });

  it('should push batches to the worker with an OIDC audience, a retry policy and a dead-letter topic, and never expire', () => {
    const sub = resource(docs, 'google_pubsub_subscription', 'worker') as {
      push_config: Array<{push_endpoint: string; oidc_token: Array<{audience: string}>}>;
      retry_policy: unknown[];
      expiration_policy: Array<{ttl: string}>;
      dead_letter_policy: Array<{dead_letter_topic: string}>;
    };
    const push = sub.push_config[0]!;
    assert.match(
      push.push_endpoint,
      /google_cloudfunctions2_function\.fn\["worker"\]\.service_config\[0\]\.uri/,
    );
    assert.match(push.push_endpoint, /\/projects\/.*\/topics\//);
    assert.strictEqual(
      push.oidc_token[0]!.audience,
      '${google_cloudfunctions2_function.fn["worker"].service_config[0].uri}',
    );
    assert.strictEqual(sub.retry_policy.length, 1);
    assert.deepStrictEqual(sub.expiration_policy, [{ttl: ''}]);
    assert.match(sub.dead_letter_policy[0]!.dead_letter_topic, /google_pubsub_topic\.dead_letter/);
  });

  it('should keep dead letters for the retention asked, with a subscription that never expires', () => {
    const keep = resource(docs, 'google_pubsub_subscription', 'dead_letter_keep') as {
      topic: string;
      message_retention_duration: string;
      expiration_policy: Array<{ttl: string}>;
    };
    assert.match(keep.topic, /google_pubsub_topic\.dead_letter\.id/);
    assert.strictEqual(
      keep.message_retention_duration,
      '${var.dead_letter_retention_days * 86400}s',
    );
    assert.deepStrictEqual(keep.expiration_policy, [{ttl: ''}]);
    assert.strictEqual(variable(docs, 'dead_letter_retention_days').default, 31);
    const grant = resource(docs, 'google_pubsub_topic_iam_member', 'dead_letter_publisher') as {
      member: string;
    };
    assert.match(
      grant.member,
      /google_project_service_identity\.pubsub\.email/,
      'the agent is created, not spelled out',
    );
  });

  it('should run each function as its own service account and invoke each only from its caller', () => {
    const fn = resource(docs, 'google_cloudfunctions2_function', 'fn') as {
      service_config: Array<Record<string, string>>;
    };
    assert.strictEqual(
      fn.service_config[0]!.service_account_email,
      '${google_service_account.sa[each.key].email}',
    );
    const invokers = Object.fromEntries(Object.entries(fns).map(([k, f]) => [k, f.invoker]));
    assert.deepStrictEqual(invokers, {planner: 'scheduler', worker: 'pusher', checker: 'eventarc'});
    const sas = Object.keys(all.service_accounts as Block).sort();
    assert.deepStrictEqual(sas, [
      'build',
      'checker',
      'eventarc',
      'planner',
      'pusher',
      'scheduler',
      'worker',
    ]);
  });

  it('should grant project-level roles only where no narrower level exists', () => {
    const allowed: Record<string, RegExp> = {
      'roles/logging.logWriter': /google_service_account\.sa\[each\.key\]\.member/,
      'roles/eventarc.eventReceiver': /google_service_account\.sa\["eventarc"\]\.member/,
      'roles/pubsub.publisher': /google_storage_project_service_account\.gcs/,
      'roles/eventarc.serviceAgent':
        /^serviceAccount:\$\{google_project_service_identity\.eventarc\.email\}$/,
      '${each.value.role}': /^\$\{each\.value\.member\}$/, // operators: see below
      'roles/storage.objectViewer': /google_service_account\.sa\["build"\]\.member/,
      // Query jobs exist only in a project.
      'roles/bigquery.jobUser': /^\$\{each\.value\}$/,
    };
    for (const [type, name, body] of resources(docs)) {
      if (type !== 'google_project_iam_member') continue;
      const {role, member} = body as {role: string; member: string};
      assert.ok(allowed[role]?.test(member), `${name}: ${role} for ${member}`);
      if (role === '${each.value.role}') {
        assert.strictEqual(name, 'operator');
        // Running jobs exists only project-wide: only for operators who cannot reach the planner.
        assert.strictEqual(
          String(all.operator_project_roles).replace(/\s+/g, ' '),
          '${concat( ["roles/logging.viewer", "roles/monitoring.viewer"], var.planner_ingress == "ALLOW_ALL" ? [] : ["roles/cloudscheduler.jobRunner"], )}',
        );
      }
      if (role === 'roles/storage.objectViewer') {
        const cond = (body.condition as Array<{expression: string}>)[0]!.expression;
        assert.match(
          cond,
          /^resource\.name\.startsWith\("projects\/_\/buckets\/gcf-v2-sources-/,
          'only the function sources',
        );
      }
    }
  });

  it("should make the project's shared grants and settings only in the deployment that owns them (project_grants)", () => {
    assert.strictEqual(variable(docs, 'project_grants').default, true);
    assert.strictEqual(all.project_grants, '${var.project_grants}');
    // Every project-level grant or setting is this deployment's own identity's, or gated.
    let gated = 0;
    for (const [type, name, body] of resources(docs)) {
      if (!/^google_project_iam_(member|binding|audit_config|policy)$/.test(type)) continue;
      const own = /^\$\{google_service_account\.sa\[[^\]]+\]\.member\}$/.test(String(body.member));
      if (own) continue;
      const instances = String(body.count ?? body.for_each ?? '');
      if (type === 'google_project_iam_audit_config') {
        // Its own switch, refused when another deployment owns the project's settings.
        assert.strictEqual(instances, '${var.storage_data_access_logs ? 1 : 0}');
        const pre = (body.lifecycle as Array<{precondition: Array<{condition: string}>}>)[0]!
          .precondition[0]!.condition;
        assert.strictEqual(pre, '${local.project_grants}');
      } else {
        assert.match(instances, /local\.project_grants \?/, `${type}.${name}: ${instances}`);
      }
      gated++;
    }
    // The storage and Eventarc agents' roles, the operators', the BigQuery readers', the audit config.
    assert.strictEqual(gated, 5);
  });

  it('should feed the checker every finalize event of the recordings bucket, with retries', () => {
    const fn = resource(docs, 'google_cloudfunctions2_function', 'fn') as {
      dynamic: {
        event_trigger: Array<{
          for_each: string;
          content: Array<{
            event_type: string;
            retry_policy: string;
            service_account_email: string;
            event_filters: Array<{attribute: string; value: string}>;
          }>;
        }>;
      };
    };
    const trigger = fn.dynamic.event_trigger[0]!;
    assert.match(trigger.for_each, /each\.value\.trigger/);
    const c = trigger.content[0]!;
    assert.strictEqual(c.event_type, 'google.cloud.storage.object.v1.finalized');
    assert.strictEqual(c.retry_policy, 'RETRY_POLICY_RETRY');
    assert.strictEqual(c.service_account_email, '${google_service_account.sa["eventarc"].email}');
    assert.deepStrictEqual(c.event_filters, [
      {attribute: 'bucket', value: '${google_storage_bucket.recordings.name}'},
    ]);
    assert.deepStrictEqual(
      Object.entries(fns)
        .filter(([, f]) => f.trigger)
        .map(([k]) => k),
      ['checker'],
    );
  });

  it('should let only the planner and the worker read the Genesys clients, and only the planner and the checker the SendGrid key', () => {
    const readers = all.secret_readers as Record<string, {secret: string; sa: string}>;
    const who = (secret: string) =>
      Object.values(readers)
        .filter(r => r.secret === secret)
        .map(r => r.sa)
        .sort();
    assert.deepStrictEqual(who('genesys_clients'), ['planner', 'worker']);
    assert.deepStrictEqual(who('sendgrid_api_key'), ['checker', 'planner']);
    const secret = resource(docs, 'google_secret_manager_secret', 'secret') as {
      replication: Array<{dynamic: Block}>;
    };
    assert.deepStrictEqual(Object.keys(secret.replication[0]!.dynamic).sort(), [
      'auto',
      'user_managed',
    ]);
  });

  it('should package only the functions and what their build needs (an allow-list)', () => {
    const archive = resource(docs, 'archive_file', 'source', 'data');
    assert.ok(!('source_dir' in archive) && !('excludes' in archive), 'no directory deny-list');
    const files = all.source_files as string;
    for (const f of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json'])
      assert.ok(files.includes(`"${f}"`), f);
    assert.ok(files.includes('fileset(local.source_root, "functions/**/*.ts")'), files);
    // What the build compiles (tsconfig.build.json) is inside the allow-list,
    assert.ok(files.includes('fileset(local.source_root, "functions/**/*.json")'), files);
    const build = JSON.parse(read('tsconfig.build.json')) as {include: string[]};
    assert.deepStrictEqual(build.include, ['functions/**/*.ts']);
    // and so is every JSON file the functions import (data, such as the index schema).
    const imports = fs
      .readdirSync(path.join(ROOT, 'functions'), {recursive: true, encoding: 'utf8'})
      .filter(f => f.endsWith('.ts'))
      .flatMap(f =>
        [...read(`functions/${f}`).matchAll(/from '(\.[^']+\.json)'/g)].map(m =>
          path.relative(ROOT, path.join(ROOT, 'functions', path.dirname(f), m[1]!)),
        ),
      );
    assert.ok(imports.includes('functions/core/recordings-schema.json'), imports.join());
    for (const f of imports) assert.match(f, /^functions\/.*\.json$/);
  });

  describe('the recordings index table (bigquery.tf)', () => {
    const values = {
      'google_storage_bucket.recordings.name': 'rec-bucket',
      'var.export_env': 'brave',
    };
    const table = () =>
      resource(docs, 'google_bigquery_table', 'recordings') as Block & {
        external_data_configuration: Array<Block & {hive_partitioning_options: Block[]}>;
      };

    it('should take its schema from the file the checker validates every row against', () => {
      const expr = String(table().schema);
      assert.strictEqual(
        expr,
        '${file("${local.source_root}/functions/core/recordings-schema.json")}',
      );
      // local.source_root is the tree the functions are packaged from (build.tf).
      assert.ok(String(all.source_root).includes('path.module}/..'), String(all.source_root));
      const file = JSON.parse(read('functions/core/recordings-schema.json')) as unknown;
      assert.deepStrictEqual(file, RECORDINGS_SCHEMA);
      assert.match(
        read('functions/core/recordings-index.ts'),
        /^import schemaFile from '\.\/recordings-schema\.json';$/m,
      );
    });

    it('should read every day of the index the checker writes, partitioned by day, one wildcard after the bucket', () => {
      const ext = table().external_data_configuration[0]!;
      assert.strictEqual(ext.source_format, 'NEWLINE_DELIMITED_JSON');
      assert.strictEqual(ext.autodetect, false);
      const uris = (ext.source_uris as string[]).map(u => interpolate(u, values, all));
      assert.deepStrictEqual(uris, [`gs://rec-bucket/${indexPrefix('brave')}*`]);
      for (const u of uris) {
        assert.strictEqual(u.split('*').length, 2, 'one wildcard');
        assert.ok(!u.slice('gs://'.length).includes('//'));
      }
      const hive = ext.hive_partitioning_options[0]!;
      assert.strictEqual(hive.mode, 'CUSTOM');
      assert.strictEqual(hive.require_partition_filter, true);
      const prefix = interpolate(String(hive.source_uri_prefix), values, all);
      assert.strictEqual(prefix, `gs://rec-bucket/brave/_index/{${INDEX_PARTITION_KEY}:DATE}`);
      // The objects the checker writes are key=value folders right under that prefix.
      const name = indexObjectName('brave', '2026-03-29');
      assert.ok(name.startsWith(`${indexPrefix('brave')}${INDEX_PARTITION_KEY}=2026-03-29/`), name);
      assert.strictEqual(ext.connection_id, '${google_bigquery_connection.index[0].name}');
      // BigQuery reports the partition column in the schema: no diff on every plan.
      assert.strictEqual(table().ignore_auto_generated_schema, true);
    });

    it('should exist, with its APIs, only when bigquery_dataset is set', () => {
      for (const [type, name, body] of resources(docs))
        if (/^google_bigquery_/.test(type) || name === 'bigquery_reads_index')
          assert.match(
            String(body.count ?? body.for_each),
            /local\.bigquery \?/,
            `${type}.${name}`,
          );
      assert.strictEqual(all.bigquery, '${var.bigquery_dataset != ""}');
      assert.match(
        String(all.apis),
        /var\.bigquery_dataset != "" \? \["bigquery\.googleapis\.com", "bigqueryconnection\.googleapis\.com"\] : \[\]/,
      );
    });
  });

  it('should give operators a path for reruns, replays, reading the archive and the dead letters', () => {
    const byType = (type: string) =>
      resources(docs).filter(([t, n]) => t === type && n.startsWith('operator'));
    const invoke = resource(
      docs,
      'google_cloud_run_service_iam_member',
      'operator_invokes_planner',
    ) as Block;
    assert.strictEqual(invoke.service, '${google_cloudfunctions2_function.fn["planner"].name}');
    assert.strictEqual(
      (resource(docs, 'google_pubsub_topic_iam_member', 'operator_publishes') as Block).topic,
      '${google_pubsub_topic.batches.name}',
    );
    assert.strictEqual(
      (resource(docs, 'google_storage_bucket_iam_member', 'operator_reads') as Block).role,
      'roles/storage.objectViewer',
    );
    assert.match(
      String(
        (resource(docs, 'google_pubsub_subscription_iam_member', 'operator_dead_letters') as Block)
          .subscription,
      ),
      /dead_letter_keep/,
    );
    for (const [, , body] of [
      ...byType('google_cloud_run_service_iam_member'),
      ...byType('google_pubsub_topic_iam_member'),
    ])
      assert.strictEqual(body.for_each, '${toset(var.operator_members)}');
  });

  it('should let composer_service_account (none by default) invoke the planner, and pause the scheduler job then', () => {
    const composer = variable(docs, 'composer_service_account');
    assert.strictEqual(composer.default, '');
    const grant = resource(
      docs,
      'google_cloud_run_service_iam_member',
      'composer_invokes_planner',
    ) as Block;
    assert.strictEqual(
      grant.for_each,
      '${toset(var.composer_service_account == "" ? [] : [var.composer_service_account])}',
      'no grant when empty',
    );
    assert.strictEqual(grant.service, '${google_cloudfunctions2_function.fn["planner"].name}');
    assert.strictEqual(grant.role, 'roles/run.invoker');
    assert.strictEqual(grant.member, 'serviceAccount:${each.value}');
    // Each day is planned once: by the DAG or by the scheduler job, never both.
    const job = resource(docs, 'google_cloud_scheduler_job', 'nightly');
    assert.strictEqual(job.paused, '${var.composer_service_account != ""}');
    // The validation's regex (an HCL string literal), on what it must take and refuse.
    const literal = /regex\(("(?:[^"\\]|\\.)*")/.exec(validation('composer_service_account'))![1]!;
    const pattern = new RegExp(JSON.parse(literal) as string);
    for (const ok of [
      '',
      'composer-env@my-project.iam.gserviceaccount.com',
      '123456789-compute@developer.gserviceaccount.com',
    ])
      assert.match(ok, pattern);
    for (const bad of [
      'serviceAccount:composer-env@my-project.iam.gserviceaccount.com',
      'ana@example.com',
      'composer-env@my-project.iam.gserviceaccount.com ',
    ])
      assert.doesNotMatch(bad, pattern);
  });

  it("should hand a Composer DAG the scheduler job's schedule and time zone, under the names the DAG reads", () => {
    const out = docs.flatMap(d => d.output?.composer_environment_variables ?? [])[0];
    const value = out?.value as Record<string, string> | undefined;
    assert.ok(value, 'no output composer_environment_variables');
    const job = resource(docs, 'google_cloud_scheduler_job', 'nightly');
    assert.deepStrictEqual(value, {GRM_SCHEDULE: job.schedule, GRM_TIME_ZONE: job.time_zone});
    const planner = read('infra/composer/grm_planner.py');
    assert.match(planner, /^SCHEDULE_VARIABLE = "GRM_SCHEDULE"$/m);
    assert.match(planner, /^TIME_ZONE_VARIABLE = "GRM_TIME_ZONE"$/m);
    const dag = read('infra/composer/genesys_recording_migrator_dag.py');
    assert.match(dag, /^SCHEDULE, TIME_ZONE = grm_planner\.nightly_schedule\(os\.environ\)$/m);
  });

  it('should have a terraform.tfvars.example that sets every required variable and only declared ones', async () => {
    const example = await parseHcl<Block>('example.tfvars', read('infra/terraform.tfvars.example'));
    const declared = new Map(
      docs.flatMap(d => Object.entries(d.variable ?? {})).map(([k, [v]]) => [k, v!]),
    );
    for (const key of Object.keys(example))
      assert.ok(declared.has(key), `${key} is not a variable`);
    for (const [name, v] of declared)
      if (!('default' in v)) assert.ok(name in example, `the example lacks the required ${name}`);
    assert.ok(read('infra/terraform.tfvars.example').split('\n').length <= 15, 'about ten lines');
  });

  it('should document every variable (default, description) and every output in infra/README.md', () => {
    const readme = read('infra/README.md');
    for (const d of docs) {
      for (const [name, [v]] of Object.entries(d.variable ?? {})) {
        const fallback = !('default' in v!)
          ? '**required**'
          : `\`${v!.default === null ? 'null' : JSON.stringify(v!.default)}\``;
        const row = `| \`${name}\` | ${fallback} | ${String(v!.description).replace(/\|/g, '\\|')} |`;
        assert.ok(readme.includes(row), `infra/README.md lacks the row ${row}`);
      }
      for (const [name, [o]] of Object.entries(d.output ?? {})) {
        const row = `| \`${name}\` | ${String(o!.description)} |`;
        assert.ok(readme.includes(row), `infra/README.md lacks the row ${row}`);
      }
    }
  });

  it('should output every URL, topic, subscription, service account and bucket', () => {
    const outputs = docs
      .flatMap(d => Object.values(d.output ?? {}))
      .map(([o]) => String(o!.value))
      .join('\n');
    for (const ref of [
      'fn["planner"].service_config[0].uri',
      'fn["worker"].service_config[0].uri',
      'fn["checker"].service_config[0].uri',
      'google_pubsub_topic.batches.name',
      'google_pubsub_topic.dead_letter.name',
      'google_pubsub_subscription.worker.name',
      'google_pubsub_subscription.dead_letter_keep.name',
      'google_service_account.sa',
      'google_storage_bucket.recordings.name',
      'google_storage_bucket.source.name',
      'google_cloud_scheduler_job.nightly.name',
      'var.export_env',
    ])
      assert.ok(outputs.includes(ref), ref);
  });
});

/** Resource and data-source addresses and what each refers to (references, depends_on, locals). */
function dependencyGraph(docs: Hcl[], all: Block): Map<string, Set<string>> {
  const REF = /\b(data\.)?((?:google|time|archive)_[a-z0-9_]+)\.([a-z0-9_]+)/g;
  const localRefs = (text: string, seen: Set<string>): string[] =>
    [...text.matchAll(/\blocal\.([a-z_]+)/g)].flatMap(([, name]) => {
      if (seen.has(name!)) return [];
      seen.add(name!);
      const value = JSON.stringify(all[name!] ?? '');
      return [value, ...localRefs(value, seen)];
    });
  const refs = (body: Block): Set<string> => {
    const text = JSON.stringify(body);
    const texts = [text, ...localRefs(text, new Set())];
    return new Set(
      texts.flatMap(t => [...t.matchAll(REF)].map(m => `${m[1] ?? ''}${m[2]}.${m[3]}`)),
    );
  };
  const graph = new Map<string, Set<string>>();
  for (const d of docs) {
    for (const [kind, blocks] of [
      ['', d.resource],
      ['data.', d.data],
    ] as const)
      for (const [type, byName] of Object.entries(blocks ?? {}))
        for (const [name, [body]] of Object.entries(byName))
          graph.set(`${kind}${type}.${name}`, refs(body!));
  }
  return graph;
}
