/**
 * `npm run local:sendgrid -- --port N --dir DIR`
 *
 * Starts the SendGrid sink. Point `@sendgrid/mail` at it with a client whose
 * `baseUrl` is `http://127.0.0.1:N` (see functions' SendGrid adapter).
 */
import {MailBox, createSendGridSink} from './server';
import {flag, portFlag} from '../common/cli';
import {close, listen} from '../common/http';
import {runService} from '../common/service-main';

runService(
  'sendgrid-sink',
  'SendGrid v3 mail/send sink (keeps every email on disk)',
  [
    {name: 'port', help: 'TCP port on 127.0.0.1 (default 0 = any free port)'},
    {name: 'dir', help: 'where emails are kept (default .local/mail)'},
    {name: 'api-key', help: 'accept only this API key (default: any Bearer token)'},
    {name: 'scopes', help: "the key's scopes, comma-separated (default: mail.send)"},
  ],
  async flags => {
    const mailbox = new MailBox(flag(flags, 'dir', '.local/mail'));
    const scopes = flag(flags, 'scopes');
    const server = createSendGridSink({
      mailbox,
      apiKey: flag(flags, 'api-key'),
      ...(scopes !== undefined ? {scopes: scopes.split(',').filter(Boolean)} : {}),
    });
    const port = await listen(server, portFlag(flags));
    return {
      port,
      info: {url: `http://127.0.0.1:${port}`, dir: mailbox.dir},
      stop: () => close(server),
    };
  },
);
