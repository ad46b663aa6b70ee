/**
 * Recording batch download requests: at most 100 items, `recordingId`
 * optional (all recordings of the conversation), results that appear
 * progressively while `expectedResultCount` can still grow, error results for
 * recordings that cannot be downloaded, on demand several results for one
 * recording, sensitive recordings silently left out for a client lacking
 * `recording:recording:viewSensitiveData` while redaction is on, readable only
 * by the submitting OAuth client, each good result with a signed, expiring
 * `resultUrl`.
 */
import {createHmac, randomUUID, timingSafeEqual} from 'node:crypto';
import {ApiError} from './errors';
import type {Organisation, Recording} from './org';
import {Rng} from './random';
import type {Settings} from './settings';

export const MAX_BATCH_ITEMS = 100;

interface PlannedResult {
  conversationId: string;
  recordingId?: string;
  contentType?: string;
  errorMsg?: string;
}

interface BatchJob {
  id: string;
  owner: string;
  createdMs: number;
  itemCount: number;
  results: PlannedResult[];
  stalled: boolean;
}

const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

const ERROR_MESSAGES: Partial<Record<Recording['fileState'], string>> = {
  ARCHIVED: 'Recording is archived. It must be restored before it can be downloaded.',
  RESTORING: 'Recording is being restored from the archive.',
  DELETED: 'Recording has been deleted.',
  UPLOADING: 'Recording is still uploading and is not yet available.',
  ERROR: 'Recording is in an error state and cannot be downloaded.',
};

/** What a signed media URL points at. */
export interface MediaTarget {
  conversationId: string;
  recordingId: string;
}

export class UrlSigner {
  constructor(private readonly secret: Buffer) {}

  /** `/media/{cid}/{rid}?Expires=…&Signature=…` (path and query, no origin). */
  sign(target: MediaTarget, expiresMs: number): string {
    const path = `/media/${target.conversationId}/${target.recordingId}`;
    const expires = Math.floor(expiresMs / 1000);
    return `${path}?Expires=${expires}&Signature=${this.mac(path, expires)}`;
  }

  /** 'ok', 'expired' or 'invalid' for a media request. */
  verify(path: string, query: URLSearchParams, nowMs: number): 'ok' | 'expired' | 'invalid' {
    const expires = Number(query.get('Expires'));
    const given = Buffer.from(query.get('Signature') ?? '', 'utf8');
    const wanted = Buffer.from(this.mac(path, expires), 'utf8');
    if (
      !Number.isInteger(expires) ||
      given.length !== wanted.length ||
      !timingSafeEqual(given, wanted)
    )
      return 'invalid';
    return nowMs / 1000 > expires ? 'expired' : 'ok';
  }

  private mac(path: string, expires: number): string {
    return createHmac('sha256', this.secret).update(`${path}\n${expires}`).digest('base64url');
  }
}

export class BatchRequests {
  private readonly jobs = new Map<string, BatchJob>();

  constructor(
    private readonly org: Organisation,
    private readonly settings: () => Settings,
    private readonly signer: UrlSigner,
  ) {}

