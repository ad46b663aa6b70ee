/**
 * The shell blocks of a Markdown page, as the docs' commands test runs them
 * (test/e2e/docs-commands.spec.ts). A block is a fence whose language is
 * `sh`, `bash` or `shell` (or none); the comment on the line before it may
 * mark it:
 *
 *   <!-- not run: REASON -->   the test does not run it, for the reason given
 *   <!-- run with --local -->  a block for a deployment: on the local stack
 *                              each `grm` command gets `--local`
 *
 * A block's commands are its lines, with `\` continuations joined and
 * comments and blank lines left out.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export type BlockMark = {kind: 'not run'; reason: string} | {kind: 'with --local'};

export interface DocBlock {
  /** The page, relative to the repository. */
  file: string;
  /** Line of the opening fence (1-based). */
  line: number;
  commands: string[];
  mark?: BlockMark;
}

const ROOT = path.join(__dirname, '..', '..');
const SHELL = new Set(['', 'sh', 'bash', 'shell']);

export function docBlocks(file: string): DocBlock[] {
  const lines = fs.readFileSync(path.join(ROOT, file), 'utf8').split('\n');
  const blocks: DocBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const end = lines.findIndex((l, j) => j > i && /^```\s*$/.test(l));
    if (end < 0) throw new Error(`${file}:${i + 1}: a fence that never closes`);
    if (SHELL.has(open[1]!)) {
      const mark = markOf(file, i + 1, lines[i - 1] ?? '');
      blocks.push({
        file,
        line: i + 1,
        commands: commandsOf(lines.slice(i + 1, end)),
        ...(mark ? {mark} : {}),
      });
    }
    i = end;
  }
  return blocks;
}

function markOf(file: string, line: number, before: string): BlockMark | undefined {
  const comment = /^<!--\s*(.*?)\s*-->\s*$/.exec(before)?.[1];
  if (comment === undefined) return undefined;
  if (comment === 'run with --local') return {kind: 'with --local'};
  const notRun = /^not run:\s*(.*)$/.exec(comment);
  if (notRun) return {kind: 'not run', reason: notRun[1]!};
  throw new Error(`${file}:${line}: a block marked neither "not run: …" nor "run with --local"`);
}

function commandsOf(lines: string[]): string[] {
  const commands: string[] = [];
  let current = '';
  for (const line of lines) {
    current += line;
    if (current.endsWith('\\')) {
      current += '\n';
      continue;
    }
    const command = current.trim();
    current = '';
    if (command !== '' && !command.startsWith('#')) commands.push(command);
  }
  return commands;
}

/**
 * The command with `--local` after its `grm` arguments (before a
 * redirection or pipe); a command without `npx grm` as it is.
 */
export function withLocal(command: string): string {
  const m = /^(.*?\bnpx grm\b[^>|]*?)(\s*[>|].*)?$/s.exec(command);
  if (!m) return command;
  return `${m[1]} --local${m[2] ?? ''}`;
}
