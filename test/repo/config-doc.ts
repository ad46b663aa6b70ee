/**
 * docs/configuration.md's settings, written from SETTINGS in
 * functions/config.ts: where Terraform takes each from, and the table of
 * variables, defaults (with ranges) and meanings, between two markers.
 * `npm run docs:config` rewrites that part of the file;
 * test/repo/configuration.spec.ts checks that it is current.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {SETTINGS} from '../../functions/config';
import type {Setting} from '../../functions/core/settings';

export const CONFIG_DOC = path.join(__dirname, '..', '..', 'docs', 'configuration.md');
export const BEGIN =
  '<!-- Written by `npm run docs:config` from SETTINGS in functions/config.ts: change it there. -->';
export const END = '<!-- End of the part written by `npm run docs:config`. -->';

const settings: readonly Setting[] = Object.values(SETTINGS);
const code = (s: string) => `\`${s}\``;

function defaultOf(s: Setting): string {
  if (s.type === 'int') return `${code(String(s.default))} (${s.min} to ${s.max})`;
  if (s.type === 'choice') return code(s.default);
  if (s.type === 'emails') return 'required';
  return s.default !== undefined ? code(s.default) : s.optional ? 'unset' : 'required';
}

/** The doc line, with the variable read in its stead when it is unset. */
function docOf(s: Setting): string {
  return s.type === 'text' && s.alias ? `${s.doc} (when unset: \`${s.alias}\`)` : s.doc;
}

/** Where Terraform takes a setting from that has no variable of its name, as a list item. */
function exception(s: Setting): string | undefined {
  const t = s.terraform;
  if (t === undefined || t === 'local') return undefined;
  if ('fixed' in t) return `- ${code(s.name)}: no variable (${t.fixed})`;
  return `- ${code(s.name)}: ${code(t.variable)}${t.as ? ` (${t.as})` : ''}`;
}

/** The generated part, markers included. */
export function settingsSection(): string {
  const local = settings.filter(s => s.terraform === 'local').map(s => code(s.name));
  return [
    BEGIN,
    'Terraform sets each of these from the variable of the same name in lower case (see',
    '[infra/README.md](../infra/README.md#variables)), except:',
    '',
    ...settings.map(exception).filter(line => line !== undefined),
    '',
    'It never sets the settings only the local stack uses:',
    `${local.slice(0, -1).join(', ')} and ${local.at(-1)}.`,
    'The local stack sets them, and every other setting, for its functions.',
    '',
    '| Variable | Default | Meaning |',
    '|---|---|---|',
    ...settings.map(s => `| ${code(s.name)} | ${defaultOf(s)} | ${docOf(s)} |`),
    '',
    END,
  ].join('\n');
}

/** `text` with its generated part replaced by the current one. */
export function withSettings(text: string): string {
  const begin = text.indexOf(BEGIN);
  const end = text.indexOf(END);
  if (begin < 0 || end < begin) throw new Error(`${CONFIG_DOC} has lost its markers`);
  return text.slice(0, begin) + settingsSection() + text.slice(end + END.length);
}

if (require.main === module) {
  fs.writeFileSync(CONFIG_DOC, withSettings(fs.readFileSync(CONFIG_DOC, 'utf8')));
  process.stdout.write(`${path.relative(process.cwd(), CONFIG_DOC)}: settings written\n`);
}
