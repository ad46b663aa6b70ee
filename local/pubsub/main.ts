/**
 * `npm run local:pubsub -- --port N`
 *
 * Starts the Google Cloud CLI's Pub/Sub emulator on 127.0.0.1 and stops it
 * (java included) on Ctrl-C.
 */
import {startPubsubEmulator} from './emulator';
import {flag, portFlag} from '../common/cli';
import {runService} from '../common/service-main';

runService(
  'pubsub-emulator',
  'Pub/Sub emulator (Google Cloud CLI, Java)',
  [
    {name: 'port', help: 'TCP port on 127.0.0.1 (default 0 = any free port)'},
    {name: 'logs', help: 'log directory (default .local/logs)'},
  ],
  async flags => {
    const emulator = await startPubsubEmulator({
      port: portFlag(flags),
      logDir: flag(flags, 'logs', '.local/logs'),
    });
    return {
      port: emulator.port,
      info: {env: `export PUBSUB_EMULATOR_HOST=${emulator.host}`, log: emulator.child.logFile},
      stop: () => emulator.stop(),
    };
  },
);
