/**
 * The requests of a Cloud Storage resumable upload session that carry bytes,
 * in chunks: every request but the last states where its bytes go
 * (`Content-Range: bytes A-B/*`, a multiple of 256 KiB) and is answered 308
 * with how much GCS kept (`Range`); the last states the object's size and
 * carries `X-Goog-Hash`, the checksum of the whole object, which GCS verifies
 * before it creates anything (400 and no object when the bytes it received
 * differ). The session is opened by @google-cloud/storage
 * (`File.createResumableUpload`), which cannot send that header.
 *
 * The session URI is the credential of these requests, as in Cloud Storage:
 * they carry no token (only the headers the client's request interceptors
 * add to its own upload requests), and the URI never appears in an error.
 * Transient failures (network, 408, 429, 5xx) are retried from what GCS says
 * it kept.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import {RetryableError} from '../core/errors';

/** Attempts per request of the session, the first included. */
const MAX_ATTEMPTS = 4;

/** A request whose connection sends and receives nothing this long is abandoned (and retried). */
const REQUEST_TIMEOUT_MS = 120_000;

/** Waits before a retry: 1 s, 2 s, 4 s, with up to half as much again at random. */
function backoffMs(attempt: number): number {
  const base = 1000 * 2 ** (attempt - 1);
  return base + Math.floor(Math.random() * base * 0.5);
}

/** What GCS answered to a request of the session. */
type Answer =
  {kind: 'incomplete'; persisted: number} | {kind: 'complete'; resource: Record<string, unknown>};

/**
 * An error answer of GCS to the session, in the shape of the storage
 * client's errors (`code`, `errors[0].reason`), so callers classify both alike.
 */
export class SessionRefused extends Error {
  override name = 'SessionRefused' as const;
  constructor(
    readonly code: number,
    message: string,
    readonly errors: Array<{reason?: string; message?: string}>,
  ) {
    super(message);
  }
}

/** Whether another attempt may get another answer: a network failure, a timeout, 408, 429, 5xx. */
function transient(err: unknown): boolean {
  if (err instanceof RetryableError) return false; // this module's own verdict on an answer
  if (!(err instanceof SessionRefused)) return true;
  return err.code === 408 || err.code === 429 || err.code >= 500;
}

/** `Content-Range` of bytes [from, end) of an object of `total` bytes (unknown: undefined). */
function contentRange(from: number, end: number, total: number | undefined): string {
  const size = total === undefined ? '*' : String(total);
  return from < end ? `bytes ${from}-${end - 1}/${size}` : `bytes */${size}`;
}

/** The error GCS answered with, from its JSON body (or its status alone). */
function refusalOf(status: number, text: string): SessionRefused {
  let error: {message?: unknown; errors?: unknown} | undefined;
  try {
    error = (JSON.parse(text) as {error?: typeof error}).error;
  } catch {
    error = undefined;
  }
  const message =
    typeof error?.message === 'string' ? error.message : `HTTP ${status} ${text.slice(0, 200)}`;
  const errors = Array.isArray(error?.errors)
    ? (error.errors as Array<{reason?: string; message?: string}>)
    : [];
  return new SessionRefused(status, message, errors);
}

export class ResumableSession {
  constructor(
    private readonly uri: string,
    /** Headers every request of the session carries (the client's own request interceptors'). */
    private readonly headers: Record<string, string> = {},
  ) {}

  /**
   * Sends `chunk` (its pieces in order, a multiple of 256 KiB in all), the
   * bytes from `offset` on, knowing more follow.
   */
  async append(chunk: readonly Buffer[], offset: number): Promise<void> {
    await this.send(chunk, offset);
  }

  /**
   * Sends the last bytes, from `offset` on, with `hash` (`crc32c=…` or
   * `md5=…`) of the whole object. Resolves with the object resource GCS
   * created; rejects with a SessionRefused (400) when the bytes it received
   * do not match.
   */
  async finish(
    chunk: readonly Buffer[],
    offset: number,
    hash: string,
  ): Promise<Record<string, unknown>> {
    const answer = await this.send(chunk, offset, hash);
    if (answer.kind !== 'complete') {
      throw new RetryableError('GCS did not complete the upload after its last bytes');
    }
    return answer.resource;
  }

