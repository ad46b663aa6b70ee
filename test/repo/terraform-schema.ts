/**
 * Offline stand-in for `terraform validate`: checks the parsed HCL
 * (@cdktf/hcl2json) of one directory's .tf files against the providers' own
 * schemas in terraform-provider-schema.json (see extract-provider-schema.ts).
 * Reports, in resources, data sources and provider blocks: unknown types,
 * arguments and blocks, missing required ones, blocks and arguments written
 * as each other, repeated single blocks; references to resources that are
 * not declared or attributes they lack; and required_providers pinning
 * another version than the schema's. It does not check values or their
 * types, conflicts between arguments, variables, locals or modules.
 */

export type TypeSchema = {
  arguments: Record<string, {required: boolean}>;
  blocks: Record<string, BlockSchema>;
  /** Attributes that are not arguments (top level only), snake_case guessed from camelCase. */
  computed?: string[];
};
export type BlockSchema = {required: boolean; max?: 1; schema: TypeSchema};
export type ProviderSchema = {
  source: string;
  version: string;
  package: string;
  resourceTypes: string[];
  dataSourceTypes: string[];
  provider: TypeSchema;
  resources: Record<string, TypeSchema>;
  dataSources: Record<string, TypeSchema>;
};
export type SchemaFile = {generatedBy: string; providers: Record<string, ProviderSchema>};

type Body = Record<string, unknown>;
/** One .tf file as @cdktf/hcl2json parses it: every block is an array of bodies. */
export type Hcl = {
  resource?: Record<string, Record<string, Body[]>>;
  data?: Record<string, Record<string, Body[]>>;
  provider?: Record<string, Body[]>;
  [section: string]: unknown;
};

const META = new Set([
  'count',
  'for_each',
  'depends_on',
  'provider',
  'lifecycle',
  'provisioner',
  'connection',
]);
const optional = {required: false};
const CONDITION: TypeSchema = {
  arguments: {condition: {required: true}, error_message: {required: true}},
  blocks: {},
};
const LIFECYCLE: TypeSchema = {
  arguments: {
    create_before_destroy: optional,
    prevent_destroy: optional,
    ignore_changes: optional,
    replace_triggered_by: optional,
  },
  blocks: {
    precondition: {required: false, schema: CONDITION},
    postcondition: {required: false, schema: CONDITION},
  },
};

const isBody = (v: unknown): v is Body => typeof v === 'object' && v !== null && !Array.isArray(v);
const isBlockList = (v: unknown): v is Body[] =>
  Array.isArray(v) && v.length > 0 && v.every(isBody);
const unwrap = (v: string) => v.replace(/^\$\{(.*)\}$/, '$1');

/** The provider (local name) a resource or data source belongs to: `provider = …` or its prefix. */
export function providerOf(type: string, body: Body): string {
  return typeof body.provider === 'string'
    ? unwrap(body.provider).split('.')[0]!
    : type.split('_')[0]!;
}

/** Every problem found in the parsed files (file name → parsed HCL), as "file: address: path: problem". */
export function validateTerraform(files: Record<string, Hcl>, schema: SchemaFile): string[] {
  const problems: string[] = [];
  const declared = new Map<string, {schema?: TypeSchema; repeated: boolean}>();
  for (const [file, doc] of Object.entries(files)) {
    for (const kind of ['resource', 'data'] as const)
      for (const [type, byName] of Object.entries(doc[kind] ?? {}))
        for (const [name, bodies] of Object.entries(byName))
          for (const body of bodies) {
            const address = `${kind === 'data' ? 'data.' : ''}${type}.${name}`;
            const say = (p: string) => problems.push(`${file}: ${address}: ${p}`);
            const found = typeSchema(schema, kind, type, providerOf(type, body));
            if (typeof found === 'string') say(found);
            else checkBody(body, found, '', say, true);
            declared.set(address, {
              schema: typeof found === 'string' ? undefined : found,
              repeated: 'count' in body || 'for_each' in body,
            });
          }
    for (const [name, bodies] of Object.entries(doc.provider ?? {}))
      for (const body of bodies) {
        const say = (p: string) => problems.push(`${file}: provider.${name}: ${p}`);
        const p = schema.providers[name];
        if (!p) say(notCovered(name));
        else checkBody(body, p.provider, '', say, false);
      }
    problems.push(...checkPins(file, doc, schema));
  }
  for (const [file, doc] of Object.entries(files))
    problems.push(...checkReferences(file, doc, declared, Object.keys(schema.providers)));
  return problems;
}

