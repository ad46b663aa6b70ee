/**
 * How many bytes of each bookkeeping object the pipeline and `grm` read at
 * most. One bound per kind of object, shared by every reader, so the checker
 * that decides a day and `grm verify` that checks the decision see the same
 * objects as readable. An object above its bound is refused unread (the
 * store's PermanentError), never read whole.
 */

const MiB = 1024 * 1024;

/**
 * The plan, and one plan part: a version-1 plan lists at most PLAN_PART_CONVERSATIONS ids
 * (~0.5 MB), a version-2 one a line per batch (1M conversations, ~1 MB), a part at most
 * PLAN_PART_CONVERSATIONS ids.
 */
export const MAX_PLAN_BYTES = 32 * MiB;

/**
 * One batch report: 1,000 conversations (the most a message may carry) of 20 recordings each
 * are ~9.3 MiB, their attributes at their bounds (core/conversation-attributes.ts
 * ATTRIBUTE_LIMITS) at most ~6.7 MiB more. A report above it is a failed batch to the checker,
 * so no decision accepts one, and `grm verify` reads no more than the checker did.
 */
export const MAX_REPORT_BYTES = 32 * MiB;

/** One waiver object (a waiver of 1000 recordings is ~90 KB). */
export const MAX_WAIVER_BYTES = 256 * 1024;

/** The day's ledger (100 decisions of 10,000 gaps' keys are ~2 MB). */
export const MAX_LEDGER_BYTES = 16 * MiB;

/**
 * A day marker as `grm` reads it: a `_FAILURE` lists every gap (about 360 bytes each), so a day
 * with 100,000 gaps makes a 36 MiB marker; grm runs on an operator's machine, not in a function.
 */
export const MAX_MARKER_BYTES = 256 * MiB;

/**
 * A `_SUCCESS` as the planner reads it inside a function: it lists no gaps (a hand-made one
 * may be anything).
 */
export const MAX_SUCCESS_BYTES = 16 * MiB;

/** The day's recordings index as `grm verify` reads it (a row is ~1 KB). */
export const MAX_INDEX_BYTES = 512 * MiB;

/**
 * The day's decided records: a record is ~350 bytes, a day of 250,000 conversations (what one
 * checker decides in its memory) ~2 records each.
 */
export const MAX_RECORDS_BYTES = 256 * MiB;

/** A migration's record (ten years of planned days are ~50 KB) and the priority days list. */
export const MAX_MIGRATION_BYTES = 1 * MiB;

/** The restore record: RESTORE_OUTSTANDING (at most 2,000) entries of a few hundred bytes. */
export const MAX_RESTORES_BYTES = 4 * MiB;

/** A restore queue file: MAX_QUEUED_PER_FILE (100,000) recordings fit well within it. */
export const MAX_INBOX_BYTES = 32 * MiB;