  /**
   * Sends the chunk's bytes, [offset, offset + its length), and, with
   * `hash`, completes the object. After a transient failure it asks GCS what
   * it kept and sends the rest; GCS keeping less than a request carried
   * counts as an attempt.
   */
  private async send(chunk: readonly Buffer[], offset: number, hash?: string): Promise<Answer> {
    const length = chunk.reduce((n, piece) => n + piece.length, 0);
    const end = offset + length;
    const total = hash === undefined ? undefined : end;
    let from = offset;
    for (let attempt = 1; ; attempt++) {
      try {
        if (attempt > 1) {
          const known = await this.request([], 'bytes */*');
          if (known.kind === 'complete') return known;
          from = this.resumeAt(known.persisted, offset);
        }
        if (hash !== undefined || from < end) {
          const answer = await this.request(
            skip(chunk, from - offset),
            contentRange(from, end, total),
            hash,
          );
          if (answer.kind === 'complete') return answer;
          from = this.resumeAt(answer.persisted, offset);
        }
        if (hash === undefined && from >= end) return {kind: 'incomplete', persisted: from};
      } catch (err) {
        if (!transient(err) || attempt >= MAX_ATTEMPTS) throw err;
      }
      if (attempt >= MAX_ATTEMPTS) {
        throw new RetryableError(
          `GCS kept ${from - offset} of the ${length} bytes sent from offset ${offset} ` +
            `after ${attempt} attempts`,
        );
      }
      await new Promise(resolve => setTimeout(resolve, backoffMs(attempt)));
    }
  }

  /** Where to go on from, given what GCS kept: never before what it acknowledged already. */
  private resumeAt(persisted: number, offset: number): number {
    if (persisted < offset) {
      throw new RetryableError(
        `GCS holds ${persisted} bytes of an upload it had acknowledged ${offset} of`,
      );
    }
    return persisted;
  }

  /** One PUT to the session URI. */
  private async request(body: readonly Buffer[], range: string, hash?: string): Promise<Answer> {
    const res = await put(this.uri, body, {
      ...this.headers,
      'content-range': range,
      ...(hash !== undefined ? {'x-goog-hash': hash} : {}),
    });
    if (res.status === 308) {
      const kept = /^bytes=0-(\d+)$/.exec(String(res.headers.range ?? ''));
      return {kind: 'incomplete', persisted: kept ? Number(kept[1]) + 1 : 0};
    }
    if (res.status < 200 || res.status > 299) throw refusalOf(res.status, res.text);
    let resource: unknown;
    try {
      resource = JSON.parse(res.text);
    } catch {
      resource = undefined;
    }
    if (typeof resource !== 'object' || resource === null) {
      throw new RetryableError(
        `GCS completed the upload without an object resource (HTTP ${res.status})`,
      );
    }
    return {kind: 'complete', resource: resource as Record<string, unknown>};
  }
}

/** The pieces of `chunk` without its first `bytes` bytes (views, no copy). */
function skip(chunk: readonly Buffer[], bytes: number): Buffer[] {
  const out: Buffer[] = [];
  let left = bytes;
  for (const piece of chunk) {
    if (left >= piece.length) left -= piece.length;
    else {
      out.push(left > 0 ? piece.subarray(left) : piece);
      left = 0;
    }
  }
  return out;
}

/**
 * A PUT of the pieces of `body` and its whole answer. Plain node:http(s): the
 * pieces go to the socket as they are, never copied into one buffer.
 */
function put(
  uri: string,
  body: readonly Buffer[],
  headers: Record<string, string>,
): Promise<{status: number; headers: http.IncomingHttpHeaders; text: string}> {
  const url = new URL(uri);
  const transport = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = transport.request(
      url,
      {
        method: 'PUT',
        headers: {
          ...headers,
          'content-length': String(body.reduce((n, piece) => n + piece.length, 0)),
        },
        timeout: REQUEST_TIMEOUT_MS,
      },
      res => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      },
    );
    req.on('timeout', () =>
      req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS / 1000} s`)),
    );
    req.on('error', reject);
    // Corked: the pieces leave in one writev, not one write each.
    req.cork();
    for (const piece of body) req.write(piece);
    req.end();
    req.uncork();
  });
}
