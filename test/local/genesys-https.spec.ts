/** The simulator over TLS, with a certificate made at start. */
import * as assert from 'node:assert';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as path from 'node:path';
import {TestSimulator, sdkClient, startSimulator, DAY_INTERVAL} from '../setup/simulator';

describe('Genesys simulator over HTTPS', function () {
  this.timeout(60_000);
  let sim: TestSimulator;
  let certFile: string;

  before(async () => {
    certFile = path.join(fs.mkdtempSync('/tmp/grm-cert-'), 'cert.pem');
    sim = await startSimulator([
      '--https',
      '--cert-out',
      certFile,
      '--conversations-per-day',
      '20',
    ]);
  });

  after(async () => {
    await sim?.stop();
  });

  it('should serve the API and HTTPS media URLs that the SDK and clients trust with the written certificate', async () => {
    assert.match(sim.url, /^https:\/\//);
    const agent = new https.Agent({ca: fs.readFileSync(certFile)});
    const sdk = sdkClient(sim.port, {protocol: 'https'});
    sdk.client.setProxyAgent(agent);
    await sdk.client.loginClientCredentialsGrant('demo-client', 'demo-secret');
    const page = await sdk.analytics.postAnalyticsConversationsDetailsQuery({
      interval: DAY_INTERVAL,
      paging: {pageSize: 20, pageNumber: 1},
    });
    assert.strictEqual(page.conversations?.length, 20);
    const {id} = await sdk.recording.postRecordingBatchrequests({
      batchDownloadRequestList: page.conversations!.map(c => ({conversationId: c.conversationId!})),
    });
    await new Promise(r => setTimeout(r, 400));
    const status = await sdk.recording.getRecordingBatchrequest(id!);
    const url = status.results?.find(r => r.resultUrl)?.resultUrl;
    assert.ok(url, 'twenty conversations hold at least one downloadable recording');
    assert.match(url, /^https:\/\//);
    const code = await new Promise<number>((resolve, reject) =>
      https
        .get(url, {agent}, res => {
          res.resume();
          resolve(res.statusCode ?? 0);
        })
        .on('error', reject),
    );
    assert.strictEqual(code, 200);
  });

  it('should be refused by a client that does not trust the certificate', async () => {
    await assert.rejects(
      new Promise((resolve, reject) =>
        https.get(`${sim.url}/api/v2/recording/settings`, resolve).on('error', reject),
      ),
      /self[- ]signed|unable to verify|certificate/i,
    );
  });
});
