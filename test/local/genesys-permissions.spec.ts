/**
 * What a client-credentials client of the simulator can learn about its own
 * permissions, through the official SDK: the divisions it holds a permission
 * in (`getAuthorizationDivisionspermittedPagedMe`), none for a permission its
 * `--client` spec says it lacks, or for viewSensitiveData while
 * `dropSensitive` is set; and the calls `grm doctor` makes per permission
 * (a zero-result analytics query, recording metadata of a conversation that
 * does not exist) answer as they do for the pipeline.
 */
import * as assert from 'node:assert';
import platformClient from 'purecloud-platform-client-v2';
import {TestSimulator, sdkClient, startSimulator} from '../setup/simulator';

const SENSITIVE = 'recording:recording:viewSensitiveData';
const NIL = '00000000-0000-0000-0000-000000000000';

interface Listing {
  entities?: Array<{id?: string; name?: string; homeDivision?: boolean}>;
  total?: number;
}

describe('Genesys simulator: a client asks which permissions it holds (official SDK)', function () {
  this.timeout(60_000);
  let sim: TestSimulator;

  before(async function () {
    this.timeout(60_000);
    sim = await startSimulator([
      '--seed',
      'permissions',
      '--conversations-per-day',
      '3',
      '--client',
      'full:full-secret',
      '--client',
      `limited:limited-secret;lacks=${SENSITIVE}`,
    ]);
  });

  after(async () => {
    await sim?.stop();
  });

  async function authorizationApi(id: string, secret: string) {
    const sdk = sdkClient(sim.port);
    await sdk.client.loginClientCredentialsGrant(id, secret);
    return {sdk, authz: new platformClient.AuthorizationApi(sdk.client)};
  }

  it('should list the home division for each permission the export needs', async () => {
    const {authz} = await authorizationApi('full', 'full-secret');
    for (const permission of [
      'analytics:conversationDetail:view',
      'recording:recording:view',
      SENSITIVE,
      'analytics:conversationdetail:view',
    ]) {
      const listing = (await authz.getAuthorizationDivisionspermittedPagedMe(
        permission,
      )) as Listing;
      assert.strictEqual(listing.total, 1, permission);
      assert.strictEqual(listing.entities?.[0]?.homeDivision, true);
    }
    const other = (await authz.getAuthorizationDivisionspermittedPagedMe(
      'routing:queue:edit',
    )) as Listing;
    assert.deepStrictEqual([other.total, other.entities], [0, []]);
  });

  it('should list no division for the permission a client lacks, and the others as usual', async () => {
    const {authz} = await authorizationApi('limited', 'limited-secret');
    const sensitive = (await authz.getAuthorizationDivisionspermittedPagedMe(SENSITIVE)) as Listing;
    assert.deepStrictEqual([sensitive.total, sensitive.entities], [0, []]);
    const view = (await authz.getAuthorizationDivisionspermittedPagedMe(
      'recording:recording:view',
    )) as Listing;
    assert.strictEqual(view.total, 1);
  });

  it('should take viewSensitiveData from every client while dropSensitive is set', async () => {
    await sim.admin('config', {method: 'PATCH', body: {dropSensitive: true}});
    try {
      const {authz} = await authorizationApi('full', 'full-secret');
      const listing = (await authz.getAuthorizationDivisionspermittedPagedMe(SENSITIVE)) as Listing;
      assert.strictEqual(listing.total, 0);
    } finally {
      await sim.admin('config', {method: 'PATCH', body: {dropSensitive: false}});
    }
  });

  it('should refuse the route without a permission, and without a token', async () => {
    const sdk = sdkClient(sim.port);
    const auth = await sdk.client.loginClientCredentialsGrant('full', 'full-secret');
    const res = await fetch(`${sim.url}/api/v2/authorization/divisionspermitted/paged/me`, {
      headers: {authorization: `Bearer ${auth.accessToken}`},
    });
    assert.strictEqual(res.status, 400);
    const anonymous = await fetch(
      `${sim.url}/api/v2/authorization/divisionspermitted/paged/me?permission=${SENSITIVE}`,
    );
    assert.strictEqual(anonymous.status, 401);
  });

  it('should answer the per-permission calls doctor makes: an empty query page, a 404 for metadata', async () => {
    const {sdk} = await authorizationApi('limited', 'limited-secret');
    const analytics = new platformClient.AnalyticsApi(sdk.client);
    const page = (await analytics.postAnalyticsConversationsDetailsQuery({
      interval: '2001-01-01T00:00:00.000Z/2001-01-01T00:00:00.001Z',
      paging: {pageSize: 1, pageNumber: 1},
    })) as {conversations?: unknown[]; totalHits?: number};
    assert.strictEqual(page.conversations, undefined);
    const recording = new platformClient.RecordingApi(sdk.client);
    await assert.rejects(
      recording.getConversationRecordingmetadata(NIL),
      (err: {status?: number}) => {
        assert.strictEqual(err.status, 404);
        return true;
      },
    );
  });
});
