/** Small builders and stream helpers shared by the tests. */
import {Writable} from 'node:stream';
import {BatchReport, ReportConversation, totalsOf} from '../functions/core/report';

/** A Writable that hands every chunk to `onChunk` (the end of a pipeline). */
export function sink(onChunk: (chunk: Buffer) => void): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      onChunk(chunk);
      done();
    },
  });
}

/** Deterministic pseudo-random bytes (a linear congruential generator). */
export function bytes(size: number, seed = 1): Buffer {
  const out = Buffer.alloc(size);
  let x = seed;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/** An email the SendGrid sink kept, with its text and HTML bodies. */
export interface KeptMail {
  to: string[];
  subject: string;
  text: string;
  html: string;
  request: Record<string, unknown>;
}

/** Every email the stack's SendGrid sink kept whose subject names `day`, oldest first. */
export async function mailAbout(stack: {sendgridUrl: string}, day: string): Promise<KeptMail[]> {
  const res = await fetch(`${stack.sendgridUrl}/_admin/mail`);
  const {mail} = (await res.json()) as {
    mail: Array<{to: string[]; subject: string; request: Record<string, unknown>}>;
  };
  return mail
    .filter(m => m.subject.includes(` ${day}:`))
    .map(m => {
      const content = (m.request.content ?? []) as Array<{type: string; value: string}>;
      return {
        to: m.to,
        subject: m.subject,
        request: m.request,
        text: content.find(c => c.type === 'text/plain')?.value ?? '',
        html: content.find(c => c.type === 'text/html')?.value ?? '',
      };
    });
}

/** Fails with instructions when the Google Cloud CLI is not installed. */
export async function requireGcloud(): Promise<void> {
  const {execFile} = await import('node:child_process');
  await new Promise<void>((resolve, reject) =>
    execFile('gcloud', ['--version'], {timeout: 60_000}, err =>
      err
        ? reject(
            new Error(
              'the Google Cloud CLI (gcloud) is required for the replay tests: install google-cloud-cli',
            ),
          )
        : resolve(),
    ),
  );
}

/** A complete batch report of `conversations` (the parts a test cares about given). */
export function batchReportOf(
  ids: {day: string; runId: string; batchId: string},
  conversations: ReportConversation[],
  times: {startedAt: string; finishedAt: string},
  extra: Partial<BatchReport> = {},
): BatchReport {
  return {
    kind: 'batch-report',
    version: 1,
    ...ids,
    messageId: '1',
    attempt: 1,
    status: 'complete',
    ...times,
    conversations,
    totals: totalsOf(conversations),
    ...extra,
  };
}
