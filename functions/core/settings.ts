/**
 * How a setting of the configuration is declared (its environment variable,
 * type, default, range or values, documentation, and where Terraform takes
 * it from) and read from an environment, with the problem said when its
 * value is wrong. functions/config.ts declares the settings.
 */
import {EMAIL_RE} from './ids';

/**
 * Where Terraform takes a setting from, when not from the variable of its
 * name in lower case: another `variable` (`as`: what Terraform makes of it,
 * e.g. a resource named after it), no variable (`fixed`: what it sets), or
 * never (`local`: only the local stack sets it).
 */
export type FromTerraform = {variable: string; as?: string} | {fixed: string} | 'local';

interface Common {
  /** The environment variable. */
  name: string;
  /** What it means, one line of Markdown (docs/configuration.md). */
  doc: string;
  /** Absent: the variable `name.toLowerCase()`. */
  terraform?: FromTerraform;
}

export interface IntSetting extends Common {
  type: 'int';
  default: number;
  min: number;
  max: number;
}

export interface ChoiceSetting extends Common {
  type: 'choice';
  default: string;
  values: readonly string[];
}

export interface TextSetting extends Common {
  type: 'text';
  /** Absent: required, unless `optional`. */
  default?: string;
  /** Unset is a value (the local stack's addresses). */
  optional?: true;
  /** Read when `name` is unset. */
  alias?: string;
  /** What is wrong with a value, said after the setting's name; undefined when nothing. */
  check?: (value: string) => string | undefined;
}

/** Required: comma-, semicolon- or space-separated email addresses. */
export interface EmailsSetting extends Common {
  type: 'emails';
}

export type Setting = IntSetting | ChoiceSetting | TextSetting | EmailsSetting;

/** A setting's value as the code sees it. */
export type Value<S> = S extends {type: 'int'}
  ? number
  : S extends {type: 'choice'; values: readonly (infer V)[]}
    ? V
    : S extends {type: 'emails'}
      ? string[]
      : S extends {optional: true}
        ? string | undefined
        : string;

/** Splits a comma- or space-separated address list; returns the bad entries too. */
export function parseEmailList(raw: string): {emails: string[]; invalid: string[]} {
  const items = raw
    .split(/[\s,;]+/)
    .map(s => s.trim())
    .filter(Boolean);
  return {
    emails: items.filter(e => EMAIL_RE.test(e)),
    invalid: items.filter(e => !EMAIL_RE.test(e)),
  };
}

export type Env = Record<string, string | undefined>;

/** One setting's value, or its default when unset or wrong (with the problem said in `problems`). */
export function readSetting(
  s: Setting,
  env: Env,
  problems: string[],
): number | string | string[] | undefined {
  const raw = env[s.name]?.trim() || (s.type === 'text' && s.alias ? env[s.alias] : undefined);
  switch (s.type) {
    case 'int': {
      if (!raw) return s.default;
      const n = Number(raw);
      if (Number.isInteger(n) && n >= s.min && n <= s.max) return n;
      problems.push(`${s.name} must be an integer from ${s.min} to ${s.max}, got "${raw}"`);
      return s.default;
    }
    case 'choice':
      if (!raw) return s.default;
      if (s.values.includes(raw)) return raw;
      problems.push(`${s.name} must be one of ${s.values.join(', ')}, got "${raw}"`);
      return s.default;
    case 'emails': {
      if (!raw) {
        problems.push(`${s.name} is required`);
        return [];
      }
      const {emails, invalid} = parseEmailList(raw);
      if (invalid.length > 0)
        problems.push(`${s.name} holds invalid addresses: ${invalid.join(', ')}`);
      return emails;
    }
    case 'text': {
      const value = raw || s.default;
      if (!value) {
        if (!s.optional) problems.push(`${s.name} is required`);
        return s.optional ? undefined : '';
      }
      const problem = s.check?.(value);
      if (problem) problems.push(`${s.name} ${problem}`);
      return value;
    }
  }
}
