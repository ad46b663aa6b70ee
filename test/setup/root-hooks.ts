/**
 * Mocha root hooks: quiet Google client libraries, and stop the shared local
 * stack once after the whole run.
 */
import {stopStack} from './stack';

process.env.METADATA_SERVER_DETECTION ??= 'none';

export const mochaHooks = {
  async afterAll(this: Mocha.Context) {
    this.timeout(30_000);
    await stopStack();
  },
};
