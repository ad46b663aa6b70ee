/**
 * The developers' email about a day's outcome, sent once however checker
 * invocations race or repeat: claimed in the ledger (compare-and-swap)
 * before it is sent, recorded as sent after. A failed send puts the email
 * back to pending and throws, so the event is redelivered; a claim older
 * than `emailClaimMs` is taken to be abandoned and claimed again.
 */
import type {DayOutcome} from '../core/day-outcome';
import {MailContext, MailHistory, failureMail, recoveredMail} from '../core/emails';
import {RetryableError} from '../core/errors';
import {EmailState, Ledger, emailSettled, lastEmailed, sinceLastDecision} from '../core/ledger';
import type {Logger} from '../logger';
import type {Clock, Mailer, ObjectStore} from '../ports';
import {StoredLedger, readLedger, swapLedger} from './ledger';
import {recentNights} from './recent-nights';

export interface EmailSettings {
  env: string;
  bucket: string;
  developers: string[];
  emailMaxGaps: number;
  /** A claim on the email older than this is taken to be abandoned (the claimer crashed). */
  emailClaimMs?: number;
  /** How long a duplicate invocation waits for another one's email before asking for a redelivery. */
  emailWaitMs?: number;
}

export interface EmailDeps {
  settings: EmailSettings;
  store: ObjectStore;
  /** Built on first use (the API key comes from Secret Manager). */
  mailer: () => Promise<Mailer>;
  clock: Clock;
  logger: Logger;
}

/** Retries of the ledger write that records a sent email (it rides out a storage outage). */
const RECORD_SENT_MS = 180_000;

export class DeveloperEmail {
  constructor(private readonly deps: EmailDeps) {}

  /** Sends the outcome's email once: claim, send, record. Returns the email's final state. */
  async send(
    outcome: DayOutcome,
    current: StoredLedger,
    ledgerName: string,
    /** Said in a failure email besides its gaps (what the checker could not do). */
    notes: string[] = [],
  ): Promise<EmailState['state']> {
    const {settings, store, clock, logger} = this.deps;
    const claimMs = settings.emailClaimMs ?? 10 * 60_000;
    const waitUntil = clock.now() + (settings.emailWaitMs ?? 60_000);
    let ledger = current;
    for (;;) {
      const e = ledger.value.email;
      if (!e.needed || emailSettled(e)) return e.state;
      const claimAge = clock.now() - Date.parse(e.claimedAt ?? '1970-01-01T00:00:00Z');
      if (e.state === 'sending' && claimAge < claimMs) {
        if (clock.now() >= waitUntil) {
          throw new RetryableError('another invocation is sending this email; retrying later');
        }
        await clock.sleep(1000);
      } else {
        const claim: Ledger = {
          ...ledger.value,
          email: {
            ...e,
            state: 'sending',
            attempts: e.attempts + 1,
            claimedAt: new Date(clock.now()).toISOString(),
          },
        };
        const claimed = await swapLedger(store, ledgerName, claim, ledger.generation);
        if (claimed) {
          await this.sendClaimed(outcome, claim, ledgerName, claimed, notes);
          logger.info('developer email sent', {
            day: outcome.day,
            runId: outcome.runId,
            kind: e.kind,
            to: settings.developers.length,
          });
          return 'sent';
        }
      }
      const reread = await readLedger(store, ledgerName);
      if (!reread || reread.value.fingerprint !== outcome.fingerprint) return 'not-needed'; // superseded
      ledger = reread;
    }
  }

  private async sendClaimed(
    outcome: DayOutcome,
    claim: Ledger,
    ledgerName: string,
    generation: string,
    notes: string[],
  ): Promise<void> {
    const {settings} = this.deps;
    const ctx: MailContext = {
      env: settings.env,
      bucket: settings.bucket,
      maxGaps: settings.emailMaxGaps,
    };
    const told = lastEmailed(claim);
    const history: MailHistory = {
      nights: await recentNights(this.deps, settings.env, outcome.day, outcome.status),
      since: sinceLastDecision(claim),
      notes,
    };
    const rendered =
      claim.email.kind === 'recovered' && told
        ? recoveredMail(outcome, ctx, told, history)
        : failureMail(outcome, ctx, history);
    try {
      const mailer = await this.deps.mailer();
      await mailer.send({
        to: settings.developers,
        ...rendered,
        tags: {day: outcome.day, runId: outcome.runId, outcome: outcome.fingerprint},
      });
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      this.deps.logger.error(
        'developer email failed; the marker stands, the email will be retried',
        {
          day: outcome.day,
          runId: outcome.runId,
          reason,
        },
      );
      await swapLedger(
        this.deps.store,
        ledgerName,
        {...claim, email: {...claim.email, state: 'pending', lastError: reason.slice(0, 500)}},
        generation,
      );
      throw new RetryableError(`the developer email for ${outcome.day} was not sent: ${reason}`);
    }
    const sent: Ledger = {
      ...claim,
      email: {...claim.email, state: 'sent', sentAt: new Date(this.deps.clock.now()).toISOString()},
    };
    await this.recordSent(ledgerName, sent, generation);
  }

  /**
   * Records that the email went out. The write is idempotent under its
   * generation precondition, so a storage outage is ridden out by retrying it
   * (RECORD_SENT_MS, well inside the claim): only an instance that dies in
   * between, or an outage longer than that, leaves the claim to expire and
   * the email to be sent again. A lost response to a write that landed shows
   * as a changed generation holding exactly this record.
   */
  private async recordSent(name: string, sent: Ledger, generation: string): Promise<void> {
    const {clock, logger, store} = this.deps;
    const until = clock.now() + RECORD_SENT_MS;
    for (let attempt = 1, delay = 500; ; attempt++, delay = Math.min(delay * 2, 15_000)) {
      try {
        if (await swapLedger(store, name, sent, generation)) return;
        const now = await readLedger(store, name);
        const e = now?.value.email;
        if (e?.state !== 'sent' || e.claimedAt !== sent.email.claimedAt) {
          logger.warn('the ledger changed while the email was sent; not recording it', {
            day: sent.day,
          });
        }
        return;
      } catch (err) {
        if (!(err instanceof RetryableError) || clock.now() + delay > until) {
          logger.error('the email was sent but could not be recorded; it may be sent again', {
            day: sent.day,
            attempts: attempt,
            error: err,
          });
          throw err;
        }
        logger.warn('recording the sent email failed; retrying', {
          day: sent.day,
          attempt,
          delayMs: delay,
          error: err,
        });
        await clock.sleep(delay);
      }
    }
  }
}
