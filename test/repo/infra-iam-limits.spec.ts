/**
 * IAM's limits on what infra/ grants, checked offline: every condition
 * expression any resource of infra/ declares, rendered with the example
 * deployment's values and with the longest values the variables accept,
 * holds at most as many logical operators and characters as IAM takes, and
 * the recordings bucket's allow policy stays within the documented number of
 * conditional role bindings (per policy, and per role and principal) and
 * principals. infra/README.md ("Limits of IAM Conditions") says where each
 * number comes from.
 */
import * as assert from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {evaluate, logicalOperators} from '../../functions/core/iam-conditions';
import {
  Block,
  Hcl,
  interpolate,
  loadInfra,
  locals,
  parseHcl,
  resources,
} from '../../local/iam/terraform';

const ROOT = path.join(__dirname, '..', '..');

/** What IAM takes (infra/README.md, "Limits of IAM Conditions"). */
export const LIMITS = {
  /** &&, || and ! in one condition expression. */
  logicalOperators: 12,
  /** Characters of one expression: a budget, well inside what IAM takes (see the README). */
  expressionChars: 2048,
  /** Conditional role bindings in one allow policy (Google's best practice, for the policy's size). */
  conditionalBindings: 100,
  /** Role bindings of one role and one principal that differ only by their condition. */
  bindingsPerRoleAndPrincipal: 20,
  /** Principals in one allow policy, each appearance counted. */
  principals: 1500,
} as const;

/** The example deployment (terraform.tfvars.example) and the longest values the variables accept. */
interface Deployment {
  name: string;
  values: Record<string, string>;
}

/** Operators and archive readers of a plausible deployment. */
const MEMBERS: Record<string, string[]> = {
  'var.operator_members': [
    'group:contact-center-ops@example.com',
    'user:ana@example.com',
    'user:ben@example.com',
  ],
  'var.archive_reader_members': ['group:archive-auditors@example.com'],
};

export interface Condition {
  /** The resource (and instance) that declares it. */
  where: string;
  expression: string;
}

const isMap = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** The instances of a for_each over a map of locals, as [key, value]. */
function mapInstances(forEach: string, all: Block): Array<[string, unknown]> {
  const maps = [...forEach.matchAll(/\blocal\.([a-z_]+)/g)]
    .map(m => m[1]!)
    .filter(n => isMap(all[n]));
  return maps.flatMap(n => Object.entries(all[n] as Record<string, unknown>));
}

/**
 * Every condition expression infra/ declares, rendered: conditions written
 * out, and those of a for_each over a map of locals (each.value.when,
 * each.value), one per instance. Anything else fails the test, so that a
 * new kind of condition is read here before it is deployed.
 */
export function conditions(docs: Hcl[], values: Record<string, string>): Condition[] {
  const all = locals(docs);
  const out: Condition[] = [];
  for (const [type, name, body] of resources(docs)) {
    if (isMap(body.dynamic) && 'condition' in body.dynamic)
      throw new Error(`${type}.${name}: a dynamic condition block; teach this test to read it`);
    for (const block of (body.condition as Array<{expression: string}> | undefined) ?? []) {
      const expr = block.expression;
      if (!/\beach\./.test(expr)) {
        out.push({where: `${type}.${name}`, expression: interpolate(expr, values, all)});
        continue;
      }
      const instances = mapInstances(String(body.for_each), all);
      if (instances.length === 0)
        throw new Error(`${type}.${name}: cannot list the instances of ${String(body.for_each)}`);
      for (const [key, value] of instances) {
        const text =
          expr === '${each.value.when}' && isMap(value)
            ? String(value.when)
            : expr === '${each.value}' && typeof value === 'string'
              ? value
              : undefined;
        if (text === undefined) throw new Error(`${type}.${name}: cannot read ${expr}`);
        out.push({where: `${type}.${name}["${key}"]`, expression: interpolate(text, values, all)});
      }
    }
  }
  return out;
}

/** What breaks a limit in one expression, in words; empty when it is within them all. */
export function overLimits(expression: string): string[] {
  const problems: string[] = [];
  const operators = logicalOperators(expression);
  if (operators > LIMITS.logicalOperators)
    problems.push(`${operators} logical operators (IAM takes ${LIMITS.logicalOperators})`);
  if (expression.length > LIMITS.expressionChars)
    problems.push(`${expression.length} characters (the budget is ${LIMITS.expressionChars})`);
  return problems;
}

export interface Binding {
  role: string;
  member: string;
  /** '' without a condition. */
  expression: string;
}

/**
 * The recordings bucket's allow policy as infra/ writes it, one entry per
 * role, principal and condition: the grants of google_storage_bucket_iam_member
 * and google_storage_bucket_iam_binding on the bucket, with the members
 * of MEMBERS for the variables that list people.
 */
export function bucketPolicy(docs: Hcl[], values: Record<string, string>): Binding[] {
  const all = locals(docs);
  const rendered = new Map(conditions(docs, values).map(c => [c.where, c.expression]));
  const out: Binding[] = [];
  for (const [type, name, body] of resources(docs)) {
    if (!/^google_storage_bucket_iam_(member|binding)$/.test(type)) continue;
    if (body.bucket !== '${google_storage_bucket.recordings.name}') continue;
    const forEach = body.for_each === undefined ? undefined : String(body.for_each);
    const list = forEach && Object.keys(MEMBERS).find(v => forEach.includes(v));
    const instances: Array<[string, unknown]> =
      forEach === undefined
        ? [['', undefined]]
        : list
          ? MEMBERS[list]!.map(m => [m, m])
          : mapInstances(forEach, all);
    if (instances.length === 0) throw new Error(`${type}.${name}: no instance to read`);
    for (const [key, value] of instances) {
      const v = isMap(value) ? value : {};
      const role = body.role === '${each.value.role}' ? String(v.role) : String(body.role);
      const members =
        type === 'google_storage_bucket_iam_binding'
          ? body.members === '${each.value}'
            ? (value as string[])
            : (body.members as string[])
          : [
              body.member === '${each.value}'
                ? String(value)
                : body.member === '${google_service_account.sa[each.value.sa].member}'
                  ? `serviceAccount:${String(v.sa)}`
                  : String(body.member),
            ];
      const where = forEach === undefined ? `${type}.${name}` : `${type}.${name}["${key}"]`;
      const expression =
        'condition' in body ? (rendered.get(where) ?? rendered.get(`${type}.${name}`)) : '';
      if (expression === undefined) throw new Error(`${where}: its condition was not rendered`);
      for (const member of members) out.push({role, member, expression});
    }
  }
  return out;
}

