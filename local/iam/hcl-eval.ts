/**
 * Evaluates the part of Terraform's expression language that infra/ uses to
 * say who may do what: string templates (`"${...}"`), references to
 * variables, locals, `each`, `count` and resource attributes, the
 * conditional operator, comparisons, `!`/`&&`/`||` and a few functions
 * (toset, setproduct, concat, replace, tostring, lower). Anything else throws, naming the
 * expression, so a change to infra/ that this cannot read stops the local
 * stack instead of being read wrongly.
 *
 * Values read from the parsed HCL (objects, lists, template strings) stay
 * unevaluated until a leaf is asked for: `local.functions.worker.invoker`
 * evaluates that one string, not the other attributes of `local.functions`
 * (some of which name variables nobody here sets).
 */

/** An unevaluated piece of the parsed HCL: an object or list whose leaves are templates. */
export class Raw {
  constructor(readonly value: unknown) {}
}

export type Value = string | number | boolean | null | Value[] | Raw;

export interface Scope {
  /** `var.X` */
  vars: Record<string, unknown>;
  /** `local.X`, as parsed (unevaluated). */
  locals: Record<string, unknown>;
  /** `each.key` / `each.value` inside a for_each instance. */
  each?: {key: string; value: Value};
  /** `count.index` inside a count instance. */
  count?: number;
  /** The variables of the `for` expressions being evaluated. */
  iter?: Record<string, Value>;
  /** Resolves `TYPE.NAME[index].attr` (and `data.TYPE.NAME...`). */
  resource(path: Array<string | number>, scope: Scope): Value;
}

export class EvalError extends Error {}

/** Evaluates a value read from the parsed HCL: a template string, or a literal. */
export function evaluateRaw(raw: unknown, scope: Scope): Value {
  if (raw instanceof Raw) return raw;
  if (typeof raw === 'string') return template(raw, scope);
  if (typeof raw === 'number' || typeof raw === 'boolean' || raw === null) return raw;
  return new Raw(raw);
}

/** Forces a value to a plain string (a template leaf evaluated). */
export function asString(v: Value, what: string): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw new EvalError(`${what} is not a string`);
}

/** A template: a lone `${expr}` gives expr's value, anything else a string. */
function template(text: string, scope: Scope): Value {
  const parts = splitTemplate(text);
  if (parts.length === 1 && typeof parts[0] !== 'string') return expression(parts[0]!.expr, scope);
  return parts
    .map(p => (typeof p === 'string' ? p : asString(expression(p.expr, scope), p.expr)))
    .join('');
}

function splitTemplate(text: string): Array<string | {expr: string}> {
  const out: Array<string | {expr: string}> = [];
  let at = 0;
  let literal = '';
  while (at < text.length) {
    if (text.startsWith('$${', at)) {
      literal += '${';
      at += 3;
    } else if (text.startsWith('${', at)) {
      const end = closingBrace(text, at + 2);
      if (literal) out.push(literal);
      literal = '';
      out.push({expr: text.slice(at + 2, end)});
      at = end + 1;
    } else {
      literal += text[at++];
    }
  }
  if (literal || out.length === 0) out.push(literal);
  return out;
}

/** The index of the `}` that closes an interpolation opened before `from`. */
function closingBrace(text: string, from: number): number {
  let depth = 0;
  let quoted = false;
  for (let i = from; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '\\') i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === '{') depth++;
    else if (c === '}') {
      if (depth === 0) return i;
      depth--;
    }
  }
  throw new EvalError(`unterminated interpolation in ${text}`);
}

const TOKEN =
  /\s*(\d+(?:\.\d+)?|"(?:[^"\\]|\\.)*"|[A-Za-z_][A-Za-z0-9_-]*|=>|==|!=|>=|<=|&&|\|\||[?:!<>()[\].,{}=])/y;

