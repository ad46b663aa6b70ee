/**
 * `npm run demo`: one nightly export, end to end, on the local stack.
 *
 * Starts the stack (Pub/Sub emulator, GCS emulator, Secret Manager, SendGrid
 * sink, Genesys simulator, the planner and worker functions), seeds a
 * synthetic organisation, calls the planner as Cloud Scheduler would, waits
 * for every batch report (showing batches reported, recordings exported and
 * retries so far) and the checker's marker, and checks the bucket
 * against the simulator's ground truth. With `--faults lossy` the day ends in
 * `_FAILURE` (with its email in the SendGrid sink); the source then recovers,
 * the `grm replay` command its email names is run, and the day turns `_SUCCESS`.
 * Ends with `grm verify` of the day (with `--retention-days`, in a bucket with
 * object retention, every object retained as in production) and its `grm
 * report` page. Exits 0 only on `_SUCCESS` with every exportable recording
 * verified and the day intact.
 */
import {UsageError, flag, numberFlag, parseFlags, usage} from './common/cli';
import {startStack} from './stack';
import {
  LOCAL_EXPORT_ENV,
  describeStack,
  productEnv,
  productFunctions,
  productSecrets,
  retentionEnv,
  shellExports,
} from './product';
import {
  DayResult,
  describeDay,
  describeMarker,
  mailAbout,
  refresh,
  replay,
  runDay,
  runGrmLine,
  storageFor,
  storeFor,
  waitForMarker,
} from './run-day';
import {defaultDay, isValidDay} from '../functions/core/time-window';
import {FAULT_PROFILES} from './fault-profiles';
import {verifierFor} from '../functions/ops/grm';
import {verificationText} from '../functions/ops/grm-text';
import {writeReport} from '../functions/ops/report-command';

const SPECS = [
  {name: 'conversations', help: 'conversations on the exported day (default 200)'},
  {name: 'seed', help: 'organisation seed (default demo)'},
  {name: 'day', help: "day to export, YYYY-MM-DD (default: what tonight's run exports)"},
  {
    name: 'faults',
    help: 'none, lossy (archived/restoring/uploading/erroring recordings: _FAILURE, email, replay, _SUCCESS), flaky (errors, resets, cut media) or rate-limited (default none)',
  },
  {
    name: 'retention-days',
    help: 'retain every recording and metadata object N days, locked (RETENTION_DAYS), in a bucket with object retention',
  },
  {name: 'keep', help: 'leave the stack running until Ctrl-C', boolean: true},
  {name: 'root', help: 'directory for the local state (default .local)'},
  {name: 'json', help: 'end with one JSON line of the figures', boolean: true},
  {name: 'help', help: 'print this help', boolean: true},
];

interface DemoOptions {
  flags: ReturnType<typeof parseFlags>;
  faults: string;
  day: string;
  conversations: number;
  /** RETENTION_DAYS and RETENTION_MODE (locked) for the functions, with --retention-days. */
  retention: Record<string, string>;
}

/** Reads and checks the flags once; a UsageError names the bad one. */
function demoOptions(argv: string[]): DemoOptions {
  const flags = parseFlags(argv, SPECS);
  const faults = flag(flags, 'faults', 'none');
  if (!(faults in FAULT_PROFILES)) {
    throw new UsageError(`--faults must be one of ${Object.keys(FAULT_PROFILES).join(', ')}`);
  }
  const day = flag(flags, 'day') ?? defaultDay(Date.now(), 'UTC', 3);
  if (!isValidDay(day)) throw new UsageError(`--day must be a date YYYY-MM-DD, got "${day}"`);
  const days = flag(flags, 'retention-days');
  return {
    flags,
    faults,
    day,
    conversations: numberFlag(flags, 'conversations', 200),
    retention: retentionEnv(days, days === undefined ? undefined : 'locked'),
  };
}