describe('infra/ within IAM limits (conditions, bindings, principals)', () => {
  let docs: Hcl[];
  let deployments: Deployment[];

  before(async () => {
    docs = await loadInfra();
    const example = await parseHcl<Record<string, string>>(
      'example.tfvars',
      fs.readFileSync(path.join(ROOT, 'infra', 'terraform.tfvars.example'), 'utf8'),
    );
    deployments = [
      {
        name: 'terraform.tfvars.example',
        values: {
          'var.export_env': example.export_env!,
          'google_storage_bucket.recordings.name': example.bucket_name!,
          'var.region': example.region!,
          'data.google_project.this.number': '123456789012',
        },
      },
      {
        // bucket_name and export_env at the 63 characters their validations allow.
        name: 'the longest names',
        values: {
          'var.export_env': `e${'x'.repeat(62)}`,
          'google_storage_bucket.recordings.name': `b${'u'.repeat(61)}b`,
          'var.region': 'northamerica-northeast2',
          'data.google_project.this.number': '9'.repeat(13),
        },
      },
    ];
  });

  it('should read every condition infra/ declares', () => {
    const found = conditions(docs, deployments[0]!.values).map(c => c.where);
    // The functions' grants, the worker's retention grants, the operators', the BigLake
    // connection's, and the build's project-level one.
    for (const where of [
      'google_storage_bucket_iam_member.functions["worker_replaces_bookkeeping"]',
      'google_storage_bucket_iam_member.worker_sets_retention["metadata"]',
      'google_storage_bucket_iam_member.operator_reads',
      'google_storage_bucket_iam_member.operator_waives',
      'google_storage_bucket_iam_member.bigquery_reads_index',
      'google_project_iam_member.build_reads_sources',
    ])
      assert.ok(found.includes(where), `${where} not among ${found.join(', ')}`);
    // One per grant of the functions, per kind of object the worker retains, and the four above.
    const all = locals(docs);
    assert.strictEqual(
      found.length,
      Object.keys(all.bucket_grants as Block).length +
        Object.keys(all.retained as Block).length +
        4,
      found.join('\n'),
    );
  });

  it('should keep every condition within IAM limits, for the example deployment and the longest names', () => {
    for (const {name, values} of deployments)
      for (const c of conditions(docs, values)) {
        assert.deepStrictEqual(
          overLimits(c.expression),
          [],
          `${name}: ${c.where}: ${c.expression}`,
        );
        // and it is one the evaluator of infra-iam.spec.ts can read (its syntax is CEL's subset).
        evaluate(c.expression, {
          name: 'projects/_/buckets/b',
          type: 'storage.googleapis.com/Bucket',
        });
      }
  });

  it('should count operators, not the characters of names that look like them', () => {
    assert.strictEqual(logicalOperators('resource.name.startsWith("a&&b||!c")'), 0);
    assert.strictEqual(
      logicalOperators(
        '!(resource.name.endsWith("/a") || resource.name.endsWith("/b")) && resource.type != "x"',
      ),
      3,
    );
    const thirteenOperators = Array.from(
      {length: 14},
      (_, i) => `resource.name.endsWith("/${i}")`,
    ).join(' || ');
    assert.deepStrictEqual(overLimits(thirteenOperators), ['13 logical operators (IAM takes 12)']);
    assert.match(overLimits(`resource.name.startsWith("${'x'.repeat(2100)}")`)[0]!, /characters/);
  });

  it("should keep the recordings bucket's allow policy within IAM's binding and principal limits", () => {
    for (const {name, values} of deployments) {
      const policy = bucketPolicy(docs, values);
      const conditional = new Set(
        policy.filter(b => b.expression !== '').map(b => `${b.role}\n${b.expression}`),
      );
      assert.ok(conditional.size >= 15, `${name}: ${conditional.size} conditional bindings read`);
      assert.ok(conditional.size <= LIMITS.conditionalBindings, `${name}: ${conditional.size}`);
      const perRoleAndPrincipal = new Map<string, Set<string>>();
      for (const b of policy.filter(b => b.expression !== '')) {
        const key = `${b.role} ${b.member}`;
        perRoleAndPrincipal.set(key, (perRoleAndPrincipal.get(key) ?? new Set()).add(b.expression));
      }
      for (const [key, expressions] of perRoleAndPrincipal)
        assert.ok(
          expressions.size <= LIMITS.bindingsPerRoleAndPrincipal,
          `${key}: ${expressions.size}`,
        );
      // The worker's retention role: one binding per kind of object it retains.
      assert.strictEqual(
        perRoleAndPrincipal.get(
          '${google_project_iam_custom_role.set_retention[0].name} ${google_service_account.sa["worker"].member}',
        )?.size,
        6,
      );
      assert.ok(policy.length <= LIMITS.principals, `${name}: ${policy.length} principals`);
    }
  });
});
