/**
 * Tiny, strict command-line parsing for the local stand-ins.
 *
 * Every stand-in takes `--flag value` pairs (and repeatable flags); anything
 * unknown is an error that names the flag, so a typo never silently falls back
 * to a default.
 */
import {readWords} from '../../functions/ops/argv';

export interface FlagSpec {
  /** Flag name without the leading dashes. */
  readonly name: string;
  /** One line for `--help`. */
  readonly help: string;
  /** A boolean switch takes no value. */
  readonly boolean?: boolean;
  /** May be given more than once; values are collected in order. */
  readonly repeatable?: boolean;
}

export type ParsedFlags = Map<string, string[]>;

export class UsageError extends Error {
  override name = 'UsageError' as const;
}

/** Parses `argv` (without node and script) against `specs`, read by node:util's parseArgs. */
export function parseFlags(argv: readonly string[], specs: readonly FlagSpec[]): ParsedFlags {
  const byName = new Map(specs.map(s => [s.name, s]));
  const valued = specs.filter(s => !s.boolean).map(s => s.name);
  const out: ParsedFlags = new Map();
  for (const word of readWords(argv, valued)) {
    if (word.kind === 'positional') {
      throw new UsageError(`unexpected argument "${word.value}" (flags start with --)`);
    }
    const {name} = word;
    let {value} = word;
    const spec = byName.get(name);
    if (!spec) {
      throw new UsageError(
        `unknown flag --${name}; known: ${specs.map(s => '--' + s.name).join(', ')}`,
      );
    }
    if (spec.boolean) {
      if (value !== undefined) throw new UsageError(`--${name} takes no value`);
      value = 'true';
    } else if (value === undefined) {
      throw new UsageError(`--${name} needs a value`);
    }
    const list = out.get(name) ?? [];
    if (list.length > 0 && !spec.repeatable && !spec.boolean) {
      throw new UsageError(`--${name} given more than once`);
    }
    list.push(value);
    out.set(name, list);
  }
  return out;
}

/** The single value of a flag, or `fallback`. */
export function flag(flags: ParsedFlags, name: string, fallback: string): string;
export function flag(flags: ParsedFlags, name: string): string | undefined;
export function flag(flags: ParsedFlags, name: string, fallback?: string): string | undefined {
  return flags.get(name)?.[0] ?? fallback;
}

/** A TCP port flag: an integer in 0..65535 (0 = any free port). */
export function portFlag(flags: ParsedFlags, name = 'port', fallback = 0): number {
  const raw = flag(flags, name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n > 65535) {
    throw new UsageError(`--${name} must be an integer between 0 and 65535, got "${raw}"`);
  }
  return n;
}

/** A non-negative number flag. */
export function numberFlag(flags: ParsedFlags, name: string, fallback: number): number {
  const raw = flag(flags, name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n < 0) {
    throw new UsageError(`--${name} must be a non-negative number, got "${raw}"`);
  }
  return n;
}

export function usage(title: string, specs: readonly FlagSpec[]): string {
  const lines = specs.map(s => {
    const left = `--${s.name}${s.boolean ? '' : ' VALUE'}${s.repeatable ? ' (repeatable)' : ''}`;
    return `  ${left.padEnd(34)} ${s.help}`;
  });
  return `${title}\n\n${lines.join('\n')}\n`;
}
