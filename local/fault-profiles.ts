/**
 * The demo's fault profiles (`npm run demo -- --faults NAME`): the simulator
 * organisation and settings, and the fault rules put on the Genesys simulator.
 * The fault matrix (test/faults/) reuses the flaky rules.
 */
export interface FaultProfile {
  settings?: Record<string, unknown>;
  faults?: unknown[];
  /** The organisation's recording states (lossy: also archived, restoring, uploading and erroring ones). */
  org?: 'clean' | 'lossy';
}

export const FAULT_PROFILES: Record<string, FaultProfile> = {
  none: {},
  lossy: {org: 'lossy'},
  flaky: {
    settings: {truncateMediaRate: 0.05, batchPerResultMs: 20},
    faults: [
      {path: '^/api/v2/', action: 'status', status: 503, probability: 0.05},
      {path: '^/api/v2/', action: 'status', status: 408, probability: 0.02},
      {path: '^/api/v2/conversations/', action: 'reset', probability: 0.02},
      {path: '^/media/', action: 'status', status: 502, probability: 0.03},
    ],
  },
  'rate-limited': {settings: {rateLimitPerMinute: 100}},
};
