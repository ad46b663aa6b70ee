/**
 * A SendGrid v3 sink: accepts `POST /v3/mail/send` exactly as `@sendgrid/mail`
 * sends it, validates it the way SendGrid does (auth header, personalizations,
 * from, subject, content), answers 202 with an `x-message-id`, and keeps every
 * email under the mail directory as `{stamp}-{id}.json` plus readable `.txt`
 * and `.html` files.
 *
 * `GET /v3/scopes` answers as SendGrid does for the calling key: 401 for a
 * key it does not accept, else `{"scopes": [...]}`, the key's scopes (by
 * default only `mail.send`, as the key infra/README.md asks for). A key
 * without `mail.send` is refused mail/send with 403 "access forbidden".
 *
 * Admin API: `GET /_admin/mail` lists the kept emails (newest last),
 * `DELETE /_admin/mail` removes them, `/_admin/faults` injects failures.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {randomBytes} from 'node:crypto';
import {createServer, IncomingMessage, Server, ServerResponse} from 'node:http';
import {BodyTooLargeError, readBody, sendJson} from '../common/http';
import {FaultInjector, serveFaultAdmin} from '../common/faults';

/** SendGrid's limit on a whole request, in bytes. */
const MAX_REQUEST_BYTES = 30 * 1024 * 1024;

export interface StoredMail {
  id: string;
  receivedAt: string;
  from: string;
  to: string[];
  subject: string;
  /** The request body as received. */
  request: Record<string, unknown>;
  files: {json: string; text?: string; html?: string};
}

interface SgError {
  message: string;
  field: string | null;
  help: string | null;
}

