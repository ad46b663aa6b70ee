/**
 * SendGridMailer over the official client against the SendGrid sink: what
 * is retried (429 after its Retry-After, 5xx), what is not (4xx), and that
 * no error carries the API key. Time is a seam: sleeps are recorded, not slept.
 */
import * as assert from 'node:assert';
import {SendGridMailer} from '../../functions/adapters/sendgrid';
import {PermanentError, RetryableError} from '../../functions/core/errors';
import {createLogger} from '../../functions/logger';
import {TestStack, useStack} from '../setup/stack';

describe('SendGrid mailer (official client, SendGrid sink)', () => {
  let stack: TestStack;
  let slept: number[];
  const subject = `mailer test ${Date.now()}`;

  before(async function () {
    this.timeout(120_000); // the shared stack may start here
    stack = await useStack();
  });
  beforeEach(() => {
    slept = [];
  });
  afterEach(async () => {
    await fetch(`${stack.sendgridUrl}/_admin/faults`, {method: 'DELETE'});
  });

  const mailer = (apiKey = 'SG.test-key') =>
    new SendGridMailer({
      apiKey,
      from: 'archive@example.com',
      apiUrl: stack.sendgridUrl,
      maxAttempts: 3,
      clock: {now: () => Date.now(), sleep: async ms => void slept.push(ms)},
      logger: createLogger({}, () => {}),
      random: () => 0,
    });
  const mail = {to: ['a@example.com', 'b@example.com'], subject, text: 't', html: '<p>h</p>'};
  const fault = (rule: object) =>
    fetch(`${stack.sendgridUrl}/_admin/faults`, {method: 'POST', body: JSON.stringify(rule)});
  const kept = async () => {
    const res = await fetch(`${stack.sendgridUrl}/_admin/mail`);
    return (
      (await res.json()) as {
        mail: Array<{subject: string; to: string[]; request: Record<string, unknown>}>;
      }
    ).mail.filter(m => m.subject === subject);
  };

  it('should send text and HTML to every address, with its tags as custom_args', async () => {
    const before = (await kept()).length;
    await mailer().send({...mail, tags: {day: '2026-01-02'}});
    const all = await kept();
    assert.strictEqual(all.length, before + 1);
    const last = all[all.length - 1]!;
    assert.deepStrictEqual(last.to, ['a@example.com', 'b@example.com']);
    assert.deepStrictEqual(last.request.custom_args, {day: '2026-01-02'});
    assert.deepStrictEqual(
      (last.request.content as Array<{type: string}>).map(c => c.type),
      ['text/plain', 'text/html'],
    );
    assert.deepStrictEqual(slept, []);
  });

  it("should wait out a 429's Retry-After, then send", async () => {
    await fault({
      path: '^/v3/mail/send',
      action: 'status',
      status: 429,
      headers: {'retry-after': '2'},
      times: 1,
    });
    await mailer().send(mail);
    assert.deepStrictEqual(slept, [2000]);
  });

  it('should give up after its attempts on 5xx with a retryable error', async () => {
    await fault({path: '^/v3/mail/send', action: 'status', status: 502});
    await assert.rejects(mailer().send(mail), (e: Error) => {
      assert.ok(e instanceof RetryableError);
      assert.match(e.message, /after 3 attempt\(s\): HTTP 502/);
      return true;
    });
    assert.strictEqual(slept.length, 2);
  });

  it('should not retry a refused email, and never show the key', async () => {
    await assert.rejects(mailer('SG.wrong-key-123').send(mail), (e: Error) => {
      assert.match(e.message, /HTTP 401: The provided authorization grant is invalid/);
      assert.ok(!e.message.includes('wrong-key'));
      return true;
    });
    await assert.rejects(mailer().send({...mail, to: ['not-an-address']}), (e: Error) => {
      assert.ok(e instanceof PermanentError);
      assert.match(e.message, /HTTP 400: Does not contain a valid address/);
      return true;
    });
    assert.deepStrictEqual(slept, []);
  });
});
