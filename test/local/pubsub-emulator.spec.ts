/**
 * The real Pub/Sub emulator as the stack wires it: the batches topic pushes
 * to the worker function through the Functions Framework (as Eventarc would),
 * with a retry policy and a dead-letter topic.
 */
import * as assert from 'node:assert';
import {execFile} from 'node:child_process';
import {promisify} from 'node:util';
import {PubSub} from '@google-cloud/pubsub';
import {TestStack, eventually, useStack} from '../setup/stack';
import {PubsubEmulatorMissingError, findPubsubEmulator} from '../../local/pubsub/emulator';

const run = promisify(execFile);

describe('Pub/Sub emulator wiring', function () {
  this.timeout(60_000);
  let stack: TestStack;
  let pubsub: PubSub;

  before(async function () {
    this.timeout(120_000);
    stack = await useStack();
    pubsub = new PubSub({projectId: stack.project, apiEndpoint: stack.pubsubHost});
  });

  after(async () => {
    await pubsub?.close();
  });

  const decode = (data: string | undefined) =>
    JSON.parse(Buffer.from(data ?? '', 'base64').toString('utf8')) as unknown;

  it('should push a published batch message to the worker as a messagePublished CloudEvent', async () => {
    const payload = {day: '2023-02-01', conversationIds: [`c-${Date.now()}`]};
    const id = await pubsub
      .topic(stack.topic)
      .publishMessage({json: payload, attributes: {kind: 'batch'}});
    const event = await eventually('the pushed event', () =>
      stack.workerEvents().find(e => e.data.message?.messageId === id),
    );
    assert.strictEqual(event.type, 'google.cloud.pubsub.topic.v1.messagePublished');
    assert.strictEqual(
      event.source,
      `//pubsub.googleapis.com/projects/${stack.project}/topics/${stack.topic}`,
    );
    assert.deepStrictEqual(decode(event.data.message?.data), payload);
    assert.strictEqual(event.data.message?.attributes?.kind, 'batch');
  });

  it('should redeliver a message the worker failed until it succeeds', async () => {
    const id = await pubsub
      .topic(stack.topic)
      .publishMessage({json: {retry: true}, attributes: {failTimes: '2'}});
    const deliveries = await eventually('three deliveries', () => {
      const got = stack.workerEvents().filter(e => e.data.message?.messageId === id);
      return got.length >= 3 ? got : undefined;
    });
    assert.deepStrictEqual(
      deliveries.map(d => d.failed),
      [true, true, false],
    );
  });

  it('should dead-letter a message that fails every delivery, after the configured attempts', async function () {
    this.timeout(90_000);
    const marker = `poison-${Date.now()}`;
    const id = await pubsub
      .topic(stack.topic)
      .publishMessage({json: {marker}, attributes: {failTimes: 'always'}});
    const sub = pubsub.subscription(stack.deadLetterSubscription);
    const dead = await eventually(
      'the dead-lettered message',
      () =>
        new Promise<{attributes: Record<string, string>} | undefined>(resolve => {
          const onMessage = (m: {
            data: Buffer;
            attributes: Record<string, string>;
            ack(): void;
          }) => {
            m.ack();
            if (m.data.toString().includes(marker)) finish(m);
          };
          const finish = (m?: {attributes: Record<string, string>}) => {
            clearTimeout(timer);
            sub.off('message', onMessage);
            resolve(m);
          };
          const timer = setTimeout(() => finish(), 2000);
          sub.on('message', onMessage);
        }),
      80_000,
    );
    await sub.close();
    assert.strictEqual(dead.attributes.CloudPubSubDeadLetterSourceDeliveryCount, '5');
    const attempts = stack.workerEvents().filter(e => e.data.message?.messageId === id);
    assert.strictEqual(attempts.length, 5);
    assert.ok(attempts.every(a => a.failed));
  });

  it('should take an operator replay published with the real gcloud CLI', async function () {
    this.timeout(60_000);
    const marker = `gcloud-${Date.now()}`;
    const {stdout} = await run(
      'gcloud',
      [
        'pubsub',
        'topics',
        'publish',
        stack.topic,
        `--message={"day":"2023-02-01","marker":"${marker}"}`,
      ],
      {
        env: {
          ...process.env,
          CLOUDSDK_API_ENDPOINT_OVERRIDES_PUBSUB: `http://${stack.pubsubHost}/`,
          CLOUDSDK_CORE_PROJECT: stack.project,
          CLOUDSDK_AUTH_DISABLE_CREDENTIALS: 'true',
        },
      },
    );
    assert.match(stdout, /messageIds/);
    await eventually('the replayed message at the worker', () =>
      stack.workerEvents().find(e => JSON.stringify(decode(e.data.message?.data)).includes(marker)),
    );
  });

  it('should fail with install instructions when the emulator is missing', () => {
    assert.throws(
      () =>
        findPubsubEmulator(
          {PATH: '/nonexistent', PUBSUB_EMULATOR_SCRIPT: '/nonexistent/cloud-pubsub-emulator'},
          [],
        ),
      (err: Error) =>
        err instanceof PubsubEmulatorMissingError &&
        /gcloud components install pubsub-emulator/.test(err.message) &&
        /google-cloud-cli-pubsub-emulator/.test(err.message),
    );
  });
});

describe('Genesys simulator in the stack', function () {
  this.timeout(60_000);

  it('should start with the stack and accept the default demo client', async () => {
    const stack = await useStack();
    assert.strictEqual(stack.env.GENESYS_SIMULATOR_URL, stack.genesysUrl);
    const res = await fetch(`${stack.genesysUrl}/oauth/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from('demo-client:demo-secret').toString('base64')}`,
      },
      body: 'grant_type=client_credentials',
    });
    assert.strictEqual(res.status, 200);
    assert.strictEqual(((await res.json()) as {token_type: string}).token_type, 'bearer');
  });
});
