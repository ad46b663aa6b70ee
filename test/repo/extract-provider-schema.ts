/**
 * Writes test/repo/terraform-provider-schema.json, the offline stand-in for
 * `terraform validate` (no provider can be downloaded here): the providers'
 * own schemas, read from the jsii assemblies (.jsii) of the cdktf prebuilt
 * providers on npm. Every resource and data source type name of each
 * provider, and the full argument/block schema of the types infra/ uses plus
 * the ones listed in WANTED. Run with `npm run infra:schema`.
 */
import {execFileSync} from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  providerOf,
  type Hcl,
  type ProviderSchema,
  type SchemaFile,
  type TypeSchema,
} from './terraform-schema';

const ROOT = path.join(__dirname, '..', '..');
const OUT = path.join(__dirname, 'terraform-provider-schema.json');

const PACKAGES: Record<string, string> = {
  google: '@cdktf/provider-google@16.12.1',
  'google-beta': '@cdktf/provider-google-beta@16.12.1',
  archive: '@cdktf/provider-archive@11.0.1',
  time: '@cdktf/provider-time@11.0.1',
};

/** Types extracted whether or not infra/ uses them yet: "resource.type" or "data.type". */
const WANTED: Record<string, string[]> = {
  google: [
    ...[
      'project_service',
      'service_account',
      'project_iam_member',
      'project_iam_custom_role',
      'project_iam_audit_config',
      'storage_bucket',
      'storage_bucket_object',
      'storage_bucket_iam_member',
      'storage_bucket_iam_binding',
      'pubsub_topic',
      'pubsub_subscription',
      'pubsub_topic_iam_member',
      'pubsub_subscription_iam_member',
      'secret_manager_secret',
      'secret_manager_secret_iam_member',
      'cloudfunctions2_function',
      'cloud_run_service_iam_member',
      'cloud_run_v2_service_iam_member',
      'cloud_scheduler_job',
      'artifact_registry_repository',
      'artifact_registry_repository_iam_member',
      'service_account_iam_member',
      'logging_metric',
      'monitoring_alert_policy',
      'monitoring_dashboard',
      'monitoring_notification_channel',
      'kms_crypto_key_iam_member',
      'bigquery_dataset',
      'bigquery_dataset_iam_member',
      'bigquery_table',
      'bigquery_connection',
      'storage_notification',
      'eventarc_google_channel_config',
    ].map(t => `resource.google_${t}`),
    ...[
      'project',
      'storage_project_service_account',
      'client_config',
      'client_openid_userinfo',
    ].map(t => `data.google_${t}`),
  ],
  'google-beta': ['resource.google_project_service_identity'],
  archive: ['data.archive_file'],
  time: ['resource.time_sleep'],
};

// The subset of a jsii assembly this script reads.
type JsiiType = {
  fqn: string;
  kind: string;
  base?: string;
  datatype?: boolean;
  docs?: {summary?: string};
  initializer?: {parameters?: Array<{type: {fqn?: string}}>};
  properties?: Property[];
};
type Property = {name: string; optional?: boolean; static?: boolean; type: TypeRef; docs?: object};
type TypeRef = {
  fqn?: string;
  primitive?: string;
  collection?: {kind: string; elementtype: TypeRef};
  union?: {types: TypeRef[]};
};

/** `npm pack` each package into a temp dir and read only its package/.jsii. */
function loadAssembly(pkg: string, dir: string): Record<string, JsiiType> {
  const out = execFileSync(
    'npm',
    ['pack', pkg, '--json', '--loglevel=error', '--pack-destination', dir],
    {cwd: dir, encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'inherit']},
  );
  const [{filename}] = JSON.parse(out) as [{filename: string}];
  const into = fs.mkdtempSync(path.join(dir, 'x-'));
  execFileSync('tar', ['-xzf', path.join(dir, filename), '-C', into, 'package/.jsii']);
  const jsii = JSON.parse(fs.readFileSync(path.join(into, 'package', '.jsii'), 'utf8')) as {
    types: Record<string, JsiiType>;
  };
  fs.rmSync(into, {recursive: true});
  fs.rmSync(path.join(dir, filename));
  return jsii.types;
}

const snake = (camel: string) => camel.replace(/[A-Z]/g, c => `_${c.toLowerCase()}`);

