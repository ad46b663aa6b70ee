/**
 * `npm run local:mail [-- --root DIR | --dir DIR] [--last]`
 *
 * Lists the emails the SendGrid sink kept: time, recipients, subject and the
 * readable files. `--last` prints the newest email's text body. The emails
 * are under `ROOT/mail` (ROOT as `npm run stack` and `npm run demo` take it,
 * default `.local`), or in `--dir`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {MailBox} from './server';
import {UsageError, flag, parseFlags, usage} from '../common/cli';

const SPECS = [
  {name: 'root', help: 'directory for local state, as given to stack or demo (default .local)'},
  {name: 'dir', help: 'mail directory (default ROOT/mail)'},
  {name: 'last', help: 'print the newest email', boolean: true},
  {name: 'help', help: 'print this help', boolean: true},
];
const TITLE = 'npm run local:mail -- [flags]';

function main(argv: string[]): number {
  let flags;
  try {
    flags = parseFlags(argv, SPECS);
    if (flags.has('root') && flags.has('dir')) {
      throw new UsageError('give --root or --dir, not both');
    }
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`local:mail: ${err.message}\n\n${usage(TITLE, SPECS)}`);
      return 2;
    }
    throw err;
  }
  if (flags.has('help')) {
    console.log(usage(TITLE, SPECS));
    return 0;
  }
  const dir = flag(flags, 'dir') ?? path.join(flag(flags, 'root', '.local'), 'mail');
  // Listing never creates the directory (MailBox would).
  const mail = fs.existsSync(dir) ? new MailBox(dir).list() : [];
  if (mail.length === 0) {
    console.log(`No emails in ${dir}.`);
  } else if (flags.has('last')) {
    const m = mail[mail.length - 1]!;
    console.log(
      `From: ${m.from}\nTo: ${m.to.join(', ')}\nSubject: ${m.subject}\nDate: ${m.receivedAt}\n`,
    );
    console.log(m.files.text ? fs.readFileSync(m.files.text, 'utf8') : '(no text part)');
  } else {
    for (const m of mail) {
      console.log(
        `${m.receivedAt}  to ${m.to.join(', ')}  "${m.subject}"\n    ${m.files.html ?? m.files.text ?? m.files.json}`,
      );
    }
  }
  return 0;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (err) {
  console.error(`local:mail: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
}
