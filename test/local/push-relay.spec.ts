/**
 * The stack's push relay (local/pubsub/push-relay.ts) on the real Pub/Sub
 * emulator: more than the emulator's two pushes at once, Pub/Sub's wrapped
 * push body, nacks redelivered with the attempt count and dead-lettered after
 * the subscription's attempts, a push window that halves on failures.
 */
import * as assert from 'node:assert';
import * as http from 'node:http';
import * as os from 'node:os';
import {Message, PubSub} from '@google-cloud/pubsub';
import {freePort} from '../../local/common/processes';
import {PubsubEmulator, startPubsubEmulator} from '../../local/pubsub/emulator';
import {PushRelay, startPushRelay} from '../../local/pubsub/push-relay';
import {eventually} from '../setup/stack';

interface PushBody {
  message: {
    data: string;
    attributes?: Record<string, string>;
    messageId: string;
    message_id: string;
    publishTime: string;
    publish_time: string;
  };
  subscription: string;
  deliveryAttempt?: number;
}

describe('push relay (Pub/Sub emulator)', function () {
  this.timeout(90_000);
  const project = 'relay-project';
  let emulator: PubsubEmulator;
  let pubsub: PubSub;
  let server: http.Server;
  let port: number;
  /** What the endpoint does with a push: answer a status now, or hold it. */
  let handler: (body: PushBody, res: http.ServerResponse) => void;
  const received: PushBody[] = [];
  let relay: PushRelay | undefined;
  let n = 0;

  before(async function () {
    this.timeout(120_000);
    emulator = await startPubsubEmulator({logDir: os.tmpdir()});
    pubsub = new PubSub({projectId: project, apiEndpoint: emulator.host});
    await pubsub.createTopic('relay-dead-letters');
    await pubsub.topic('relay-dead-letters').createSubscription('relay-dead-letters-keep');
    port = await freePort();
    server = http.createServer((req, res) => {
      let text = '';
      req.on('data', c => (text += String(c)));
      req.on('end', () => {
        const body = JSON.parse(text) as PushBody;
        received.push(body);
        handler(body, res);
      });
    });
    await new Promise<void>(resolve => server.listen(port, '127.0.0.1', () => resolve()));
  });

  afterEach(async () => {
    await relay?.close();
    relay = undefined;
    received.length = 0;
  });

  after(async () => {
    server?.closeAllConnections();
    await new Promise(resolve => server?.close(resolve));
    await pubsub?.close();
    await emulator?.stop();
  });

  /** The message with these data on the dead-letter subscription (waits up to 20 s). */
  function deadLetter(data: string): Promise<Message> {
    const sub = pubsub.subscription('relay-dead-letters-keep');
    return new Promise<Message>((resolve, reject) => {
      const timer = setTimeout(() => finish(new Error(`${data} was not dead-lettered`)), 20_000);
      const onMessage = (m: Message) => {
        m.ack();
        if (m.data.toString() === data) finish(m);
      };
      const finish = (result: Message | Error) => {
        clearTimeout(timer);
        sub.off('message', onMessage);
        void sub.close();
        if (result instanceof Error) reject(result);
        else resolve(result);
      };
      sub.on('message', onMessage);
    });
  }

  /** A topic and a pull subscription with the stack's policies, and a relay pushing it. */
  async function relayed(maxWindow: number) {
    const name = `relay-${++n}`;
    await pubsub.createTopic(name);
    await pubsub.topic(name).createSubscription(name, {
      ackDeadlineSeconds: 600,
      retryPolicy: {minimumBackoff: {seconds: 1}, maximumBackoff: {seconds: 2}},
      deadLetterPolicy: {
        deadLetterTopic: `projects/${project}/topics/relay-dead-letters`,
        maxDeliveryAttempts: 5,
      },
    });
    relay = await startPushRelay({
      pubsubHost: emulator.host,
      project,
      subscription: name,
      endpoint: `http://127.0.0.1:${port}/projects/${project}/topics/${name}`,
      maxWindow,
      ackDeadlineSeconds: 600,
    });
    return {name, topic: pubsub.topic(name), relay};
  }

  it("should push more than the emulator's two messages at once, in Pub/Sub's push body", async () => {
    const held: http.ServerResponse[] = [];
    let holding = true;
    handler = (_body, res) => {
      // The first two pushes are answered at once (the window grows to 3), the next ones held.
      if (received.length <= 2 || !holding) res.writeHead(204).end();
      else held.push(res);
    };
    const {name, topic, relay: r} = await relayed(4);
    const ids = [];
    for (let i = 0; i < 6; i++)
      ids.push(await topic.publishMessage({json: {i}, attributes: {kind: 'batch'}}));
    await eventually('three pushes held at once', () => (held.length >= 3 ? true : undefined));
    await new Promise(res => setTimeout(res, 300));
    assert.strictEqual(held.length, 3, 'the window (1, +1 per ack: 3) is not exceeded');
    holding = false;
    for (const res of held.splice(0)) res.writeHead(200).end();
    await eventually('every message acknowledged', () =>
      r.stats().acked === 6 ? true : undefined,
    );
    const first = received[0]!;
    assert.strictEqual(first.subscription, `projects/${project}/subscriptions/${name}`);
    assert.strictEqual(first.message.messageId, first.message.message_id);
    assert.strictEqual(first.message.publishTime, first.message.publish_time);
    assert.ok(!Number.isNaN(Date.parse(first.message.publishTime)));
    assert.deepStrictEqual(first.message.attributes, {kind: 'batch'});
    assert.strictEqual(first.deliveryAttempt, 1);
    assert.deepStrictEqual(
      received.map(b => b.message.messageId).sort(),
      [...ids].sort(),
      'each message pushed once',
    );
    assert.deepStrictEqual(
      received
        .map(b => (JSON.parse(Buffer.from(b.message.data, 'base64').toString()) as {i: number}).i)
        .sort(),
      [0, 1, 2, 3, 4, 5],
    );
    assert.strictEqual(r.stats().peakOutstanding, 3);
    assert.strictEqual(r.stats().window, 4, 'grown by one per ack up to its maximum');
  });

  it('should nack what the endpoint refuses: redelivered with its attempt, dead-lettered after five, the window halved', async function () {
    this.timeout(120_000);
    handler = (body, res) => {
      const refuse = JSON.parse(Buffer.from(body.message.data, 'base64').toString()) as {
        refuse: number;
      };
      res.writeHead((body.deliveryAttempt ?? 1) <= refuse.refuse ? 429 : 200).end();
    };
    const {topic, relay: r} = await relayed(8);
    const flaky = await topic.publishMessage({json: {refuse: 2}});
    const poison = await topic.publishMessage({json: {refuse: 99}});
    await eventually(
      'the flaky message acknowledged',
      () => (r.stats().acked === 1 ? true : undefined),
      60_000,
    );
    assert.deepStrictEqual(
      received.filter(b => b.message.messageId === flaky).map(b => b.deliveryAttempt),
      [1, 2, 3],
    );
    await eventually(
      'five deliveries of the poison message',
      () => (received.filter(b => b.message.messageId === poison).length >= 5 ? true : undefined),
      90_000,
    );
    await new Promise(res => setTimeout(res, 3000));
    assert.deepStrictEqual(
      received.filter(b => b.message.messageId === poison).map(b => b.deliveryAttempt),
      [1, 2, 3, 4, 5],
      'no delivery after the fifth',
    );
    const dead = await deadLetter(JSON.stringify({refuse: 99}));
    assert.strictEqual(dead.attributes.CloudPubSubDeadLetterSourceDeliveryCount, '5');
    assert.strictEqual(r.stats().nacked['429'], 2 + 5);
    assert.strictEqual(r.stats().window, 1, 'halved on every refusal, never below 1');
  });
});
