/**
 * `grm restore DAY`: has the pipeline restore the archived recordings of a
 * day's `_FAILURE` (the planner queues them; its every-minute tick restores
 * them, exports them and decides the day again). `grm restore status`: where
 * the restores stand, read from the bucket.
 */
import {MAX_INBOX_BYTES, MAX_RESTORES_BYTES} from '../core/limits';
import {restoreInboxPrefix, restoresObjectName} from '../core/object-names';
import {restoreStatus, restoreStatusText} from '../core/restore-status';
import {
  RestoreInbox,
  RestoreRecord,
  inboxRecordings,
  restoreInboxProblems,
  restoreRecordProblems,
} from '../core/restore-record';
import {day as dayArg} from './grm-cli';
import {MigrateDeps, planner} from './migrate-command';

/** What the command needs: the same as grm migrate's. */
export type RestoreDeps = MigrateDeps;

export async function restoreCommand(d: RestoreDeps, arg: string | undefined): Promise<number> {
  const print = (value: unknown, text: () => string) =>
    d.out(d.json ? JSON.stringify(value, null, 2) : text());
  if (arg === 'status') {
    const got = await d.store.readJson<RestoreRecord>(
      restoresObjectName(d.env),
      MAX_RESTORES_BYTES,
    );
    if (got) {
      const problems = restoreRecordProblems(got.value);
      if (problems.length > 0)
        throw new Error(`the restore record is unreadable: ${problems.join('; ')}`);
    }
    const waiting = new Map<string, number>();
    const prefix = restoreInboxPrefix(d.env);
    for (const o of await d.store.list(prefix)) {
      const inbox = await d.store
        .readJson<RestoreInbox>(o.name, MAX_INBOX_BYTES)
        .catch(() => undefined); // too large or not JSON: not one the pipeline wrote
      if (!inbox || restoreInboxProblems(inbox.value).length > 0) continue;
      const n = inboxRecordings(inbox.value.batches);
      // The planner takes a day's current file and removes the others: count the largest.
      waiting.set(inbox.value.day, Math.max(waiting.get(inbox.value.day) ?? 0, n));
    }
    const status = restoreStatus(
      got?.value,
      [...waiting].sort().map(([day, recordings]) => ({day, recordings})),
      d.now(),
    );
    print(status, () => restoreStatusText(status));
    return 0;
  }
  const day = dayArg(arg, 'DAY');
  const res = await planner(d, {restore: {day}});
  const ok = res.status >= 200 && res.status < 300;
  const answer = res.body as {queued?: number; error?: string};
  print(res, () =>
    !ok
      ? `The planner answered ${res.status}: ${answer.error ?? JSON.stringify(res.body)}`
      : answer.queued
        ? `Queued ${answer.queued} archived recording(s) of ${day}: the pipeline restores them, exports them and decides ${day} again (hours); see grm restore status.`
        : `Nothing to restore for ${day}: it has no _FAILURE with archived recordings.`,
  );
  return ok ? 0 : 1;
}
