/**
 * `npm run local:mail [-- --dir DIR] [--last]`
 *
 * Lists the emails the SendGrid sink kept: time, recipients, subject and the
 * readable files. `--last` prints the newest email's text body.
 */
import * as fs from 'node:fs';
import {MailBox} from './server';
import {flag, parseFlags} from '../common/cli';

const flags = parseFlags(process.argv.slice(2), [
  {name: 'dir', help: 'mail directory'},
  {name: 'last', help: 'print the newest email', boolean: true},
]);
const dir = flag(flags, 'dir', '.local/mail');
const mail = new MailBox(dir).list();
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