function tokenize(src: string): string[] {
  const out: string[] = [];
  let at = 0;
  while (src.slice(at).trim() !== '') {
    TOKEN.lastIndex = at;
    const m = TOKEN.exec(src);
    if (!m) throw new EvalError(`cannot read the expression ${src} (at ${src.slice(at, at + 20)})`);
    out.push(m[1]!);
    at = TOKEN.lastIndex;
  }
  return out;
}

export function expression(src: string, scope: Scope): Value {
  const tokens = tokenize(src);
  let i = 0;
  /** Inside the branch a conditional does not take: parsed, not evaluated (as Terraform). */
  let dry = 0;
  const lazily = (take: boolean, branch: () => Value): Value => {
    if (take) return branch();
    dry++;
    try {
      branch();
      return null;
    } finally {
      dry--;
    }
  };
  const test = (v: Value): boolean => (dry > 0 ? false : truthy(v, src));
  const peek = () => tokens[i];
  const take = (want?: string): string => {
    const t = tokens[i++];
    if (t === undefined || (want !== undefined && t !== want))
      throw new EvalError(`expected ${want ?? 'more'} in the expression ${src}`);
    return t;
  };

  const ternary = (): Value => {
    const cond = or();
    if (peek() !== '?') return cond;
    take('?');
    const yes = test(cond);
    const a = lazily(yes, ternary);
    take(':');
    const b = lazily(!yes, ternary);
    return yes ? a : b;
  };
  const or = (): Value => {
    let v = and();
    while (peek() === '||') {
      take();
      const w = and();
      v = test(v) || test(w);
    }
    return v;
  };
  const and = (): Value => {
    let v = comparison();
    while (peek() === '&&') {
      take();
      const w = comparison();
      v = test(v) && test(w);
    }
    return v;
  };
  const comparison = (): Value => {
    const left = unary();
    const op = peek();
    if (op !== '==' && op !== '!=' && op !== '>' && op !== '<' && op !== '>=' && op !== '<=')
      return left;
    take();
    const right = unary();
    if (dry > 0) return null;
    if (op === '==') return left === right;
    if (op === '!=') return left !== right;
    const [a, b] = [Number(left), Number(right)];
    if (Number.isNaN(a) || Number.isNaN(b)) throw new EvalError(`${op} of non-numbers in ${src}`);
    return op === '>' ? a > b : op === '<' ? a < b : op === '>=' ? a >= b : a <= b;
  };
  const unary = (): Value => {
    if (peek() === '!') {
      take();
      return !test(unary());
    }
    return postfix();
  };
  const postfix = (): Value => {
    const t = peek();
    if (t !== undefined && /^[A-Za-z_]/.test(t) && tokens[i + 1] !== '(' && !isKeyword(t)) {
      return reference();
    }
    let v = primary();
    for (;;) {
      if (peek() === '.') {
        take();
        const k = take();
        if (dry === 0) v = member(v, k, src, scope);
      } else if (peek() === '[') {
        take();
        const k = ternary();
        take(']');
        if (dry === 0) v = member(v, k, src, scope);
      } else return v;
    }
  };
  /** A dotted reference, with `[index]` steps, resolved against the scope. */
  const reference = (): Value => {
    const path: Array<string | number> = [take()];
    for (;;) {
      if (peek() === '.') {
        take();
        path.push(take());
      } else if (peek() === '[') {
        take();
        const k = ternary();
        take(']');
        if (dry === 0 && typeof k !== 'string' && typeof k !== 'number')
          throw new EvalError(`index of ${path.join('.')} is not a key in ${src}`);
        path.push(k as string | number);
      } else break;
    }
    if (dry > 0) return null;
    const iter = iterStack.at(-1);
    if (iter && typeof path[0] === 'string' && path[0] in iter)
      return path.slice(1).reduce<Value>((acc, k) => member(acc, k, src, scope), iter[path[0]]!);
    return resolve(path, src, scope);
  };
  const primary = (): Value => {
    const t = take();
    if (t === '(') {
      const v = ternary();
      take(')');
      return v;
    }
    if ((t === '[' || t === '{') && peek() === 'for') return forExpression(t === '{');
    if (t === '{') {
      const obj: Record<string, Value> = {};
      while (peek() !== '}') {
        const k = take();
        take('=');
        obj[k.startsWith('"') ? (JSON.parse(k) as string) : k] = ternary();
        if (peek() === ',') take();
      }
      take('}');
      return new Raw(obj);
    }
    if (t === '[') {
      const items: Value[] = [];
      while (peek() !== ']') {
        items.push(ternary());
        if (peek() === ',') take();
      }
      take(']');
      return items;
    }
    if (t.startsWith('"'))
      return dry > 0 ? null : template(JSON.parse(t) as string, {...scope, iter: iterStack.at(-1)});
    if (/^\d/.test(t)) return Number(t);
    if (t === 'true' || t === 'false') return t === 'true';
    if (t === 'null') return null;
    if (peek() === '(') {
      take('(');
      const args: Value[] = [];
      while (peek() !== ')') {
        args.push(ternary());
        if (peek() === ',') take();
      }
      take(')');
      return dry > 0 ? null : call(t, args, src, scope);
    }
    throw new EvalError(`unexpected ${t} in the expression ${src}`);
  };

  /** `[for X in LIST : VALUE]` or `{for X in LIST : KEY => VALUE}`, after its opening bracket. */
  const forExpression = (isObject: boolean): Value => {
    take('for');
    const name = take();
    take('in');
    const list = ternary();
    take(':');
    const items = dry > 0 ? [] : itemsOf(list, src, scope);
    const body = i;
    const entries: Array<[string, Value]> = [];
    const one = () => {
      const k = isObject ? ternary() : null;
      if (isObject) take('=>');
      const v = ternary();
      return [k, v] as const;
    };
    if (items.length === 0) lazily(false, () => (one(), null));
    for (const item of items) {
      i = body;
      iterStack.push({...(iterStack.at(-1) ?? {}), [name]: item});
      try {
        const [k, v] = one();
        entries.push([isObject ? asString(k, src) : String(entries.length), v]);
      } finally {
        iterStack.pop();
      }
    }
    take(isObject ? '}' : ']');
    if (dry > 0) return null;
    return isObject ? new Raw(Object.fromEntries(entries)) : entries.map(([, v]) => v);
  };
  const iterStack: Array<Record<string, Value>> = scope.iter ? [scope.iter] : [];

  const v = ternary();
  if (i !== tokens.length) throw new EvalError(`trailing input in the expression ${src}`);
  return v;
}