/** `required_providers` pinning a provider to another version than the schema's. */
function checkPins(file: string, doc: Hcl, schema: SchemaFile): string[] {
  const terraform = isBlockList(doc.terraform) ? doc.terraform : [];
  const pins = terraform.flatMap(t =>
    isBlockList(t.required_providers) ? t.required_providers : [],
  );
  return pins.flatMap(pin =>
    Object.entries(pin).flatMap(([name, req]) => {
      const p = schema.providers[name];
      const {source, version} = (isBody(req) ? req : {}) as {source?: string; version?: string};
      const exact = /^=?\s*(\d+\.\d+\.\d+)$/.exec(version ?? '')?.[1];
      const bare = source?.replace(/^registry\.terraform\.io\//i, '').toLowerCase();
      const differs = (bare && bare !== p?.source) || (exact && exact !== p?.version);
      return p && differs
        ? [
            `${file}: terraform.required_providers.${name}: ${source} ${version} but the schema is ` +
              `${p.source} ${p.version}: update PACKAGES in extract-provider-schema.ts and re-run npm run infra:schema`,
          ]
        : [];
    }),
  );
}

function notCovered(provider: string): string {
  return `provider "${provider}" is not covered by terraform-provider-schema.json (add it to extract-provider-schema.ts)`;
}

/** The type's schema, or why there is none. */
function typeSchema(
  schema: SchemaFile,
  kind: 'resource' | 'data',
  type: string,
  provider: string,
): TypeSchema | string {
  const p = schema.providers[provider];
  if (!p) return notCovered(provider);
  const [names, schemas, what] =
    kind === 'resource'
      ? [p.resourceTypes, p.resources, 'resource type']
      : [p.dataSourceTypes, p.dataSources, 'data source'];
  const found = schemas[type];
  if (found) return found;
  const of = `${p.source} ${p.version}`;
  if (names.includes(type))
    return `${type} is a ${what} of ${of} but not in terraform-provider-schema.json: re-run npm run infra:schema`;
  const elsewhere = Object.entries(schema.providers)
    .filter(([, o]) => (kind === 'resource' ? o.resourceTypes : o.dataSourceTypes).includes(type))
    .map(([name]) => `provider = ${name}`);
  return `${type} is not a ${what} of ${of}${elsewhere.length ? ` (set ${elsewhere.join(' or ')})` : ''}`;
}

function checkBody(
  body: Body,
  schema: TypeSchema,
  at: string,
  say: (p: string) => void,
  top: boolean,
): void {
  const where = (key: string) => (at ? `${at}.${key}` : key);
  for (const [key, value] of Object.entries(body)) {
    if (top && key === 'lifecycle')
      checkBlock(key, value, {required: false, max: 1, schema: LIFECYCLE}, at, say);
    else if (top && META.has(key)) continue;
    else if (key === 'dynamic') checkDynamic(value, schema, at, say);
    else if (schema.arguments[key]) {
      if (isBlockList(value))
        say(`${where(key)}: an argument written as a block (write ${key} = …)`);
    } else if (schema.blocks[key]) checkBlock(key, value, schema.blocks[key], at, say);
    else say(`${where(key)}: unknown ${isBlockList(value) ? 'block' : 'argument'}`);
  }
  const dynamic = isBody(body.dynamic) ? body.dynamic : {};
  for (const [key, a] of Object.entries(schema.arguments))
    if (a.required && !(key in body)) say(`${where(key)}: missing required argument`);
  for (const [key, b] of Object.entries(schema.blocks))
    if (b.required && !(key in body) && !(key in dynamic))
      say(`${where(key)}: missing required block`);
}

function checkBlock(
  key: string,
  value: unknown,
  block: BlockSchema,
  at: string,
  say: (p: string) => void,
): void {
  const path = at ? `${at}.${key}` : key;
  if (!isBlockList(value)) {
    say(`${path}: a block written as an argument (write ${key} { … })`);
    return;
  }
  if (block.max === 1 && value.length > 1)
    say(`${path}: at most one ${key} block is allowed, found ${value.length}`);
  value.forEach((b, i) => checkBody(b, block.schema, `${path}[${i}]`, say, false));
}

/** `dynamic "name" { for_each, iterator, labels, content { … } }`: content is a `name` block. */
function checkDynamic(
  value: unknown,
  schema: TypeSchema,
  at: string,
  say: (p: string) => void,
): void {
  for (const [name, list] of Object.entries(isBody(value) ? value : {})) {
    const path = `${at ? `${at}.` : ''}dynamic.${name}`;
    const block = schema.blocks[name];
    if (!block) {
      say(`${path}: ${schema.arguments[name] ? 'an argument, not a block' : 'unknown block'}`);
      continue;
    }
    const dynamicSchema: TypeSchema = {
      arguments: {for_each: {required: true}, iterator: optional, labels: optional},
      blocks: {content: {required: true, max: 1, schema: block.schema}},
    };
    if (!isBlockList(list)) say(`${path}: a block written as an argument`);
    else list.forEach((d, i) => checkBody(d, dynamicSchema, `${path}[${i}]`, say, false));
  }
}

/** Every string in a value, with its path. */
function strings(value: unknown, path: string): Array<[string, string]> {
  if (typeof value === 'string') return [[path, value]];
  if (Array.isArray(value)) return value.flatMap((v, i) => strings(v, `${path}[${i}]`));
  if (isBody(value))
    return Object.entries(value).flatMap(([k, v]) => strings(v, path ? `${path}.${k}` : k));
  return [];
}

/** The `${ … }` expressions in a string that hcl2json produced. */
function expressions(s: string): string[] {
  const out: string[] = [];
  for (let i = s.indexOf('${'); i >= 0; i = s.indexOf('${', i + 1)) {
    if (s[i - 1] === '$') continue; // $${ is a literal
    let depth = 1;
    let j = i + 2;
    for (; j < s.length && depth > 0; j++) {
      if (s[j] === '{') depth++;
      if (s[j] === '}') depth--;
    }
    out.push(s.slice(i + 2, j - 1));
  }
  return out;
}

/** References `type.name`, `type.name[i].attr`, `data.type.name.attr` to declared resources. */
function checkReferences(
  file: string,
  doc: Hcl,
  declared: Map<string, {schema?: TypeSchema; repeated: boolean}>,
  providers: string[],
): string[] {
  const prefixes = providers.filter(p => /^\w+$/.test(p)).join('|');
  const ref = new RegExp(
    `(?<![\\w.\\]-])((?:data\\.)?(?:${prefixes})_\\w+\\.[A-Za-z_][\\w-]*)(\\[[^\\]]*\\])?(?:\\.([A-Za-z_][\\w-]*))?`,
    'g',
  );
  const norm = (s: string) => s.replace(/_/g, '').toLowerCase();
  const problems: string[] = [];
  for (const [path, s] of strings(doc, ''))
    for (const expression of expressions(s))
      for (const [, address, index, attr] of expression.matchAll(ref)) {
        const target = declared.get(address!);
        const say = (p: string) => problems.push(`${file}: ${path}: ${address}: ${p}`);
        if (!target) say('reference to a resource or data source that is not declared');
        else if (index && index !== '[*]' && !target.repeated)
          say('not declared with count or for_each, so it takes no index');
        else if (attr && target.schema && (index || !target.repeated)) {
          const s = target.schema;
          const known = [
            ...Object.keys(s.arguments),
            ...Object.keys(s.blocks),
            ...(s.computed ?? []),
          ];
          if (!known.some(k => norm(k) === norm(attr)))
            say(`${attr}: no such argument or attribute`);
        }
      }
  return problems;
}
