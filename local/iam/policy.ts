/**
 * The IAM that infra/*.tf declares, read from the Terraform files themselves
 * for one set of variable values: every `*_iam_member` grant on the bucket,
 * the secrets, the functions (Cloud Run services), the topics and
 * subscriptions and the project, with its condition, and the custom roles.
 * The local stand-ins authorize each request against it (./authorize.ts), so
 * a permission the code needs and infra/ forgets fails on the local stack.
 */
import {Block, Hcl, loadInfra, locals as allLocals, INFRA} from './terraform';
import {
  asString,
  EvalError,
  evaluateRaw,
  forEachInstances,
  member as memberOf,
  Raw,
  Scope,
  Value,
} from './hcl-eval';

/** What kind of resource a grant is on, and the attribute of the IAM resource that names it. */
const GRANT_TYPES = {
  google_storage_bucket_iam_member: {kind: 'bucket', target: 'bucket'},
  google_storage_bucket_iam_binding: {kind: 'bucket', target: 'bucket'},
  google_secret_manager_secret_iam_member: {kind: 'secret', target: 'secret_id'},
  google_cloud_run_service_iam_member: {kind: 'service', target: 'service'},
  google_pubsub_topic_iam_member: {kind: 'topic', target: 'topic'},
  google_pubsub_subscription_iam_member: {kind: 'subscription', target: 'subscription'},
  google_project_iam_member: {kind: 'project', target: 'project'},
} as const;

export type GrantKind = (typeof GRANT_TYPES)[keyof typeof GRANT_TYPES]['kind'];

export interface Grant {
  /** The Terraform address, e.g. `google_storage_bucket_iam_member.functions["worker_reads"]`. */
  address: string;
  kind: GrantKind;
  /** The bucket, secret id, service, topic, subscription or project it is on. */
  target: string;
  role: string;
  member: string;
  condition?: {title: string; expression: string};
}

export interface PolicyInputs {
  project: string;
  bucket: string;
  /** EXPORT_ENV: the bucket folder the functions are confined to. */
  env: string;
  /** infra/'s `prefix` variable (default grm). */
  prefix?: string;
  region?: string;
  operatorMembers?: string[];
  archiveReaderMembers?: string[];
  retentionDays?: number;
  /** Any other variable the evaluated grants read. */
  vars?: Record<string, unknown>;
}

export interface LocalPolicy {
  project: string;
  bucket: string;
  env: string;
  /** Service accounts infra/ creates, by their key in `local.service_accounts` → email. */
  identities: Record<string, string>;
  /** Secret ids infra/ creates, by their key in `local.secrets`. */
  secrets: Record<string, string>;
  /** Function (Cloud Run service) names, by their key in `local.functions`. */
  services: Record<string, string>;
  /** Custom roles: full name (`projects/P/roles/ID`) → permissions. */
  customRoles: Record<string, string[]>;
  grants: Grant[];
}

/** The local project's number, where infra/ names a Google-managed service agent by it. */
export const PROJECT_NUMBER = '100000000001';

/** The variables infra/ requires without a default, as a deployment would set them locally. */
const REQUIRED_VARS = {region: 'europe-west1'};

/** Every `variable` block's default, as infra/ declares it. */
function defaults(docs: Hcl[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const d of docs)
    for (const [name, [body]] of Object.entries(d.variable ?? {}))
      if (body && 'default' in body) out[name] = body.default;
  return out;
}

/** Reads infra/ (or a copy of it, `dir`) for these variable values. */
export async function loadPolicy(inputs: PolicyInputs, dir = INFRA): Promise<LocalPolicy> {
  return policyFrom(await loadInfra(dir), inputs);
}

function listOfStrings(v: Value, what: string, scope: Scope): string[] {
  const list = v instanceof Raw ? v.value : v;
  if (!Array.isArray(list)) throw new EvalError(`${what} is not a list`);
  return list.map(x => asString(evaluateRaw(x, scope), what));
}

