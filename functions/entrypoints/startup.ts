/**
 * What every entry point does with a configuration it cannot use: log it as
 * one ERROR line with every problem (Cloud Logging shows it, an alert can
 * match it), at cold start and on each invocation it fails, never anything
 * else of the environment.
 */
import {parseConfig} from '../config';
import {Container, container} from '../container';
import {ConfigError} from '../core/errors';
import {createLogger, Logger} from '../logger';

const SERVICE = 'genesys-recording-migrator';

/** Logs the configuration's problems; returns whether there were any. */
export function logConfigProblems(
  err: unknown,
  logger: Logger = createLogger({service: SERVICE}),
): err is ConfigError {
  if (!(err instanceof ConfigError)) return false;
  logger.error('the configuration is invalid; every invocation fails until it is fixed', {
    event: 'config_invalid',
    problems: err.problems,
  });
  return true;
}

/** At cold start: reads the configuration once, so its problems are logged before any request. */
export function checkConfigAtStartup(env: NodeJS.ProcessEnv = process.env): void {
  try {
    parseConfig(env);
  } catch (err) {
    if (!logConfigProblems(err)) throw err;
  }
}

/** The container, or its configuration's problems logged and the error thrown on (a retry then waits for a fix). */
export function configuredContainer(): Container {
  try {
    return container();
  } catch (err) {
    logConfigProblems(err);
    throw err;
  }
}
