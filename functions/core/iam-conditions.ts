/**
 * A small evaluator of the IAM Condition (CEL) subset the bucket grants in
 * infra/storage.tf use: resource.name.startsWith/endsWith("..."),
 * resource.name.extract("...{var}...") compared with a string,
 * resource.type compared with a string, !, &&, || and parentheses. Anything
 * else is a syntax error, so a condition the tests, the local stack or
 * `grm doctor` cannot read fails them rather than being guessed at.
 */

export interface Resource {
  /** projects/_/buckets/B for the bucket, projects/_/buckets/B/objects/NAME for an object. */
  name: string;
  type: 'storage.googleapis.com/Bucket' | 'storage.googleapis.com/Object';
}

const TOKEN =
  /\s*(&&|\|\||==|!=|!|\(|\)|"(?:[^"\\]|\\.)*"|resource\.(?:name|type)(?:\.(?:startsWith|endsWith|extract))?)/y;

function tokenize(src: string): string[] {
  const out: string[] = [];
  let at = 0;
  while (src.slice(at).trim() !== '') {
    TOKEN.lastIndex = at;
    const m = TOKEN.exec(src);
    if (!m) throw new Error(`unexpected input at ${at}: ${src.slice(at, at + 30)}`);
    out.push(m[1]!);
    at = TOKEN.lastIndex;
  }
  return out;
}

/**
 * The logical operators of a condition (&&, || and !), counted on its
 * tokens: the operators inside string literals are not operators.
 */
export function logicalOperators(condition: string): number {
  return tokenize(condition).filter(t => t === '&&' || t === '||' || t === '!').length;
}

/**
 * CEL's extract: the text between the template's literal part before `{...}`
 * and the literal part after it, at the first place the part before occurs;
 * "" when there is no match.
 */
export function extract(name: string, template: string): string {
  const m = /^([^{]*)\{[^}]*\}(.*)$/.exec(template);
  if (!m) throw new Error(`extract template without {variable}: ${template}`);
  const [, before, after] = m as unknown as [string, string, string];
  const start = name.indexOf(before);
  if (start < 0) return '';
  const rest = name.slice(start + before.length);
  if (after === '') return rest;
  const end = rest.indexOf(after);
  return end < 0 ? '' : rest.slice(0, end);
}

export function evaluate(condition: string, r: Resource): boolean {
  const tokens = tokenize(condition);
  let i = 0;
  const peek = () => tokens[i];
  const take = (want?: string) => {
    const t = tokens[i++];
    if (t === undefined || (want !== undefined && t !== want))
      throw new Error(`expected ${want ?? 'more'} at token ${i - 1} in ${condition}`);
    return t;
  };
  const str = () => {
    const t = take();
    if (!t.startsWith('"')) throw new Error(`expected a string, got ${t}`);
    return JSON.parse(t) as string;
  };
  const arg = () => {
    take('(');
    const s = str();
    take(')');
    return s;
  };
  const compare = (left: string) => {
    const op = take();
    if (op !== '==' && op !== '!=') throw new Error(`expected == or !=, got ${op}`);
    const right = str();
    return op === '==' ? left === right : left !== right;
  };
  const primary = (): boolean => {
    const t = take();
    switch (t) {
      case '(': {
        const v = or();
        take(')');
        return v;
      }
      case '!':
        return !primary();
      case 'resource.name.startsWith':
        return r.name.startsWith(arg());
      case 'resource.name.endsWith':
        return r.name.endsWith(arg());
      case 'resource.name.extract':
        return compare(extract(r.name, arg()));
      case 'resource.type':
        return compare(r.type);
      default:
        throw new Error(`unexpected ${t} in ${condition}`);
    }
  };
  const and = (): boolean => {
    let v = primary();
    while (peek() === '&&') {
      take();
      const w = primary();
      v = v && w;
    }
    return v;
  };
  const or = (): boolean => {
    let v = and();
    while (peek() === '||') {
      take();
      const w = and();
      v = v || w;
    }
    return v;
  };
  const v = or();
  if (i !== tokens.length) throw new Error(`trailing input in ${condition}`);
  return v;
}
