/**
 * The Terraform, checked offline (no Google provider can be downloaded here):
 * it parses, and it agrees with the code — entry points with what
 * functions/ registers, environment variables with what config.ts reads,
 * the scheduler calling the planner with OIDC, and the worker's push
 * subscription carrying a retry policy and a dead-letter topic.
 */
import * as assert from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.join(__dirname, '..', '..');
type Block = Record<string, unknown>;
type Hcl = {
  resource?: Record<string, Record<string, Block[]>>;
  locals?: Block[];
  variable?: Record<string, Block[]>;
};

async function loadInfra(): Promise<Hcl[]> {
  const {parse} = require('@cdktf/hcl2json') as {
    parse: (name: string, src: string) => Promise<Hcl>;
  };
  const dir = path.join(ROOT, 'infra');
  const files = fs.readdirSync(dir).filter(f => f.endsWith('.tf'));
  return Promise.all(files.map(f => parse(f, fs.readFileSync(path.join(dir, f), 'utf8'))));
}

function resource(docs: Hcl[], type: string, name: string): Block {
  for (const d of docs) {
    const found = d.resource?.[type]?.[name]?.[0];
    if (found) return found;
  }
  throw new Error(`no resource ${type}.${name}`);
}

function registeredFunctions(): string[] {
  const dir = path.join(ROOT, 'functions', 'entrypoints');
  return fs
    .readdirSync(dir)
    .flatMap(f =>
      [
        ...fs
          .readFileSync(path.join(dir, f), 'utf8')
          .matchAll(/functions\.(?:http|cloudEvent)\('([A-Za-z]+)'/g),
      ].map(m => m[1]!),
    );
}

function configVariables(): Set<string> {
  const src = fs.readFileSync(path.join(ROOT, 'functions', 'config.ts'), 'utf8');
  return new Set(
    [...src.matchAll(/(?:str|int|oneOf)\('([A-Z_]+)'|env\.([A-Z_]+)/g)].map(m => (m[1] ?? m[2])!),
  );
}

describe('infra/ (Terraform)', () => {
  let docs: Hcl[];
  before(async () => {
    docs = await loadInfra();
  });

  it('should deploy every registered function on nodejs22 with its entry point', () => {
    const entryPoints = docs
      .flatMap(d => Object.values(d.resource?.google_cloudfunctions2_function ?? {}))
      .map(([fn]) => fn as {build_config: Array<{runtime: string; entry_point: string}>})
      .map(fn => fn.build_config[0]!);
    for (const bc of entryPoints) assert.strictEqual(bc.runtime, 'nodejs22');
    const locals = JSON.stringify(docs.flatMap(d => d.locals ?? []));
    for (const name of registeredFunctions())
      assert.ok(locals.includes(`"entry_point":"${name}"`), `${name} is not deployed`);
  });

  it('should set only environment variables the code reads, including the required ones', () => {
    const env = docs.flatMap(d => d.locals ?? []).find(l => 'function_env' in l)!
      .function_env as Record<string, string>;
    const known = configVariables();
    known.add('LOG_EXECUTION_ID'); // read by the Functions Framework
    for (const key of Object.keys(env))
      assert.ok(known.has(key), `${key} is set by Terraform but never read`);
    for (const required of [
      'GOOGLE_CLOUD_PROJECT',
      'BUCKET',
      'EXPORT_ENV',
      'DEVELOPER_EMAILS',
      'MAIL_FROM',
      'SENDGRID_KEY_SECRET',
    ])
      assert.ok(required in env, `${required} is not set`);
  });

  it('should have Cloud Scheduler call the planner with an OIDC token for its URL', () => {
    const job = resource(docs, 'google_cloud_scheduler_job', 'nightly') as {
      http_target: Array<{uri: string; oidc_token: Array<{audience: string}>}>;
    };
    const target = job.http_target[0]!;
    assert.match(target.uri, /google_cloudfunctions2_function\.fn\["planner"\]/);
    assert.strictEqual(target.oidc_token[0]!.audience, target.uri);
  });

  it('should push batches to the worker with a retry policy and a dead-letter topic', () => {
    const sub = resource(docs, 'google_pubsub_subscription', 'worker') as {
      push_config: Array<{push_endpoint: string; oidc_token: unknown[]}>;
      retry_policy: unknown[];
      dead_letter_policy: Array<{dead_letter_topic: string}>;
    };
    assert.match(
      sub.push_config[0]!.push_endpoint,
      /google_cloudfunctions2_function\.fn\["worker"\]/,
    );
    assert.match(sub.push_config[0]!.push_endpoint, /\/projects\/.*\/topics\//);
    assert.strictEqual(sub.push_config[0]!.oidc_token.length, 1);
    assert.strictEqual(sub.retry_policy.length, 1);
    assert.match(sub.dead_letter_policy[0]!.dead_letter_topic, /google_pubsub_topic\.dead_letter/);
  });

  it('should give each function its own service account and grant access on resources, not the project', () => {
    const fn = resource(docs, 'google_cloudfunctions2_function', 'fn') as {
      service_config: Array<{service_account_email: string}>;
    };
    assert.strictEqual(fn.service_config[0]!.service_account_email, '${each.value.sa}');
    const locals = JSON.stringify(docs.flatMap(d => d.locals ?? []));
    assert.ok(
      locals.includes('"sa":"${google_service_account.planner.email}"'),
      'the planner runs as its own account',
    );
    assert.ok(
      locals.includes('"sa":"${google_service_account.worker.email}"'),
      'the worker runs as its own account',
    );
    assert.ok(
      locals.includes('"sa":"${google_service_account.checker.email}"'),
      'the checker runs as its own account',
    );
    // Project-level roles: logs and metrics for the functions, and the two
    // that Eventarc's Cloud Storage triggers exist only at that level for.
    const projectRoles = docs
      .flatMap(d => Object.values(d.resource?.google_project_iam_member ?? {}))
      .map(([b]) => b as {role: string; member: string});
    for (const {role, member} of projectRoles) {
      const allowed =
        ['roles/logging.logWriter', 'roles/monitoring.metricWriter'].includes(role) ||
        (role === 'roles/eventarc.eventReceiver' &&
          member === '${google_service_account.eventarc.member}') ||
        (role === 'roles/pubsub.publisher' &&
          member.includes('google_storage_project_service_account'));
      assert.ok(allowed, `${role} for ${member}`);
    }
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
    assert.match(trigger.for_each, /each\.value\.storage_trigger/);
    const c = trigger.content[0]!;
    assert.strictEqual(c.event_type, 'google.cloud.storage.object.v1.finalized');
    assert.strictEqual(c.retry_policy, 'RETRY_POLICY_RETRY');
    assert.deepStrictEqual(c.event_filters, [
      {attribute: 'bucket', value: '${google_storage_bucket.recordings.name}'},
    ]);
    const locals = docs.flatMap(d => d.locals ?? []).find(l => 'functions' in l)!
      .functions as Record<string, {storage_trigger: boolean; invoker: string}>;
    assert.deepStrictEqual(
      Object.entries(locals)
        .filter(([, f]) => f.storage_trigger)
        .map(([k]) => k),
      ['checker'],
    );
    assert.strictEqual(locals.checker!.invoker, '${google_service_account.eventarc.member}');
  });

  it('should let only the planner and the checker read the SendGrid key', () => {
    const grant = resource(docs, 'google_secret_manager_secret_iam_member', 'sendgrid_api_key') as {
      for_each: Record<string, string>;
    };
    assert.deepStrictEqual(grant.for_each, {
      checker: '${google_service_account.checker.member}',
      planner: '${google_service_account.planner.member}',
    });
  });
});
