/**
 * Mocha root hooks: quiet Google client libraries, and stop the shared local
 * stack once after the whole run.
 */
import {stopProductStacks, stopStack} from './stack';

process.env.METADATA_SERVER_DETECTION ??= 'none';

export const mochaHooks = {
  async afterAll(this: Mocha.Context) {
    this.timeout(60_000);
    await stopStack();
    await stopProductStacks();
  },
};
