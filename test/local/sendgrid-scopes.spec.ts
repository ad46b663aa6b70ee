/**
 * The SendGrid sink's `GET /v3/scopes`, through the official `@sendgrid/client`:
 * 401 for a key it does not accept, the key's scopes otherwise (only
 * `mail.send` by default, or what the sink was given), and mail/send refused
 * with 403 for a key without `mail.send`.
 */
import * as assert from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type {Server} from 'node:http';
import {Client} from '@sendgrid/client';
import {MailService} from '@sendgrid/mail';
import {MailBox, createSendGridSink} from '../../local/sendgrid/server';
import {close, listen} from '../../local/common/http';

const KEY = 'SG.scopes-spec-key-000000.scopes-spec-key-not-a-secret-000000000000000';

interface SgError {
  code?: number;
  response?: {body?: {errors?: Array<{message?: string}>}};
}

function client(url: string, key: string): Client {
  const c = new Client();
  c.setApiKey(key); // first: it resets the base URL
  c.setDefaultRequest('baseUrl', url);
  return c;
}

describe('SendGrid sink: GET /v3/scopes (official client)', function () {
  this.timeout(30_000);
  const servers: Server[] = [];
  let dir: string;

  async function sink(scopes?: string[]): Promise<string> {
    const server = createSendGridSink({
      mailbox: new MailBox(path.join(dir, `mail-${servers.length}`)),
      apiKey: KEY,
      ...(scopes ? {scopes} : {}),
    });
    servers.push(server);
    return `http://127.0.0.1:${await listen(server, 0)}`;
  }

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'grm-sendgrid-scopes-'));
  });

  after(async () => {
    for (const s of servers) await close(s);
    fs.rmSync(dir, {recursive: true, force: true});
  });

  it("should answer the accepted key's scopes: mail.send by default", async () => {
    const url = await sink();
    const [res, body] = await client(url, KEY).request({method: 'GET', url: '/v3/scopes'});
    assert.strictEqual(res.statusCode, 200);
    assert.deepStrictEqual(body, {scopes: ['mail.send']});
  });

  it('should answer the scopes it was given, and refuse mail/send without mail.send', async () => {
    const url = await sink(['alerts.read', 'stats.read']);
    const [, body] = await client(url, KEY).request({method: 'GET', url: '/v3/scopes'});
    assert.deepStrictEqual(body, {scopes: ['alerts.read', 'stats.read']});
    const mail = new MailService();
    mail.setClient(client(url, KEY));
    await assert.rejects(
      mail.send({
        from: 'a@example.com',
        to: 'b@example.com',
        subject: 's',
        text: 't',
      }),
      (err: SgError) => {
        assert.strictEqual(err.code, 403);
        assert.strictEqual(err.response?.body?.errors?.[0]?.message, 'access forbidden');
        return true;
      },
    );
  });

  it('should refuse a key it does not accept with 401', async () => {
    const url = await sink();
    const wrong = 'SG.wrong-key-0000000000000.wrong-key-not-a-secret-00000000000000000000000';
    await assert.rejects(
      client(url, wrong).request({method: 'GET', url: '/v3/scopes'}),
      (err: SgError) => {
        assert.strictEqual(err.code, 401);
        return true;
      },
    );
  });
});