export function policyFrom(docs: Hcl[], inputs: PolicyInputs): LocalPolicy {
  const vars: Record<string, unknown> = {
    ...REQUIRED_VARS,
    ...defaults(docs),
    ...(inputs.vars ?? {}),
    project_id: inputs.project,
    bucket_name: inputs.bucket,
    export_env: inputs.env,
    ...(inputs.prefix !== undefined ? {prefix: inputs.prefix} : {}),
    ...(inputs.region !== undefined ? {region: inputs.region} : {}),
    ...(inputs.operatorMembers ? {operator_members: inputs.operatorMembers} : {}),
    ...(inputs.archiveReaderMembers ? {archive_reader_members: inputs.archiveReaderMembers} : {}),
    ...(inputs.retentionDays !== undefined ? {retention_days: inputs.retentionDays} : {}),
  };
  const project = inputs.project;
  const index = new Map<string, Block>();
  for (const d of docs) {
    for (const [type, byName] of Object.entries(d.resource ?? {}))
      for (const [name, [body]] of Object.entries(byName)) index.set(`${type}.${name}`, body!);
    for (const [type, byName] of Object.entries(d.data ?? {}))
      for (const [name, [body]] of Object.entries(byName)) index.set(`data.${type}.${name}`, body!);
  }
  const locals = allLocals(docs) as Record<string, unknown>;

  const scope = (extra: Partial<Scope> = {}): Scope => ({vars, locals, resource, ...extra});
  const str = (raw: unknown, s: Scope, what: string) => asString(evaluateRaw(raw, s), what);

  /** The scope of one instance of a resource: `each` for a for_each key, `count` for an index. */
  function instanceScope(body: Block, key: string | number | undefined, what: string): Scope {
    if (body.for_each !== undefined) {
      if (key === undefined) throw new EvalError(`${what} needs a for_each key`);
      const found = forEachInstances(evaluateRaw(body.for_each, scope()), what, scope()).find(
        e => e.key === String(key),
      );
      if (!found) throw new EvalError(`${what}[${JSON.stringify(key)}] is not an instance`);
      return scope({each: found});
    }
    if (body.count !== undefined) return scope({count: typeof key === 'number' ? key : 0});
    return scope();
  }

  /** `TYPE.NAME[key].attr` of the resources whose names and members grants use. */
  function resource(path: Array<string | number>): Value {
    const isData = path[0] === 'data';
    const [type, name, ...rest] = (isData ? path.slice(1) : path).map(String);
    const address = `${isData ? 'data.' : ''}${type}.${name}`;
    const body = index.get(address);
    if (!body) throw new EvalError(`no resource ${address}`);
    const keyed = body.for_each !== undefined || body.count !== undefined;
    const key = keyed ? (isData ? path[3] : path[2]) : undefined;
    const attrs = keyed ? rest.slice(1) : rest;
    const s = instanceScope(body, key, address);
    const attr = attrs[0];
    const value = attribute(type!, body, attr, s, address);
    return attrs.slice(1).reduce<Value>((v, k) => memberOf(v, k, address, s), value);
  }

  function attribute(
    type: string,
    body: Block,
    attr: string | undefined,
    s: Scope,
    address: string,
  ): Value {
    const own = (k: string) => str(body[k], s, `${address}.${k}`);
    switch (`${type}.${attr}`) {
      case 'google_service_account.email':
        return `${own('account_id')}@${project}.iam.gserviceaccount.com`;
      case 'google_service_account.member':
        return `serviceAccount:${own('account_id')}@${project}.iam.gserviceaccount.com`;
      case 'google_service_account.id':
      case 'google_service_account.name':
        return `projects/${project}/serviceAccounts/${own('account_id')}@${project}.iam.gserviceaccount.com`;
      case 'google_storage_bucket.name':
      case 'google_cloudfunctions2_function.name':
      case 'google_pubsub_topic.name':
      case 'google_pubsub_subscription.name':
        return own('name');
      case 'google_pubsub_topic.id':
        return `projects/${project}/topics/${own('name')}`;
      case 'google_pubsub_subscription.id':
        return `projects/${project}/subscriptions/${own('name')}`;
      case 'google_secret_manager_secret.secret_id':
        return own('secret_id');
      case 'google_secret_manager_secret.id':
        return `projects/${project}/secrets/${own('secret_id')}`;
      case 'google_project_iam_custom_role.name':
      case 'google_project_iam_custom_role.id':
        return `projects/${project}/roles/${own('role_id')}`;
      case 'google_project_service_identity.email':
        return `service-${PROJECT_NUMBER}@gcp-sa-${own('service').split('.')[0]}.iam.gserviceaccount.com`;
      case 'google_project.number':
        return PROJECT_NUMBER;
      case 'google_storage_project_service_account.email_address':
        return `service-${PROJECT_NUMBER}@gs-project-accounts.iam.gserviceaccount.com`;
      default:
        throw new EvalError(`${address}.${attr} is not read here`);
    }
  }

  /** Each instance of a resource: for_each entries, count indexes, or itself. */
  function instances(body: Block, address: string): Array<{suffix: string; s: Scope}> {
    if (body.for_each !== undefined)
      return forEachInstances(evaluateRaw(body.for_each, scope()), address, scope()).map(e => ({
        suffix: `[${JSON.stringify(e.key)}]`,
        s: scope({each: e}),
      }));
    if (body.count !== undefined) {
      const n = evaluateRaw(body.count, scope());
      if (typeof n !== 'number') throw new EvalError(`${address}.count is not a number`);
      return Array.from({length: n}, (_, i) => ({suffix: `[${i}]`, s: scope({count: i})}));
    }
    return [{suffix: '', s: scope()}];
  }

  const grants: Grant[] = [];
  const customRoles: Record<string, string[]> = {};
  for (const d of docs) {
    for (const [type, byName] of Object.entries(d.resource ?? {})) {
      for (const [name, [body]] of Object.entries(byName)) {
        const address = `${type}.${name}`;
        if (type === 'google_project_iam_custom_role') {
          for (const {s} of instances(body!, address)) {
            const perms = evaluateRaw(body!.permissions, s);
            const list = perms instanceof Raw ? (perms.value as unknown[]) : perms;
            if (!Array.isArray(list)) throw new EvalError(`${address}.permissions is not a list`);
            customRoles[`projects/${project}/roles/${str(body!.role_id, s, address)}`] = list.map(
              p => str(p, s, `${address}.permissions`),
            );
          }
          continue;
        }
        const grantType = GRANT_TYPES[type as keyof typeof GRANT_TYPES];
        if (!grantType) continue;
        for (const {suffix, s} of instances(body!, address)) {
          const where = `${address}${suffix}`;
          const condition = (body!.condition as Block[] | undefined)?.[0];
          // An `_iam_binding` holds a role for a list of members (authoritatively for that role).
          const members =
            body!.members === undefined
              ? [str(body!.member, s, `${where}.member`)]
              : listOfStrings(evaluateRaw(body!.members, s), `${where}.members`, s);
          for (const member of members)
            grants.push({
              address: where,
              kind: grantType.kind,
              target: str(body![grantType.target], s, `${where}.${grantType.target}`),
              role: str(body!.role, s, `${where}.role`),
              member,
              ...(condition
                ? {
                    condition: {
                      title: str(condition.title, s, `${where}.condition.title`),
                      expression: str(condition.expression, s, `${where}.condition.expression`),
                    },
                  }
                : {}),
            });
        }
      }
    }
  }

  const keyed = (type: string, name: string, attr: string): Record<string, string> => {
    const body = index.get(`${type}.${name}`);
    if (!body) throw new EvalError(`no resource ${type}.${name}`);
    return Object.fromEntries(
      instances(body, `${type}.${name}`).map(({suffix}) => {
        const key = JSON.parse(suffix.slice(1, -1)) as string;
        return [key, asString(resource([type, name, key, attr]), `${type}.${name}.${attr}`)];
      }),
    );
  };

  return {
    project,
    bucket: inputs.bucket,
    env: inputs.env,
    identities: keyed('google_service_account', 'sa', 'email'),
    secrets: keyed('google_secret_manager_secret', 'secret', 'secret_id'),
    services: keyed('google_cloudfunctions2_function', 'fn', 'name'),
    customRoles,
    grants,
  };
}