  /**
   * `viewsSensitive`: the submitting client holds
   * `recording:recording:viewSensitiveData`. Without it (and with redaction
   * on), recordings flagged sensitive get no result at all: the job neither
   * counts them in `expectedResultCount` nor reports an error for them.
   */
  submit(
    body: unknown,
    owner: string,
    viewsSensitive: boolean,
    nowMs: number,
  ): {id: string; selfUri: string} {
    const list = (body as {batchDownloadRequestList?: unknown} | null)?.batchDownloadRequestList;
    if (!Array.isArray(list) || list.length === 0) {
      throw new ApiError(
        400,
        'bad.request',
        'batchDownloadRequestList is required and must hold at least one item.',
      );
    }
    if (list.length > MAX_BATCH_ITEMS) {
      throw new ApiError(
        400,
        'bad.request',
        `batchDownloadRequestList may hold at most ${MAX_BATCH_ITEMS} items; ${list.length} were given.`,
      );
    }
    list.forEach((item: {conversationId?: unknown; recordingId?: unknown}, i) => {
      if (typeof item?.conversationId !== 'string' || !UUID_RE.test(item.conversationId)) {
        throw new ApiError(
          400,
          'bad.request',
          `batchDownloadRequestList[${i}].conversationId must be a conversation id.`,
        );
      }
      if (
        item.recordingId !== undefined &&
        (typeof item.recordingId !== 'string' || !UUID_RE.test(item.recordingId))
      ) {
        throw new ApiError(
          400,
          'bad.request',
          `batchDownloadRequestList[${i}].recordingId must be a recording id.`,
        );
      }
    });
    const s = this.settings();
    const id = randomUUID();
    const results: PlannedResult[] = [];
    for (const item of list as Array<{conversationId: string; recordingId?: string}>) {
      const conv = this.org.find(item.conversationId);
      if (!conv) {
        results.push({
          conversationId: item.conversationId,
          recordingId: item.recordingId,
          errorMsg: 'Conversation not found.',
        });
        continue;
      }
      const wanted = item.recordingId?.toLowerCase();
      const recs = wanted ? conv.recordings.filter(r => r.id === wanted) : conv.recordings;
      if (item.recordingId && recs.length === 0) {
        results.push({
          conversationId: conv.id,
          recordingId: item.recordingId,
          errorMsg: 'Recording not found.',
        });
      }
      for (const rec of recs) {
        if (rec.sensitive && s.redaction && !viewsSensitive) continue;
        const error = ERROR_MESSAGES[rec.fileState];
        const internalError = {
          conversationId: conv.id,
          recordingId: rec.id,
          errorMsg: 'An internal error occurred while preparing the recording.',
        };
        const good = {conversationId: conv.id, recordingId: rec.id, contentType: rec.contentType};
        const duplicate = new Rng(id, rec.id, 'duplicate');
        if (error) results.push({conversationId: conv.id, recordingId: rec.id, errorMsg: error});
        else if (s.batchErrorRate > 0 && new Rng(id, rec.id).chance(s.batchErrorRate))
          results.push(internalError);
        else if (s.batchDuplicateRate > 0 && duplicate.chance(s.batchDuplicateRate)) {
          // Two results for one recording: two good ones, or an error and a good one in either order.
          const kind = duplicate.weighted({twoGood: 2, errorFirst: 1, errorLast: 1});
          if (kind === 'twoGood') results.push(good, good);
          else if (kind === 'errorFirst') results.push(internalError, good);
          else results.push(good, internalError);
        } else results.push(good);
      }
    }
    this.jobs.set(id, {
      id,
      owner,
      createdMs: nowMs,
      itemCount: list.length,
      results,
      stalled: s.batchStall,
    });
    return {id, selfUri: `/api/v2/recording/batchrequests/${id}`};
  }

  status(id: string, caller: string, nowMs: number, origin: string): Record<string, unknown> {
    const job = this.jobs.get(id);
    if (!job) throw new ApiError(404, 'not.found', `Batch download request ${id} was not found.`);
    if (job.owner !== caller) {
      throw new ApiError(
        403,
        'not.authorized',
        'Batch download results can only be read by the user or client that submitted the request.',
      );
    }
    const s = this.settings();
    const discovered = nowMs >= job.createdMs + s.batchDiscoveryMs;
    let ready = discovered
      ? Math.floor((nowMs - job.createdMs - s.batchDiscoveryMs) / Math.max(1, s.batchPerResultMs)) +
        1
      : 0;
    if (s.batchPerResultMs === 0 && discovered) ready = job.results.length;
    if (job.stalled) ready = Math.min(ready, Math.floor(job.results.length / 2));
    ready = Math.min(ready, job.results.length);
    const ttlMs = s.urlTtlSeconds > 0 ? s.urlTtlSeconds * 1000 : s.urlTtlMinutes * 60_000;
    const results = job.results.slice(0, ready).map((r, i) => {
      if (r.errorMsg)
        return {
          conversationId: r.conversationId,
          ...(r.recordingId ? {recordingId: r.recordingId} : {}),
          errorMsg: r.errorMsg,
        };
      const availableMs = job.createdMs + s.batchDiscoveryMs + i * s.batchPerResultMs;
      const url = this.signer.sign(
        {conversationId: r.conversationId, recordingId: r.recordingId!},
        availableMs + ttlMs,
      );
      return {
        conversationId: r.conversationId,
        recordingId: r.recordingId,
        contentType: r.contentType,
        resultUrl: `${origin}${url}`,
      };
    });
    const expected = discovered ? job.results.length : job.itemCount;
    return {
      id: job.id,
      jobId: job.id,
      expectedResultCount: expected,
      resultCount: results.length,
      errorCount: results.filter(r => 'errorMsg' in r).length,
      status: discovered && ready === job.results.length ? 'Completed' : 'InProgress',
      results,
      selfUri: `/api/v2/recording/batchrequests/${job.id}`,
    };
  }
}
