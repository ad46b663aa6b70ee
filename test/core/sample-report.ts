/**
 * One small batch report the pure tests of the decided records and of
 * `grm verify` share: day 2026-11-28, run r1, batch b0001, conversation c1
 * with its metadata document (generation 5) and an exported call r1
 * (generation 7), and a second recording that was not exported.
 */
import type {
  BatchReport,
  ReportConversation,
  ReportRecording,
  StoredCopy,
} from '../../functions/core/report';

import {batchReportOf} from '../helpers';

export const SAMPLE_DAY = '2026-11-28';

export function sampleNames(env: string): {recording: string; metadata: string} {
  return {
    recording: `${env}/${SAMPLE_DAY}/call/c1_r1.opus`,
    metadata: `${env}/${SAMPLE_DAY}/metadata/c1.json`,
  };
}

export function sampleReport(
  env: string,
  o: {
    other: ReportRecording;
    recording?: Partial<ReportRecording>;
    metadata?: Partial<StoredCopy>;
    conversation?: Partial<ReportConversation>;
  },
): BatchReport {
  const names = sampleNames(env);
  const recording = {
    recordingId: 'r1',
    type: 'call',
    outcome: 'exported',
    object: names.recording,
    size: 100,
    md5Hash: 'cmVj',
    crc32c: 'AAAAAg==',
    generation: '7',
    ...o.recording,
  } as ReportRecording;
  return batchReportOf(
    {day: SAMPLE_DAY, runId: 'r1', batchId: 'b0001'},
    [
      {
        conversationId: 'c1',
        metadataObject: names.metadata,
        metadataStored: {
          generation: '5',
          size: 10,
          md5Hash: 'bWV0YQ==',
          crc32c: 'AAAAAQ==',
          ...o.metadata,
        },
        recordings: [recording, o.other],
        ...o.conversation,
      },
    ],
    {startedAt: '2026-12-01T00:00:00Z', finishedAt: '2026-12-01T00:01:00Z'},
  );
}
