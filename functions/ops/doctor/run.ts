/**
 * `grm doctor`: every check in order, each independent of the others' outcome
 * except where one needs what another read (the secrets' values, the
 * planner's URL). Nothing here throws for a failed check: each becomes a row.
 */
import type {CheckResult} from '../../core/doctor';
import type {SampleIds} from '../../core/bucket-access';
import {checkBucket} from './bucket';
import {checkGenesys} from './genesys';
import {checkPlanner, nextNightDay} from './planner';
import {checkSecrets} from './secrets';
import {checkSendGrid} from './sendgrid';
import {checkWiring} from './wiring';
import type {DoctorPorts, DoctorSettings} from './ports';

export async function runDoctor(p: DoctorPorts, s: DoctorSettings): Promise<CheckResult[]> {
  const secrets = await checkSecrets(p.secrets, s);
  const genesys = await checkGenesys(
    p.genesys,
    secrets.clients,
    s.genesysAt,
    s.metadataMode,
    s.archivedPolicy,
  );
  const sendgrid = await checkSendGrid(p.sendgrid, secrets.sendgridKey);
  const wiring = await checkWiring(p, s);
  const bucket = await checkBucket(p, s, sampleIds(s));
  const planner = await checkPlanner(p.planner, wiring.plannerUrl, s);
  return [...secrets.results, ...genesys, sendgrid, ...wiring.results, ...bucket, planner];
}

/** The names the bucket rights are checked on: the next night's day, ids of the real forms. */
export function sampleIds(s: DoctorSettings): SampleIds {
  const day = nextNightDay(s);
  return {
    env: s.env,
    day,
    runId: `r${day.replace(/-/g, '')}t000000-${s.probeToken}`,
    batchId: `b0001-${s.probeToken}`,
    conversationId: '0a1b2c3d-0000-4000-8000-000000000001',
    recordingId: '9f8e7d6c-0000-4000-8000-000000000002',
    messageId: '1234567890123456',
  };
}
