/**
 * Files the operator's command writes on the operator's machine (`grm
 * report --out`): checked before any work is done, and written atomically
 * (a temporary file beside it, then a rename), so a reader never sees half a
 * file and a failed write leaves the old one.
 */
import {randomBytes} from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';

/** Why `file` cannot be written, in a person's words; undefined when it can. */
export async function whyNotWritable(file: string): Promise<string | undefined> {
  const dir = path.dirname(path.resolve(file));
  const existing = await fs.stat(file).catch(() => undefined);
  if (existing?.isDirectory()) return `${file} is a directory, not a file`;
  const folder = await fs.stat(dir).catch(() => undefined);
  if (!folder) return `the folder ${dir} does not exist`;
  if (!folder.isDirectory()) return `${dir} is not a folder`;
  try {
    await fs.access(dir, fs.constants.W_OK);
    if (existing) await fs.access(file, fs.constants.W_OK);
  } catch {
    return `${existing ? file : `the folder ${dir}`} is not writable`;
  }
  return undefined;
}

/** Writes `content` to `file` through a temporary file in the same folder and a rename. */
export async function writeFileAtomically(file: string, content: string): Promise<void> {
  const tmp = path.join(
    path.dirname(path.resolve(file)),
    `.${path.basename(file)}.${randomBytes(4).toString('hex')}.tmp`,
  );
  try {
    await fs.writeFile(tmp, content, {flag: 'wx', mode: 0o644});
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, {force: true});
    throw err;
  }
}
