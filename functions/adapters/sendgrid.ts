/**
 * Mailer over the official SendGrid client. Transient failures (429 with its
 * Retry-After, 408, 5xx, network errors) are retried with jittered backoff;
 * anything else fails at once. Errors carry SendGrid's own messages, never
 * the request (whose headers hold the API key). Locally `apiUrl` points the
 * client at the SendGrid sink.
 */
import {Client} from '@sendgrid/client';
import {MailService} from '@sendgrid/mail';
import {PermanentError, RetryableError} from '../core/errors';
import {Failure, decide, parseRetryAfter} from '../core/retry';
import type {Logger} from '../logger';
import type {Clock, Mail, Mailer} from '../ports';

export interface SendGridOptions {
  apiKey: string;
  from: string;
  /** Local development only, e.g. http://127.0.0.1:PORT. */
  apiUrl?: string;
  maxAttempts?: number;
  clock: Clock;
  logger: Logger;
  random?: () => number;
}

interface SendGridError {
  code?: number | string;
  message?: string;
  response?: {headers?: Record<string, string>; body?: {errors?: Array<{message?: string}>}};
}

export class SendGridMailer implements Mailer {
  private readonly service = new MailService();

  constructor(private readonly opts: SendGridOptions) {
    const client = new Client();
    client.setApiKey(opts.apiKey); // first: it resets the base URL
    if (opts.apiUrl) client.setDefaultRequest('baseUrl', opts.apiUrl.replace(/\/$/, ''));
    this.service.setClient(client);
    this.service.setTimeout(30_000);
  }

  async send(mail: Mail): Promise<void> {
    const {clock, logger} = this.opts;
    const maxAttempts = this.opts.maxAttempts ?? 4;
    const random = this.opts.random ?? Math.random;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.service.send({
          from: this.opts.from,
          personalizations: [{to: mail.to.map(email => ({email}))}],
          subject: mail.subject,
          content: [
            {type: 'text/plain', value: mail.text},
            {type: 'text/html', value: mail.html},
          ],
          ...(mail.tags ? {customArgs: mail.tags} : {}),
        });
        return;
      } catch (err) {
        const {failure, description} = describe(err as SendGridError, clock.now());
        const next = decide(failure, attempt, maxAttempts, random(), true);
        if (next.action !== 'retry') {
          const message = `SendGrid refused the email after ${attempt} attempt(s): ${description}`;
          throw next.action === 'fail' && next.retryable
            ? new RetryableError(message)
            : new PermanentError(message);
        }
        logger.warn('SendGrid failed; retrying', {attempt, delayMs: next.delayMs, description});
        await clock.sleep(next.delayMs);
      }
    }
  }
}

function describe(err: SendGridError, nowMs: number): {failure: Failure; description: string} {
  const messages = (err.response?.body?.errors ?? [])
    .map(e => e.message)
    .filter((m): m is string => typeof m === 'string');
  if (typeof err.code === 'number') {
    const retryAfter = parseRetryAfter(err.response?.headers?.['retry-after'], nowMs);
    return {
      failure: {kind: 'http', status: err.code, retryAfterSeconds: retryAfter},
      description: `HTTP ${err.code}${messages.length ? `: ${messages.join('; ')}` : ''}`,
    };
  }
  const code = typeof err.code === 'string' ? err.code : undefined;
  return {
    failure: {kind: 'network', code},
    description: `network error ${code ?? ''} ${err.message ?? ''}`.trim(),
  };
}
