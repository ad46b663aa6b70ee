/**
 * `npm run local:genesys -- --port N [--seed S] [--conversations-per-day N] …`
 *
 * Starts the Genesys Cloud simulator. Point the official SDK at it with
 * `ApiClient.instance.setGateway({host: '127.0.0.1', port: N, protocol: 'http'})`
 * and log in with a configured client (default `demo-client:demo-secret`).
 */
import * as fs from 'node:fs';
import {localCertificate} from '../common/tls';
import {Organisation, StateProfile} from './org';
import {createSimulator} from './server';
import {parseSettings} from './settings';
import {UsageError, flag, numberFlag, portFlag} from '../common/cli';
import {DEFAULT_CLIENT, MODELLED, parseClients} from './clients';
import {close, listen} from '../common/http';
import {runService} from '../common/service-main';

runService(
  'genesys-simulator',
  'Genesys Cloud simulator (OAuth, analytics, recordings, batch downloads, media)',
  [
    {name: 'port', help: 'TCP port on 127.0.0.1 (default 0 = any free port)'},
    {name: 'seed', help: 'organisation seed (default demo)'},
    {name: 'conversations-per-day', help: 'conversations on every day (default 200)'},
    {name: 'day', help: 'conversations on one day: YYYY-MM-DD=N', repeatable: true},
    {
      name: 'profile',
      help: 'recording states: clean (exportable or deleted) or lossy (also archived, restoring, uploading, error)',
    },
    {name: 'audio-bytes', help: 'average call recording size in bytes (default 204800)'},
    {name: 'screen-bytes', help: 'average screen recording size in bytes (default 1048576)'},
    {
      name: 'sensitive-share',
      help: 'share of recordings flagged as holding PCI/PII, 0..1 (default 0.02)',
    },
    {
      name: 'client',
      help: `OAuth client ID:SECRET, or ID:SECRET;lacks=PERMISSION[,PERMISSION…] with PERMISSION one of ${MODELLED.join(', ')} (default ${DEFAULT_CLIENT})`,
      repeatable: true,
    },
    {name: 'settings', help: 'JSON object of runtime settings (see GET /_admin/config)'},
    {name: 'rate-limit', help: 'API requests per token per minute (default 300)'},
    {
      name: 'client-rate-limit',
      help: 'API requests per OAuth client per minute across its tokens (default 3000)',
    },
    {
      name: 'token-creation-limit',
      help: 'tokens an OAuth client may create per minute (default 60, an assumed value)',
    },
    {
      name: 'https',
      help: 'serve HTTPS with a self-signed certificate made at start',
      boolean: true,
    },
    {name: 'cert-out', help: 'with --https: write the certificate (PEM) to this file'},
  ],
  async flags => {
    const profile = flag(flags, 'profile', 'clean');
    if (profile !== 'clean' && profile !== 'lossy')
      throw new UsageError('--profile must be clean or lossy');
    const perDay: Record<string, number> = {};
    for (const spec of flags.get('day') ?? []) {
      const m = /^(\d{4}-\d{2}-\d{2})=(\d+)$/.exec(spec);
      if (!m) throw new UsageError(`--day must be YYYY-MM-DD=N, got "${spec}"`);
      perDay[m[1]!] = Number(m[2]);
    }
    const sensitiveShare = numberFlag(flags, 'sensitive-share', 0.02);
    if (sensitiveShare > 1) throw new UsageError('--sensitive-share must be between 0 and 1');
    const clients = parseClients(flags.get('client') ?? []);
    const org = new Organisation({
      seed: flag(flags, 'seed', 'demo'),
      conversationsPerDay: numberFlag(flags, 'conversations-per-day', 200),
      perDay,
      profile: profile as StateProfile,
      audioBytes: numberFlag(flags, 'audio-bytes', 200 * 1024),
      screenBytes: numberFlag(flags, 'screen-bytes', 1024 * 1024),
      sensitiveShare,
    });
    const settingsJson = flag(flags, 'settings');
    const settings = settingsJson ? parseSettings(JSON.parse(settingsJson)) : {};
    const limitFlags = {
      'rate-limit': 'rateLimitPerMinute',
      'client-rate-limit': 'clientRateLimitPerMinute',
      'token-creation-limit': 'tokenCreationPerMinute',
    } as const;
    for (const [name, key] of Object.entries(limitFlags)) {
      if (flags.has(name)) settings[key] = numberFlag(flags, name, 0);
    }
    let tls: {key: string; cert: string} | undefined;
    if (flags.has('https')) {
      tls = await localCertificate();
      const out = flag(flags, 'cert-out');
      if (out) fs.writeFileSync(out, tls.cert);
    }
    const sim = createSimulator({
      org,
      clients,
      settings,
      tls,
    });
    const port = await listen(sim.server, portFlag(flags));
    const scheme = tls ? 'https' : 'http';
    return {
      port,
      info: {
        url: `${scheme}://127.0.0.1:${port}`,
        seed: org.config.seed,
        clients: [...clients.keys()],
      },
      stop: () => close(sim.server),
    };
  },
);
