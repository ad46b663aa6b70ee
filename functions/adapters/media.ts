/** MediaFetcher over fetch: a plain GET of a pre-signed URL, body streamed. */
import {Readable} from 'node:stream';
import {RetryableError} from '../core/errors';
import type {MediaFetcher, MediaResponse} from '../ports';

/** Time to wait for the response headers of a media URL, in ms. */
const HEADERS_TIMEOUT_MS = 60_000;

export class HttpMediaFetcher implements MediaFetcher {
  async get(url: string, signal?: AbortSignal): Promise<MediaResponse> {
    let res: Response;
    const abort = new AbortController();
    // Here only the wait for headers is bounded; the exporter watches the body for stalls.
    const timer = setTimeout(() => abort.abort(), HEADERS_TIMEOUT_MS);
    try {
      res = await fetch(url, {
        signal: signal ? AbortSignal.any([abort.signal, signal]) : abort.signal,
      });
    } catch (err) {
      // Never repeat the URL: it is a credential.
      throw new RetryableError(
        'media download failed before a response arrived',
        {},
        {cause: (err as Error).name},
      );
    } finally {
      clearTimeout(timer);
    }
    const length = res.headers.get('content-length');
    return {
      status: res.status,
      contentType: res.headers.get('content-type') ?? undefined,
      contentLength: length === null ? undefined : Number(length),
      body: res.body ? Readable.fromWeb(res.body as never) : Readable.from([]),
    };
  }
}
