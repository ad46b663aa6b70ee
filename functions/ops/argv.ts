/**
 * A command line read into words by node:util's parseArgs, for the command
 * line tools (grm, and the local stack's) to check against their own flags
 * and refuse in their own words: `--name value` and `--name=value` for the
 * flags that take a value, any other `--name` alone (an unknown one too, so
 * that its caller can name it). A word that starts with one dash stays a
 * positional, and `--` reads as a flag without a name: these tools have no
 * short flags and no end-of-flags marker.
 */
import {parseArgs} from 'node:util';

export type Word =
  {kind: 'flag'; name: string; value: string | undefined} | {kind: 'positional'; value: string};

/** `argv`'s words, in order; `valued` names the flags that take a value. */
export function readWords(argv: readonly string[], valued: readonly string[]): Word[] {
  const {tokens} = parseArgs({
    args: [...argv],
    options: Object.fromEntries(valued.map(name => [name, {type: 'string' as const}])),
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const words: Word[] = [];
  let lastShort = -1;
  for (const token of tokens) {
    if (token.kind === 'option-terminator') {
      words.push({kind: 'flag', name: '', value: undefined});
      break;
    }
    if (token.kind === 'positional') {
      words.push({kind: 'positional', value: token.value});
    } else if (token.rawName.startsWith('--')) {
      words.push({kind: 'flag', name: token.name, value: token.value});
    } else if (token.index !== lastShort) {
      // `-x` or `-xyz` (one token per letter): the word as it was written.
      lastShort = token.index;
      words.push({kind: 'positional', value: argv[token.index]!});
    }
  }
  return words;
}