function isKeyword(t: string): boolean {
  return t === 'true' || t === 'false' || t === 'null';
}

function truthy(v: Value, src: string): boolean {
  if (typeof v !== 'boolean') throw new EvalError(`not a boolean in ${src}`);
  return v;
}

function resolve(path: Array<string | number>, src: string, scope: Scope): Value {
  const [head, name, ...rest] = path;
  const walk = (v: Value, steps: Array<string | number>) =>
    steps.reduce<Value>((acc, k) => member(acc, k, src, scope), v);
  switch (head) {
    case 'var': {
      if (typeof name !== 'string' || !(name in scope.vars))
        throw new EvalError(`var.${String(name)} has no value here (in ${src})`);
      return walk(plain(scope.vars[name]), rest);
    }
    case 'local': {
      if (typeof name !== 'string' || !(name in scope.locals))
        throw new EvalError(`no local.${String(name)} (in ${src})`);
      return walk(evaluateRaw(scope.locals[name], scope), rest);
    }
    case 'each': {
      if (!scope.each) throw new EvalError(`each outside a for_each (in ${src})`);
      if (name === 'key') return walk(scope.each.key, rest);
      if (name === 'value') return walk(scope.each.value, rest);
      throw new EvalError(`each.${String(name)} in ${src}`);
    }
    case 'count': {
      if (scope.count === undefined || name !== 'index')
        throw new EvalError(`count.${String(name)} outside a count (in ${src})`);
      return walk(scope.count, rest);
    }
    default:
      return scope.resource(path, scope);
  }
}

