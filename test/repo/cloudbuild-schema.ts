/**
 * Offline validation of cloudbuild.yaml against Cloud Build's own `Build`
 * message (from the protos shipped in @google-cloud/cloudbuild): unknown
 * fields, wrong shapes and malformed Durations are reported with their path.
 */
import * as protobuf from 'protobufjs';

const protos = require('@google-cloud/cloudbuild/build/protos/protos.json') as protobuf.INamespace;

const camel = (s: string) => s.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());

export function validateBuild(doc: unknown): string[] {
  const root = protobuf.Root.fromJSON(protos);
  const build = root.lookupType('google.devtools.cloudbuild.v1.Build');
  const problems: string[] = [];
  walk(build, doc, 'build', problems);
  return problems;
}

function walk(type: protobuf.Type, value: unknown, at: string, out: string[]): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    out.push(`${at}: expected an object for ${type.name}`);
    return;
  }
  for (const [key, v] of Object.entries(value)) {
    const field = type.fields[camel(key)] ?? type.fields[key];
    const path = `${at}.${key}`;
    if (!field) {
      out.push(`${path}: unknown field of ${type.name}`);
      continue;
    }
    field.resolve();
    if (field.repeated) {
      if (!Array.isArray(v)) {
        out.push(`${path}: expected a list`);
        continue;
      }
      v.forEach((item, i) => check(field, item, `${path}[${i}]`, out));
    } else if (field.map) {
      if (typeof v !== 'object' || v === null) out.push(`${path}: expected a map`);
    } else {
      check(field, v, path, out);
    }
  }
}

function check(field: protobuf.Field, v: unknown, path: string, out: string[]): void {
  const rt = field.resolvedType;
  if (rt instanceof protobuf.Type) {
    if (rt.fullName === '.google.protobuf.Duration') {
      if (typeof v !== 'string' || !/^\d+(\.\d+)?s$/.test(v))
        out.push(`${path}: a Duration must look like "1200s"`);
      return;
    }
    walk(rt, v, path, out);
  } else if (rt instanceof protobuf.Enum) {
    if (typeof v !== 'string' || !(v in rt.values))
      out.push(`${path}: "${String(v)}" is not one of ${Object.keys(rt.values).join(', ')}`);
  } else if (field.type === 'string' && typeof v !== 'string') {
    out.push(`${path}: expected a string`);
  } else if (field.type === 'bool' && typeof v !== 'boolean') {
    out.push(`${path}: expected true or false`);
  }
}
