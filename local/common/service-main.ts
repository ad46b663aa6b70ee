/**
 * The common `main` of a local stand-in: parse flags, start, announce
 * readiness with one JSON line on stdout (`{"ready":true,"name":…,"port":…}`)
 * so a parent process can wire it, and stop cleanly on SIGINT/SIGTERM.
 */
import {FlagSpec, ParsedFlags, UsageError, parseFlags, usage} from './cli';

export interface RunningService {
  readonly port: number;
  /** Extra facts printed in the ready line (URLs, directories). */
  readonly info?: Record<string, unknown>;
  stop(): Promise<void>;
}

export const READY_MARKER = '"ready":true';

export function runService(
  name: string,
  title: string,
  specs: readonly FlagSpec[],
  start: (flags: ParsedFlags) => Promise<RunningService>,
): void {
  const all = [...specs, {name: 'help', help: 'print this help', boolean: true}];
  let flags: ParsedFlags;
  try {
    flags = parseFlags(process.argv.slice(2), all);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`${name}: ${err.message}\n\n${usage(title, all)}`);
      process.exit(2);
    }
    throw err;
  }
  if (flags.has('help')) {
    console.log(usage(title, all));
    return;
  }
  start(flags).then(
    service => {
      console.log(JSON.stringify({ready: true, name, port: service.port, ...service.info}));
      let stopping = false;
      const stop = () => {
        if (stopping) return;
        stopping = true;
        service.stop().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    },
    (err: unknown) => {
      console.error(
        `${name}: failed to start: ${err instanceof Error ? err.message : String(err)}`,
      );
      process.exit(1);
    },
  );
}