/** Variables are given as plain JSON: lists stay lists, objects become Raw. */
function plain(v: unknown): Value {
  if (Array.isArray(v)) return v.map(plain);
  if (v !== null && typeof v === 'object') return new Raw(v);
  return v as Value;
}

/** `v.k` or `v[k]`: navigates unevaluated HCL, evaluating only the leaf reached. */
export function member(v: Value, k: Value, src: string, scope: Scope): Value {
  if (v instanceof Raw) {
    const inner = v.value;
    if (Array.isArray(inner) && typeof k === 'number') return evaluateRaw(inner[k], scope);
    if (inner !== null && typeof inner === 'object' && typeof k === 'string' && k in inner)
      return evaluateRaw((inner as Record<string, unknown>)[k], scope);
  } else if (Array.isArray(v) && typeof k === 'number' && k < v.length) return v[k]!;
  throw new EvalError(`no ${String(k)} in ${src}`);
}

function call(fn: string, args: Value[], src: string, scope: Scope): Value {
  switch (fn) {
    case 'toset': {
      const [list] = args;
      const items = list instanceof Raw ? listOf(list, scope) : list;
      if (!Array.isArray(items)) throw new EvalError(`toset of a non-list in ${src}`);
      return [...new Set(items.map(x => asString(x, src)))];
    }
    case 'replace': {
      const [s, from, to] = args.map(a => asString(a ?? null, src));
      return s!.split(from!).join(to!);
    }
    case 'setproduct': {
      const lists = args.map(a => (a instanceof Raw ? listOf(a, scope) : a));
      if (!lists.every(Array.isArray)) throw new EvalError(`setproduct of a non-list in ${src}`);
      return (lists as Value[][]).reduce<Value[][]>(
        (acc, l) => acc.flatMap(prefix => l.map(x => [...prefix, x])),
        [[]],
      );
    }
    case 'concat': {
      const lists = args.map(a => (a instanceof Raw ? listOf(a, scope) : a));
      if (!lists.every(Array.isArray)) throw new EvalError(`concat of a non-list in ${src}`);
      return (lists as Value[][]).flat();
    }
    case 'tostring':
      return asString(args[0] ?? null, src);
    case 'lower':
      return asString(args[0] ?? null, src).toLowerCase();
    default:
      throw new EvalError(`the function ${fn}() is not evaluated here (in ${src})`);
  }
}

/** The items a `for` expression iterates: a list's, or a map's values. */
function itemsOf(v: Value, src: string, scope: Scope): Value[] {
  if (Array.isArray(v)) return v;
  if (v instanceof Raw && Array.isArray(v.value)) return listOf(v, scope);
  if (v instanceof Raw && v.value !== null && typeof v.value === 'object')
    return Object.values(v.value).map(x => evaluateRaw(x, scope));
  throw new EvalError(`a for expression over a non-collection in ${src}`);
}

function listOf(raw: Raw, scope: Scope): Value[] {
  if (!Array.isArray(raw.value)) throw new EvalError('not a list');
  return raw.value.map(x => evaluateRaw(x, scope));
}

/** The keys and values a `for_each` iterates: a map's entries, or a set's strings. */
export function forEachInstances(
  v: Value,
  src: string,
  scope: Scope,
): Array<{key: string; value: Value}> {
  if (Array.isArray(v)) return v.map(x => ({key: asString(x, src), value: x}));
  if (
    v instanceof Raw &&
    v.value !== null &&
    typeof v.value === 'object' &&
    !Array.isArray(v.value)
  )
    return Object.entries(v.value as Record<string, unknown>).map(([key, value]) => ({
      key,
      value: evaluateRaw(value, scope),
    }));
  throw new EvalError(`for_each is neither a map nor a set (${src})`);
}
