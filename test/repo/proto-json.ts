/**
 * Offline validation of a document against a Google API's own message
 * definitions (the protos its published client library ships), as that
 * API reads JSON or YAML: unknown fields, wrong shapes, enum values that do
 * not exist, two members of one oneof, numbers that are not numbers and
 * malformed Durations are reported with their path. Field names are taken
 * in lowerCamelCase or as the proto spells them, as the proto3 JSON mapping
 * accepts both.
 */
import * as protobuf from 'protobufjs';

const NUMBERS = new Set([
  'double',
  'float',
  'int32',
  'int64',
  'uint32',
  'uint64',
  'sint32',
  'sint64',
  'fixed32',
  'fixed64',
]);
/** 64-bit integers may also be written as decimal strings. */
const LONGS = new Set(['int64', 'uint64', 'sint64', 'fixed64']);

const camel = (s: string) => s.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());

/** The problems of `doc` read as the message `typeName` of `protos`, each with its path from `at`. */
export function validateMessage(
  protos: protobuf.INamespace,
  typeName: string,
  doc: unknown,
  at: string,
): string[] {
  const type = protobuf.Root.fromJSON(protos).lookupType(typeName);
  const problems: string[] = [];
  walk(type, doc, at, problems);
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
    if (field.map) {
      if (typeof v !== 'object' || v === null || Array.isArray(v))
        out.push(`${path}: expected a map`);
    } else if (field.repeated) {
      if (!Array.isArray(v)) out.push(`${path}: expected a list`);
      else v.forEach((item, i) => check(field, item, `${path}[${i}]`, out));
    } else {
      check(field, v, path, out);
    }
  }
  for (const oneof of type.oneofsArray) {
    if (oneof.name.startsWith('_')) continue; // proto3 `optional`, not a choice
    const set = oneof.oneof.filter(name => name in value);
    if (set.length > 1) out.push(`${at}: ${set.join(' and ')} are one choice of ${type.name}`);
  }
}

function check(field: protobuf.Field, v: unknown, path: string, out: string[]): void {
  const rt = field.resolvedType;
  if (rt instanceof protobuf.Type) {
    if (rt.fullName === '.google.protobuf.Duration') {
      if (typeof v !== 'string' || !/^\d+(\.\d+)?s$/.test(v))
        out.push(`${path}: a Duration must look like "60s"`);
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
  } else if (
    NUMBERS.has(field.type) &&
    typeof v !== 'number' &&
    !(LONGS.has(field.type) && typeof v === 'string' && /^-?\d+$/.test(v))
  ) {
    out.push(`${path}: expected a number`);
  }
}