async function main(): Promise<number> {
  let options: DemoOptions;
  try {
    options = demoOptions(process.argv.slice(2));
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`demo: ${err.message}\n\n${usage('npm run demo -- [flags]', SPECS)}`);
      return 2;
    }
    throw err;
  }
  const {flags, faults, day, conversations, retention} = options;
  const retained = retention.RETENTION_DAYS !== undefined;
  if (flags.has('help')) {
    console.log(usage('npm run demo -- [flags]', SPECS));
    return 0;
  }
  const profile = FAULT_PROFILES[faults]!;
  const say = (text: string) => {
    if (!flags.has('json')) console.log(text);
  };

  say(
    `Starting the local stack with ${conversations} conversations on ${day} (faults: ${faults})…`,
  );
  const stack = await startStack({
    root: flag(flags, 'root'),
    functions: productFunctions(),
    secrets: productSecrets(),
    functionEnv: productEnv(retention),
    objectRetention: retained,
    genesys: {
      seed: flag(flags, 'seed', 'demo'),
      conversationsPerDay: 20,
      perDay: {[day]: conversations},
      profile: profile.org,
      settings: profile.settings as never,
    },
  });
  let result: DayResult | undefined;
  try {
    // Only a stack that stays up is worth pasting into another shell.
    say(describeStack(stack, {exports: flags.has('keep')}));
    if (!flags.has('keep')) {
      say(
        '\nThe stack stops when the demo ends; to reach it from another shell, run the demo with --keep (or use npm run stack).',
      );
    }
    if (profile.faults) {
      await fetch(`${stack.genesysUrl}/_admin/faults`, {
        method: 'POST',
        body: JSON.stringify(profile.faults),
      });
    }
    say(`\nCalling the planner as Cloud Scheduler would for the run that exports ${day}…`);
    // Progress while the batches run: one line rewritten in place on a terminal, a plain
    // line when something changed (at most every few seconds) anywhere else.
    result = await runDay(stack, {
      day,
      env: LOCAL_EXPORT_ENV,
      progress: flags.has('json') ? undefined : process.stdout,
    });
    say('\n' + describeDay(result));
    let marker = result.marker!;
    say('\n' + (await describeMarker(stack, marker)));
    if (marker.marker === '_FAILURE' && profile.org === 'lossy') {
      // The developer email's own command, as the operator would run it once the source is fixed.
      const mail = (await mailAbout(stack, day)).find(m => m.subject.includes('_FAILURE'));
      const command = mail ? /^ {5}(grm replay .*)$/m.exec(mail.text)?.[1] : undefined;
      await fetch(`${stack.genesysUrl}/_admin/recover?day=${day}`, {method: 'POST'});
      const recovers =
        '\nThe source recovers (the simulator restores archived recordings, finishes uploads and clears errors);';
      if (command) {
        say(`${recovers} running the command from the developer email: npx ${command}`);
        const ran = await runGrmLine(stack, command);
        for (const line of (ran.out + ran.err).trim().split('\n')) say(`  ${line}`);
      } else {
        say(`${recovers} replaying with the commands from _FAILURE…`);
        for (const line of await replay(stack, marker)) say(`  ${line}`);
      }
      // Each replayed batch rewrites its report and the checker decides again; wait for the
      // verdict once all of them are in (or show where the day stands after two minutes).
      const runId = marker.runId;
      marker = await waitForMarker(stack, LOCAL_EXPORT_ENV, day, {runId, want: '_SUCCESS'}).then(
        settled => settled.marker,
        async () =>
          (await waitForMarker(stack, LOCAL_EXPORT_ENV, day, {runId, timeoutMs: 10_000})).marker,
      );
      result = await refresh(stack, result);
      say('\n' + describeDay(result));
      say('\n' + (await describeMarker(stack, marker)));
    }
    const v = result.verification;
    const verified =
      v.missing.length === 0 && v.mismatched.length === 0 && v.exportable === v.exportedAndVerified;
    // The proof an auditor would ask for later: the day against what its reports recorded.
    const proof = await verifierFor(
      {
        bucket: stack.bucket,
        project: stack.project,
        env: LOCAL_EXPORT_ENV,
        gcsEndpoint: stack.gcsUrl,
      },
      {now: () => Date.now()},
      // As an auditor in archive_reader_members: --deep reads the recordings themselves.
      storageFor(stack, 'auditor'),
    ).verifyDay(day, {deep: true, requireRetention: retained});
    say(
      `\ngrm verify ${day} --deep${retained ? ' --require-retention' : ''}:\n${verificationText(proof)}`,
    );
    const page = `${stack.dirs.root}/report.html`;
    await writeReport({
      store: storeFor(stack),
      bucket: stack.bucket,
      env: LOCAL_EXPORT_ENV,
      from: day,
      to: day,
      out: page,
      now: Date.now,
    });
    say(`\ngrm report ${day}: ${page} (open it in a browser)`);
    const ok = verified && marker.marker === '_SUCCESS' && proof.intact;
    say(
      ok
        ? `\n_SUCCESS: every exportable recording of ${day} was exported and verified.`
        : `\n${marker.marker}: NOT everything exportable was exported and intact; see above.`,
    );
    if (flags.has('json')) {
      console.log(
        JSON.stringify({
          day,
          runId: result.runId,
          seconds: result.seconds,
          batches: result.reports.length,
          totals: result.totals,
          reasons: result.reasons,
          verification: {...v, missing: v.missing.length, mismatched: v.mismatched.length},
          files: result.filesDir,
          marker: marker.marker,
          intact: proof.intact,
          ok,
        }),
      );
    }
    if (flags.has('keep')) {
      say(
        [
          '\n--keep: the stack stays up; press Ctrl-C to stop it. Environment (paste into another shell):',
          ...shellExports(stack).map(l => `  ${l}`),
        ].join('\n'),
      );
      await new Promise<void>(resolve => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
    }
    return ok ? 0 : 1;
  } finally {
    await stack.stop();
  }
}

main().then(
  code => process.exit(code),
  err => {
    console.error(`demo: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
