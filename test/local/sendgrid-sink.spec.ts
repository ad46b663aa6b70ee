/**
 * The SendGrid sink, driven by the official `@sendgrid/mail` client pointed at
 * it with a custom base URL.
 */
import * as assert from 'node:assert';
import * as fs from 'node:fs';
import {execFileSync} from 'node:child_process';
import {MailService} from '@sendgrid/mail';
import {Client} from '@sendgrid/client';
import {TestStack, useStack} from '../setup/stack';
import {validateMail} from '../../local/sendgrid/server';

function mailer(baseUrl: string, key = 'SG.test-key'): MailService {
  const client = new Client();
  client.setApiKey(key); // must come first: it resets baseUrl
  client.setDefaultRequest('baseUrl', baseUrl);
  const mail = new MailService();
  mail.setClient(client);
  return mail;
}

interface SgErr {
  code?: number;
  response?: {body?: {errors?: Array<{message: string; field: string | null}>}};
}

describe('SendGrid sink (official client)', function () {
  this.timeout(30_000);
  let stack: TestStack;

  before(async function () {
    this.timeout(120_000);
    stack = await useStack();
  });

  beforeEach(async () => {
    await fetch(`${stack.sendgridUrl}/_admin/mail`, {method: 'DELETE'});
  });

  it('should accept a valid email with 202 and keep it as JSON, text and HTML', async () => {
    const [res] = await mailer(stack.sendgridUrl).send({
      to: ['dev1@example.com', 'dev2@example.com'],
      from: 'migrator@example.com',
      subject: '[brave] 2023-02-01 incomplete: 3 recordings missing',
      text: 'Three recordings are missing.',
      html: '<p>Three recordings are missing.</p>',
      attachments: [
        {
          content: Buffer.from('{"gaps":3}').toString('base64'),
          filename: 'gaps.json',
          type: 'application/json',
        },
      ],
    });
    assert.strictEqual(res.statusCode, 202);
    assert.ok(res.headers['x-message-id']);
    const listed = (await (await fetch(`${stack.sendgridUrl}/_admin/mail`)).json()) as {
      mail: Array<{
        to: string[];
        subject: string;
        files: {json: string; text?: string; html?: string};
      }>;
    };
    assert.strictEqual(listed.mail.length, 1);
    const m = listed.mail[0]!;
    assert.deepStrictEqual(m.to, ['dev1@example.com', 'dev2@example.com']);
    assert.strictEqual(m.subject, '[brave] 2023-02-01 incomplete: 3 recordings missing');
    assert.strictEqual(fs.readFileSync(m.files.text!, 'utf8'), 'Three recordings are missing.');
    assert.strictEqual(
      fs.readFileSync(m.files.html!, 'utf8'),
      '<p>Three recordings are missing.</p>',
    );
    assert.ok(m.files.json.startsWith(stack.dirs.mail));
  });

  it('should answer 401 without an API key', async () => {
    const res = await fetch(`${stack.sendgridUrl}/v3/mail/send`, {method: 'POST', body: '{}'});
    assert.strictEqual(res.status, 401);
    assert.ok(((await res.json()) as {errors: unknown[]}).errors.length > 0);
  });

  it('should answer 400 with SendGrid errors for an invalid email and keep nothing', async () => {
    await assert.rejects(
      mailer(stack.sendgridUrl).send({
        to: 'not-an-address',
        from: 'migrator@example.com',
        subject: 's',
        text: 't',
      }),
      (err: SgErr) => {
        assert.strictEqual(err.code, 400);
        assert.strictEqual(err.response?.body?.errors?.[0]?.field, 'personalizations.0.to.0.email');
        return true;
      },
    );
    const listed = (await (await fetch(`${stack.sendgridUrl}/_admin/mail`)).json()) as {
      mail: unknown[];
    };
    assert.strictEqual(listed.mail.length, 0);
  });

  it('should pass an injected 500 on to the client', async () => {
    await fetch(`${stack.sendgridUrl}/_admin/faults`, {
      method: 'POST',
      body: JSON.stringify({path: '/v3/mail/send', action: 'status', status: 500, times: 1}),
    });
    await assert.rejects(
      mailer(stack.sendgridUrl).send({
        to: 'a@example.com',
        from: 'b@example.com',
        subject: 's',
        text: 't',
      }),
      (err: SgErr) => err.code === 500,
    );
    const [ok] = await mailer(stack.sendgridUrl).send({
      to: 'a@example.com',
      from: 'b@example.com',
      subject: 's',
      text: 't',
    });
    assert.strictEqual(ok.statusCode, 202);
  });

  it('should list kept emails with npm run local:mail', () => {
    const before = execFileSync(
      process.execPath,
      ['--import', 'tsx', 'local/sendgrid/list-cli.ts', '--dir', stack.dirs.mail],
      {
        encoding: 'utf8',
      },
    );
    assert.match(before, /No emails/);
  });

  describe('validation rules', () => {
    const base = {
      personalizations: [{to: [{email: 'a@example.com'}]}],
      from: {email: 'b@example.com'},
      subject: 'hello',
      content: [{type: 'text/plain', value: 'hi'}],
    };
    const cases: Array<{name: string; body: unknown; field: string | null}> = [
      {name: 'a body that is not an object', body: [], field: null},
      {
        name: 'no personalizations',
        body: {...base, personalizations: []},
        field: 'personalizations',
      },
      {
        name: 'a personalization without to',
        body: {...base, personalizations: [{}]},
        field: 'personalizations.0.to',
      },
      {name: 'no from', body: {...base, from: undefined}, field: 'from'},
      {name: 'a bad from address', body: {...base, from: {email: 'nope'}}, field: 'from.email'},
      {name: 'no subject', body: {...base, subject: ''}, field: 'subject'},
      {name: 'no content', body: {...base, content: undefined}, field: 'content'},
      {
        name: 'an empty content value',
        body: {...base, content: [{type: 'text/plain', value: ''}]},
        field: 'content.0.value',
      },
      {
        name: 'text/plain after text/html',
        body: {
          ...base,
          content: [
            {type: 'text/html', value: '<p>x</p>'},
            {type: 'text/plain', value: 'x'},
          ],
        },
        field: 'content.1.type',
      },
      {
        name: 'an attachment without filename',
        body: {...base, attachments: [{content: 'eA=='}]},
        field: 'attachments.0.filename',
      },
    ];
    it('should accept the minimal valid body', () => {
      assert.deepStrictEqual(validateMail(base), []);
    });
    for (const c of cases) {
      it(`should reject ${c.name}`, () => {
        const errors = validateMail(c.body);
        assert.ok(errors.length > 0);
        assert.strictEqual(errors[0]!.field, c.field);
      });
    }
  });
});