/** The Terraform name from the property's registry link (`…#entry_point …`); cdktf renames some. */
function tfName(p: Property): string {
  const link = /\{@link https:\/\/registry\.terraform\.io\/[^\s#}]*#([A-Za-z0-9_]+)[\s}]/.exec(
    JSON.stringify(p.docs ?? {}),
  );
  return link?.[1] ?? snake(p.name);
}

/** The struct a nested block is made of, and whether it is a single (max 1) block. */
function blockOf(
  t: TypeRef,
  types: Record<string, JsiiType>,
): {fqn: string; single: boolean} | null {
  const isStruct = (r: TypeRef) => r.fqn !== undefined && types[r.fqn]?.datatype === true;
  if (isStruct(t)) return {fqn: t.fqn!, single: true};
  for (const u of t.union?.types ?? []) {
    const el = u.collection?.elementtype;
    if (u.collection?.kind === 'array' && el && isStruct(el)) return {fqn: el.fqn!, single: false};
  }
  return null;
}

function structSchema(fqn: string, types: Record<string, JsiiType>): TypeSchema {
  const schema: TypeSchema = {arguments: {}, blocks: {}};
  for (const p of types[fqn]?.properties ?? []) {
    const required = !p.optional;
    const block = blockOf(p.type, types);
    if (block)
      schema.blocks[tfName(p)] = {
        required,
        ...(block.single ? {max: 1 as const} : {}),
        schema: structSchema(block.fqn, types),
      };
    else if (JSON.stringify(p.type).includes('"fqn":"@cdktf/'))
      throw new Error(`${fqn}.${p.name}: unexpected type ${JSON.stringify(p.type)}`);
    else schema.arguments[tfName(p)] = {required};
  }
  return schema;
}

type Found = {kind: 'resource' | 'data' | 'provider'; name: string; cls: JsiiType; config: string};

/** Resource, data source and provider classes, named by their registry link. */
function terraformClasses(types: Record<string, JsiiType>): {found: Found[]; url: string} {
  const kinds: Record<string, Found['kind']> = {
    'cdktf.TerraformResource': 'resource',
    'cdktf.TerraformDataSource': 'data',
    'cdktf.TerraformProvider': 'provider',
  };
  const found: Found[] = [];
  let url = '';
  for (const cls of Object.values(types)) {
    const kind = kinds[cls.base ?? ''];
    const link = /\{@link (\S+) ([\w-]+)\}/.exec(cls.docs?.summary ?? '');
    const config = cls.initializer?.parameters?.[2]?.type.fqn;
    if (!kind) continue;
    if (!link || !config) throw new Error(`${cls.fqn}: no registry link or config struct`);
    if (kind === 'provider') url = link[1]!;
    found.push({kind, name: link[2]!, cls, config});
  }
  return {found, url};
}

/** The class's own properties that are not arguments: the computed attributes. */
function computed(f: Found, types: Record<string, JsiiType>): string[] {
  const args = new Set(
    (types[f.config]?.properties ?? []).flatMap(p => [p.name, `${p.name}Input`]),
  );
  return (f.cls.properties ?? [])
    .filter(p => !p.static && !args.has(p.name))
    .map(p => snake(p.name))
    .sort();
}

function extract(
  pkg: string,
  types: Record<string, JsiiType>,
  wanted: Set<string>,
): ProviderSchema {
  const {found, url} = terraformClasses(types);
  // e.g. https://registry.terraform.io/providers/hashicorp/google/6.50.0/docs
  const m = /providers\/([\w-]+\/[\w-]+)\/([^/]+)\/docs/.exec(url);
  if (!m) throw new Error(`no provider version in ${url}`);
  const schema: ProviderSchema = {
    source: m[1]!,
    version: m[2]!,
    package: pkg,
    resourceTypes: [],
    dataSourceTypes: [],
    provider: {arguments: {}, blocks: {}},
    resources: {},
    dataSources: {},
  };
  for (const f of found) {
    const full = () => ({...structSchema(f.config, types), computed: computed(f, types)});
    if (f.kind === 'provider') schema.provider = structSchema(f.config, types);
    else if (f.kind === 'resource') {
      schema.resourceTypes.push(f.name);
      if (wanted.has(`resource.${f.name}`)) schema.resources[f.name] = full();
    } else {
      schema.dataSourceTypes.push(f.name);
      if (wanted.has(`data.${f.name}`)) schema.dataSources[f.name] = full();
    }
  }
  schema.resourceTypes.sort();
  schema.dataSourceTypes.sort();
  return schema;
}

/** "resource.type"/"data.type" per provider for every type infra/**\/*.tf declares. */
async function usedByInfra(): Promise<Record<string, string[]>> {
  const {parse} = require('@cdktf/hcl2json') as {
    parse: (name: string, src: string) => Promise<Hcl>;
  };
  const dir = path.join(ROOT, 'infra');
  const files = fs
    .readdirSync(dir, {recursive: true, encoding: 'utf8'})
    .filter(f => f.endsWith('.tf'));
  const used: Record<string, string[]> = {};
  for (const f of files) {
    const doc = await parse(f, fs.readFileSync(path.join(dir, f), 'utf8'));
    for (const kind of ['resource', 'data'] as const)
      for (const [type, byName] of Object.entries(doc[kind] ?? {}))
        for (const body of Object.values(byName).flat())
          (used[providerOf(type, body)] ??= []).push(`${kind}.${type}`);
  }
  return used;
}

/** JSON with every object's keys sorted, so that re-running gives no diff. */
function sortedJson(value: unknown): string {
  const sort = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(sort)
      : v && typeof v === 'object'
        ? Object.fromEntries(
            Object.entries(v)
              .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
              .map(([k, x]) => [k, sort(x)]),
          )
        : v;
  return JSON.stringify(sort(value), null, 1) + '\n';
}

async function main(): Promise<void> {
  const used = await usedByInfra();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'provider-schema-'));
  const file: SchemaFile = {generatedBy: 'npm run infra:schema', providers: {}};
  try {
    for (const [name, pkg] of Object.entries(PACKAGES)) {
      const p = extract(
        pkg,
        loadAssembly(pkg, tmp),
        new Set([...WANTED[name]!, ...(used[name] ?? [])]),
      );
      for (const t of WANTED[name]!) {
        const [kind, type] = t.split('.') as [string, string];
        if (!(kind === 'data' ? p.dataSources : p.resources)[type])
          throw new Error(`${pkg} has no ${t}`);
      }
      file.providers[name] = p;
    }
  } finally {
    fs.rmSync(tmp, {recursive: true, force: true});
  }
  const text = sortedJson(file);
  fs.writeFileSync(OUT, text);
  const summary = Object.entries(file.providers).map(
    ([name, p]) =>
      `${name} ${p.version} (${p.resourceTypes.length} resources, ${p.dataSourceTypes.length} data sources, ` +
      `${Object.keys(p.resources).length + Object.keys(p.dataSources).length} with schema)`,
  );
  process.stdout.write(
    `${path.relative(ROOT, OUT)}: ${summary.join('; ')}; ${Math.round(text.length / 1024)} KiB\n`,
  );
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
  process.exitCode = 1;
});
