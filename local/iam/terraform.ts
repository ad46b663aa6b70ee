/**
 * Reading infra/ in tests: every .tf file parsed to JSON by @cdktf/hcl2json
 * (blocks become arrays of objects, expressions stay `${...}` strings), and
 * string interpolation resolved for the few expressions tests evaluate.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export const INFRA = path.join(__dirname, '..', '..', 'infra');

export type Block = Record<string, unknown>;
export interface Hcl {
  resource?: Record<string, Record<string, Block[]>>;
  data?: Record<string, Record<string, Block[]>>;
  locals?: Block[];
  variable?: Record<string, Block[]>;
  output?: Record<string, Block[]>;
}

/** One HCL source parsed to JSON. */
export function parseHcl<T = Hcl>(name: string, src: string): Promise<T> {
  const {parse} = require('@cdktf/hcl2json') as {
    parse: (name: string, src: string) => Promise<T>;
  };
  return parse(name, src);
}

/** Every .tf file of a directory, parsed, by file name (in name order). */
export async function parseTerraformDir<T = Hcl>(dir: string): Promise<Record<string, T>> {
  const files: Record<string, T> = {};
  for (const f of fs
    .readdirSync(dir)
    .filter(f => f.endsWith('.tf'))
    .sort())
    files[f] = await parseHcl<T>(f, fs.readFileSync(path.join(dir, f), 'utf8'));
  return files;
}

export async function loadInfra(dir = INFRA): Promise<Hcl[]> {
  return Object.values(await parseTerraformDir(dir));
}

/** The body of `resource "type" "name"` (or a data source with kind 'data'). */
export function resource(
  docs: Hcl[],
  type: string,
  name: string,
  kind: 'resource' | 'data' = 'resource',
): Block {
  for (const d of docs) {
    const found = d[kind]?.[type]?.[name]?.[0];
    if (found) return found;
  }
  throw new Error(`no ${kind} ${type}.${name}`);
}

/** Every resource as [type, name, body]. */
export function resources(docs: Hcl[]): Array<[string, string, Block]> {
  return docs.flatMap(d =>
    Object.entries(d.resource ?? {}).flatMap(([type, byName]) =>
      Object.entries(byName).map(([name, [body]]): [string, string, Block] => [type, name, body!]),
    ),
  );
}

export function locals(docs: Hcl[]): Block {
  return Object.assign({}, ...docs.flatMap(d => d.locals ?? [])) as Block;
}

export function variable(docs: Hcl[], name: string): Block {
  for (const d of docs) {
    const found = d.variable?.[name]?.[0];
    if (found) return found;
  }
  throw new Error(`no variable ${name}`);
}

/**
 * Resolves `${...}` in a string: `local.X` (recursively, when the local is a
 * string) and the expressions given in `values`. Anything else is an error,
 * so a test never evaluates a half-resolved string.
 */
export function interpolate(text: string, values: Record<string, string>, all: Block): string {
  return text.replace(/\$\{([^${}]+)\}/g, (_m, expr: string) => {
    const e = expr.trim();
    if (e in values) return values[e]!;
    const local = /^local\.([a-z_]+)$/.exec(e)?.[1];
    if (local && typeof all[local] === 'string') return interpolate(all[local], values, all);
    throw new Error(`cannot resolve \${${e}} in ${text}`);
  });
}
