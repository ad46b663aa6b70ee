/**
 * Whether lean metadata mode (METADATA=lean) may run on an OAuth client: only
 * on one proven to hold `recording:recording:viewSensitiveData`. Without it
 * Genesys leaves recordings flagged as sensitive out of batch download
 * results, silently; lean mode, which reads a conversation's recordings from
 * those results, would not know they exist. Full mode reads every
 * conversation's `recordingmetadata`, which lists them, so they become gaps.
 *
 * The proof is the route `grm doctor` asks too, `divisionspermitted/paged/me`:
 * the client holds the permission in at least one division. It is asked at
 * the first use of each client by this instance, on the client's own token,
 * and remembered for the instance's life; an answer that did not come
 * (Genesys unavailable after the adapter's retries) is asked again after
 * RECHECK_MS, the batches in between running in full mode. A client that is
 * not proven (it lacks the permission, the route was refused or unknown, no
 * answer) runs in full mode, and that is logged once per check, at ERROR,
 * with the reason; the batch reports carry it too (core/lean-notes.ts).
 */
import {PermanentError} from '../core/errors';
import {VIEW_SENSITIVE_DATA} from '../core/lean-inference';
import type {Logger} from '../logger';
import type {Clock, GenesysSession} from '../ports';

/** How long a check that got no answer stands before the next batch asks again (ms). */
export const RECHECK_MS = 10 * 60_000;

interface Check {
  /** Undefined: proven; else why lean mode may not run on the client. */
  refusal: Promise<string | undefined>;
  /** When it may be asked again (never for an answer). */
  until: number;
}

export class LeanGate {
  private readonly checks = new Map<number, Check>();

  constructor(private readonly deps: {clock: Clock; logger: Logger}) {}

  /** Undefined when lean mode may run on the session's client; else why it may not. */
  refusal(session: GenesysSession): Promise<string | undefined> {
    const now = this.deps.clock.now();
    const known = this.checks.get(session.clientIndex);
    if (known && now < known.until) return known.refusal;
    const check: Check = {refusal: Promise.resolve(undefined), until: Infinity};
    check.refusal = this.check(session, check);
    this.checks.set(session.clientIndex, check);
    return check.refusal;
  }

  private async check(session: GenesysSession, check: Check): Promise<string | undefined> {
    const client = `OAuth client ${session.clientIndex}`;
    let reason: string;
    let answered = true;
    try {
      const divisions = await session.divisionsPermitted(VIEW_SENSITIVE_DATA);
      if (divisions > 0) {
        this.deps.logger.info('lean metadata mode proven for an OAuth client', {
          clientIndex: session.clientIndex,
          permission: VIEW_SENSITIVE_DATA,
          divisions,
        });
        return undefined;
      }
      reason =
        `${client} does not hold ${VIEW_SENSITIVE_DATA} (in no division, says Genesys): ` +
        'batch downloads leave its sensitive recordings out silently';
    } catch (err) {
      // A refusal (403, 404, a malformed answer) stands; no answer at all is asked again later.
      answered = err instanceof PermanentError;
      const why = err instanceof Error ? err.message : String(err);
      reason =
        `whether ${client} holds ${VIEW_SENSITIVE_DATA} could not be checked (${why})` +
        (answered ? '' : `; asked again in ${RECHECK_MS / 60_000} minutes`);
    }
    if (!answered) check.until = this.deps.clock.now() + RECHECK_MS;
    this.deps.logger.error('lean metadata mode refused: the OAuth client runs in full mode', {
      clientIndex: session.clientIndex,
      reason,
    });
    return reason;
  }
}
