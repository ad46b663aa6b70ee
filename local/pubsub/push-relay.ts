/**
 * Push delivery for one subscription, done in the stack process instead of
 * by the emulator, for a worker that runs as a fleet.
 *
 * Why: the Pub/Sub emulator (0.8.x) pushes a subscription with two
 * synchronous loops (FakePubsubServer.SubscriptionData.startPushLoops), so
 * never more than two messages are at the push endpoint at once. Pub/Sub
 * pushes as many as the endpoint takes: it "dynamically adjusts the rate of
 * push requests based on the rate at which it receives success responses".
 * With two at a time, N worker instances would never all be busy.
 *
 * What it does: the subscription is a pull subscription of the emulator with
 * the same retry and dead-letter policies; the relay pulls (streaming pull)
 * and POSTs each message to the endpoint in Pub/Sub's wrapped push body
 * (`message` with `data`, `attributes`, `messageId`, `publishTime` and their
 * snake_case twins, `subscription`, and `deliveryAttempt` as Pub/Sub sends
 * with a dead-letter policy). 102, 200, 201, 202 and 204 acknowledge, as in
 * Pub/Sub; any other status, a network error, or no answer within the ack
 * deadline nacks, and the emulator redelivers with the retry policy and
 * counts the attempt toward the dead-letter policy, as it does for push.
 *
 * Push window (an assumption: Pub/Sub documents no algorithm): at most
 * `window` pushes are outstanding; it starts at 1, grows by one per
 * acknowledged push up to `maxWindow` and halves on a failed one, so a fleet
 * that answers 429 (all instances busy) is pushed less.
 */
import {Message, PubSub, Subscription} from '@google-cloud/pubsub';

/** The statuses Pub/Sub takes as an acknowledgement of a push. */
const ACK_STATUSES = new Set([102, 200, 201, 202, 204]);

export interface PushRelayStats {
  /** Push requests sent (redeliveries included). */
  pushes: number;
  acked: number;
  /** Nacked pushes by status (`network` for no answer). */
  nacked: Record<string, number>;
  /** The push window now, and its largest value so far. */
  window: number;
  peakWindow: number;
  /** The most pushes outstanding at once. */
  peakOutstanding: number;
}

export interface PushRelay {
  stats(): PushRelayStats;
  close(): Promise<void>;
}

export async function startPushRelay(opts: {
  pubsubHost: string;
  project: string;
  /** The pull subscription to deliver (short name). */
  subscription: string;
  /** The push endpoint, path included. */
  endpoint: string;
  /** The largest push window. */
  maxWindow: number;
  /** The subscription's ack deadline: a push not answered by then is nacked. */
  ackDeadlineSeconds: number;
  /** The push identity's OIDC token for each push (`push_config.oidc_token`), when set. */
  token?: () => string;
}): Promise<PushRelay> {
  const pubsub = new PubSub({projectId: opts.project, apiEndpoint: opts.pubsubHost});
  const subscriptionName = `projects/${opts.project}/subscriptions/${opts.subscription}`;
  const stats: PushRelayStats = {
    pushes: 0,
    acked: 0,
    nacked: {},
    window: 1,
    peakWindow: 1,
    peakOutstanding: 0,
  };
  const waiting: Message[] = [];
  const inFlight = new Set<AbortController>();
  let outstanding = 0;
  let closed = false;

  const pump = () => {
    while (!closed && waiting.length > 0 && outstanding < stats.window) {
      void push(waiting.shift()!);
    }
  };

  const push = async (m: Message) => {
    outstanding++;
    stats.peakOutstanding = Math.max(stats.peakOutstanding, outstanding);
    stats.pushes++;
    const abort = new AbortController();
    inFlight.add(abort);
    const timer = setTimeout(() => abort.abort(), opts.ackDeadlineSeconds * 1000);
    let outcome: string;
    try {
      const publishTime = m.publishTime.toISOString();
      const res = await fetch(opts.endpoint, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(opts.token ? {authorization: `Bearer ${opts.token()}`} : {}),
        },
        body: JSON.stringify({
          message: {
            data: m.data.toString('base64'),
            ...(Object.keys(m.attributes).length ? {attributes: m.attributes} : {}),
            messageId: m.id,
            message_id: m.id,
            publishTime,
            publish_time: publishTime,
            ...(m.orderingKey ? {orderingKey: m.orderingKey} : {}),
          },
          subscription: subscriptionName,
          ...(m.deliveryAttempt ? {deliveryAttempt: m.deliveryAttempt} : {}),
        }),
        signal: abort.signal,
      });
      await res.arrayBuffer().catch(() => undefined);
      outcome = ACK_STATUSES.has(res.status) ? 'ack' : String(res.status);
    } catch {
      outcome = 'network';
    } finally {
      clearTimeout(timer);
      inFlight.delete(abort);
      outstanding--;
    }
    if (closed) return; // the stack is stopping: the emulator redelivers it to nobody
    if (outcome === 'ack') {
      m.ack();
      stats.acked++;
      stats.window = Math.min(opts.maxWindow, stats.window + 1);
    } else {
      m.nack();
      stats.nacked[outcome] = (stats.nacked[outcome] ?? 0) + 1;
      stats.window = Math.max(1, Math.floor(stats.window / 2));
    }
    stats.peakWindow = Math.max(stats.peakWindow, stats.window);
    pump();
  };

  const subscription: Subscription = pubsub.subscription(opts.subscription, {
    flowControl: {maxMessages: opts.maxWindow, allowExcessMessages: false},
  });
  subscription.on('message', (m: Message) => {
    waiting.push(m);
    pump();
  });
  subscription.on('error', err => {
    if (!closed) process.stderr.write(`push relay ${opts.subscription}: ${err.message}\n`);
  });
  return {
    stats: () => ({...stats, nacked: {...stats.nacked}}),
    close: async () => {
      closed = true;
      for (const a of inFlight) a.abort();
      subscription.removeAllListeners('message');
      await subscription.close().catch(() => undefined);
      await pubsub.close().catch(() => undefined);
    },
  };
}
