/**
 * The plan of one run of one day: what the planner discovered and published,
 * and what the checker holds the batch reports against.
 */
import type {PlannedBatch} from './batches';
import type {Day} from './time-window';

/** Why a plan exists beyond the nightly schedule: check-previous started it. */
export interface AutoRerun {
  /** The run this one replaces. */
  of: string;
  /** The state check-previous found the day in. */
  state: string;
  /** Automatic reruns of this day so far, this one included. */
  count: number;
}

export interface DayPlan {
  kind: 'plan';
  version: 1;
  day: Day;
  runId: string;
  window: {start: string; end: string; timeZone: string};
  createdAt: string;
  trigger: 'schedule' | 'explicit' | 'check-previous';
  discovery: 'jobs' | 'query';
  conversations: number;
  batches: PlannedBatch[];
  /** Present when check-previous planned the day again. */
  autoRerun?: AutoRerun;
}