const EMAIL_RE = /^[^\s@<>()",;]+@[^\s@<>()",;]+\.[^\s@<>()",;]+$/;

function err(message: string, field: string | null): SgError {
  return {message, field, help: null};
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkAddress(v: unknown, field: string, out: SgError[]): void {
  if (!isObject(v) || typeof v.email !== 'string') {
    out.push(err('The email address is required.', `${field}.email`));
  } else if (!EMAIL_RE.test(v.email)) {
    out.push(err('Does not contain a valid address.', `${field}.email`));
  }
}

/** Validates a v3 mail/send body; returns SendGrid-style errors (empty = valid). */
export function validateMail(body: unknown): SgError[] {
  const out: SgError[] = [];
  if (!isObject(body)) return [err('The request body must be a JSON object.', null)];
  const hasTemplate = typeof body.template_id === 'string';
  const ps = body.personalizations;
  if (!Array.isArray(ps) || ps.length === 0) {
    out.push(
      err(
        'The personalizations field is required and must have at least one personalization.',
        'personalizations',
      ),
    );
  } else if (ps.length > 1000) {
    out.push(
      err('You may not have more than 1000 personalizations per API request.', 'personalizations'),
    );
  } else {
    ps.forEach((p, i) => {
      if (!isObject(p))
        return out.push(err('Each personalization must be an object.', `personalizations.${i}`));
      if (!Array.isArray(p.to) || p.to.length === 0) {
        out.push(
          err(
            'The to array is required for all personalization objects, and must have at least one email object with a valid email address.',
            `personalizations.${i}.to`,
          ),
        );
      } else {
        p.to.forEach((a, j) => checkAddress(a, `personalizations.${i}.to.${j}`, out));
      }
      for (const kind of ['cc', 'bcc'] as const) {
        if (p[kind] !== undefined) {
          if (!Array.isArray(p[kind]))
            out.push(err(`The ${kind} field must be an array.`, `personalizations.${i}.${kind}`));
          else
            (p[kind] as unknown[]).forEach((a, j) =>
              checkAddress(a, `personalizations.${i}.${kind}.${j}`, out),
            );
        }
      }
      return undefined;
    });
  }
  if (body.from === undefined) {
    out.push(
      err(
        'The from object must be provided for every email send. It is an object that requires the email parameter, but may also contain a name parameter.',
        'from',
      ),
    );
  } else {
    checkAddress(body.from, 'from', out);
  }
  const everyHasSubject =
    Array.isArray(ps) &&
    ps.length > 0 &&
    ps.every(p => isObject(p) && typeof p.subject === 'string' && p.subject !== '');
  if (
    !hasTemplate &&
    !everyHasSubject &&
    (typeof body.subject !== 'string' || body.subject === '')
  ) {
    out.push(
      err(
        'The subject is required. You can get around this requirement if you use a template with a subject defined or if every personalization has a subject defined.',
        'subject',
      ),
    );
  }
  if (body.content === undefined) {
    if (!hasTemplate) {
      out.push(
        err(
          'Unless a valid template_id is provided, the content parameter is required. There must be at least one defined content block. We typically suggest both text/plain and text/html blocks are included, but only one block is required.',
          'content',
        ),
      );
    }
  } else if (!Array.isArray(body.content) || body.content.length === 0) {
    out.push(err('The content array must have at least one content block.', 'content'));
  } else {
    body.content.forEach((c, i) => {
      if (!isObject(c) || typeof c.type !== 'string' || c.type === '') {
        out.push(err('The content type is required.', `content.${i}.type`));
      } else if (typeof c.value !== 'string' || c.value === '') {
        out.push(
          err(
            'The content value must be a string at least one character in length.',
            `content.${i}.value`,
          ),
        );
      } else if (c.type === 'text/plain' && i !== 0) {
        out.push(
          err(
            'If present, text/plain must be first, followed by text/html, followed by any other content.',
            `content.${i}.type`,
          ),
        );
      }
    });
  }
  if (body.attachments !== undefined) {
    if (!Array.isArray(body.attachments))
      out.push(err('The attachments field must be an array.', 'attachments'));
    else {
      body.attachments.forEach((a, i) => {
        if (!isObject(a) || typeof a.content !== 'string' || a.content === '') {
          out.push(err('The attachment content is required.', `attachments.${i}.content`));
        } else if (!/^[A-Za-z0-9+/]*={0,2}$/.test(a.content)) {
          out.push(
            err('The attachment content must be base64 encoded.', `attachments.${i}.content`),
          );
        }
        if (!isObject(a) || typeof a.filename !== 'string' || a.filename === '') {
          out.push(
            err('The attachment filename parameter is required.', `attachments.${i}.filename`),
          );
        }
      });
    }
  }
  return out;
}

export class MailBox {
  constructor(readonly dir: string) {
    fs.mkdirSync(dir, {recursive: true});
  }

  save(body: Record<string, unknown>): StoredMail {
    const now = new Date();
    const id = randomBytes(11).toString('base64url');
    const stamp = now.toISOString().replace(/[:.]/g, '-');
    const base = path.join(this.dir, `${stamp}-${id}`);
    const content = (body.content as Array<{type: string; value: string}> | undefined) ?? [];
    const text = content.find(c => c.type === 'text/plain')?.value;
    const html = content.find(c => c.type === 'text/html')?.value;
    const ps = body.personalizations as Array<{to: Array<{email: string}>; subject?: string}>;
    const mail: StoredMail = {
      id,
      receivedAt: now.toISOString(),
      from: (body.from as {email: string}).email,
      to: ps.flatMap(p => p.to.map(a => a.email)),
      subject: (body.subject as string | undefined) ?? ps[0]?.subject ?? '',
      request: body,
      files: {json: `${base}.json`},
    };
    if (text !== undefined) {
      mail.files.text = `${base}.txt`;
      fs.writeFileSync(mail.files.text, text);
    }
    if (html !== undefined) {
      mail.files.html = `${base}.html`;
      fs.writeFileSync(mail.files.html, html);
    }
    fs.writeFileSync(`${base}.json.tmp`, JSON.stringify(mail, null, 2));
    fs.renameSync(`${base}.json.tmp`, mail.files.json);
    return mail;
  }

  list(): StoredMail[] {
    if (!fs.existsSync(this.dir)) return [];
    return fs
      .readdirSync(this.dir)
      .filter(f => f.endsWith('.json'))
      .sort()
      .map(f => JSON.parse(fs.readFileSync(path.join(this.dir, f), 'utf8')) as StoredMail);
  }

  clear(): void {
    for (const f of fs.readdirSync(this.dir)) fs.rmSync(path.join(this.dir, f), {force: true});
  }
}

export interface SendGridSinkOptions {
  mailbox: MailBox;
  /** When set, only this API key is accepted. */
  apiKey?: string;
  /** The scopes of the accepted key (default: only mail.send). */
  scopes?: readonly string[];
  faults?: FaultInjector;
}

/** What a key made with only the Mail Send permission holds. */
export const MAIL_SEND_SCOPES: readonly string[] = ['mail.send'];

export function createSendGridSink(opts: SendGridSinkOptions): Server {
  const faults =
    opts.faults ??
    new FaultInjector(status => ({errors: [err(`Injected fault: HTTP ${status}`, null)]}));

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname.startsWith('/_admin/')) {
      if (
        await serveFaultAdmin(req, res, faults, async () =>
          JSON.parse((await readBody(req)).toString('utf8')),
        )
      )
        return;
      if (url.pathname === '/_admin/mail') {
        if (req.method === 'DELETE') opts.mailbox.clear();
        return sendJson(res, 200, {mail: opts.mailbox.list()});
      }
      return sendJson(res, 404, {errors: [err(`unknown admin route ${url.pathname}`, null)]});
    }
    if (await faults.apply(req, res)) return;
    const route =
      url.pathname === '/v3/mail/send' ? 'POST' : url.pathname === '/v3/scopes' ? 'GET' : undefined;
    if (!route) {
      return sendJson(res, 404, {errors: [err('Not found', null)]});
    }
    if (req.method !== route) {
      return sendJson(res, 405, {errors: [err('Method not allowed', null)]});
    }
    const auth = req.headers.authorization;
    const token = auth?.startsWith('Bearer ') ? auth.slice('Bearer '.length) : undefined;
    if (!token) {
      req.resume();
      return sendJson(res, 401, {errors: [err('Permission denied, wrong credentials', null)]});
    }
    if (opts.apiKey !== undefined && token !== opts.apiKey) {
      req.resume();
      return sendJson(res, 401, {
        errors: [err('The provided authorization grant is invalid, expired, or revoked', null)],
      });
    }
    const scopes = opts.scopes ?? MAIL_SEND_SCOPES;
    if (route === 'GET') return sendJson(res, 200, {scopes: [...scopes]});
    if (!scopes.includes('mail.send')) {
      req.resume();
      return sendJson(res, 403, {errors: [err('access forbidden', null)]});
    }
    let body: unknown;
    try {
      body = JSON.parse((await readBody(req, MAX_REQUEST_BYTES)).toString('utf8'));
    } catch (e) {
      if (e instanceof BodyTooLargeError) {
        return sendJson(res, 413, {
          errors: [err('The JSON payload you have included in your request is too large.', null)],
        });
      }
      return sendJson(res, 400, {errors: [err('The request body must be valid JSON.', null)]});
    }
    const problems = validateMail(body);
    if (problems.length > 0) return sendJson(res, 400, {errors: problems});
    const mail = opts.mailbox.save(body as Record<string, unknown>);
    res.writeHead(202, {'x-message-id': mail.id, 'content-length': 0});
    res.end();
  }

  return createServer((req, res) => {
    handle(req, res).catch(e => {
      if (!res.headersSent)
        sendJson(res, 500, {errors: [err(e instanceof Error ? e.message : String(e), null)]});
      else res.destroy();
    });
  });
}
