/**
 * The EventBus contract against a real Kafka broker. Needs one running:
 *   npm run kafka:start        (scripts/kafka.sh; KAFKA_BROKERS overrides 127.0.0.1:9092)
 * An unreachable broker fails this suite; it is never skipped.
 */
import { connect } from 'node:net';
import { pino } from 'pino';
import kafkajs from 'kafkajs';
import type { Admin, Consumer } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { describeEventBusContract, pollUntil } from './contract-suite';
import { createKafkaBus } from './kafka';
import { createKafkaGroupOps } from './kafka-ops';
import type { IncomingMessage } from './types';

const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092')
  .split(',')
  .map((broker) => broker.trim())
  .filter(Boolean);
const logger = pino({ level: 'warn' });

function canConnect(broker: string, timeoutMs: number): Promise<boolean> {
  const at = broker.lastIndexOf(':');
  const host = broker.slice(0, at);
  const port = Number(broker.slice(at + 1));
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

let reachable: Promise<void> | undefined;
function assertBrokerReachable(): Promise<void> {
  reachable ??= (async () => {
    const results = await Promise.all(brokers.map((broker) => canConnect(broker, 2_000)));
    if (!results.some(Boolean)) {
      throw new Error(
        `No Kafka broker reachable at ${brokers.join(',')}. Start the local broker with \`npm run kafka:start\` ` +
          '(bash scripts/kafka.sh start), or point KAFKA_BROKERS at a running one.',
      );
    }
  })();
  return reachable;
}

// A failed test (not only a failed hook with the contract tests shown as skipped) when there is no broker.
describe('kafka broker for the contract suite', () => {
  it(`is reachable at ${brokers.join(',')}`, async () => {
    await assertBrokerReachable();
  });
});

/** Deletes what a test made on the broker (its namespace's topics and groups), so runs do not pile them up. */
async function dropNamespace(namespace: string): Promise<void> {
  const ops = createKafkaGroupOps({ brokers, namespace });
  try {
    await ops.deleteNamespace();
  } catch (error) {
    logger.warn({ err: error, namespace }, 'could not delete the test namespace');
  } finally {
    await ops.close();
  }
}

const CONTRACT_NAMESPACE = `contract-${Math.random().toString(36).slice(2, 8)}`;
describeEventBusContract(
  'kafka',
  async () => {
    await assertBrokerReachable();
    return createKafkaBus({ brokers, clientId: 'emporium-contract-test', logger, namespace: CONTRACT_NAMESPACE });
  },
  { topicPrefix: 'contract' },
);
afterAll(() => dropNamespace(CONTRACT_NAMESPACE));

describe('kafka bus retention', () => {
  it("says how old a message still on a topic can be: the topic's retention.ms plus segment.ms, null once the topic keeps messages without limit, and the longer of the two when a group's delivery topic keeps its copies longer", async () => {
    await assertBrokerReachable();
    const namespace = `retention-${Math.random().toString(36).slice(2, 8)}`;
    const bus = createKafkaBus({ brokers, clientId: 'emporium-retention-test', logger, namespace });
    const admin = new kafkajs.Kafka({ brokers, clientId: 'emporium-retention-test-admin', logLevel: kafkajs.logLevel.NOTHING }).admin();
    await admin.connect();
    const setTopic = (entries: Record<string, string>) =>
      admin.alterConfigs({
        validateOnly: false,
        resources: [{ type: kafkajs.ConfigResourceTypes.TOPIC, name: `${namespace}.retention-a`, configEntries: Object.entries(entries).map(([name, value]) => ({ name, value })) }],
      });
    try {
      await bus.publish([{ topic: 'retention-a', key: 'k', value: '{}' }]);
      await setTopic({ 'retention.ms': '3600000', 'segment.ms': '600000' });
      expect(await bus.retention(['retention-a'])).toBe(4_200_000);
      await setTopic({ 'retention.ms': '-1', 'segment.ms': '600000' });
      expect(await bus.retention(['retention-a'])).toBeNull();
      await setTopic({ 'retention.ms': '3600000', 'segment.ms': '600000', 'cleanup.policy': 'compact' });
      expect(await bus.retention(['retention-a'])).toBeNull();
      await setTopic({ 'retention.ms': '3600000', 'segment.ms': '600000' });

      // A group's delivery topic is a copy of the topic with a retention of its own: the longer one counts.
      expect(await bus.retention(['retention-a'], 'inventory')).toBe(4_200_000); // no delivery topic yet
      await bus.publish([{ topic: 'retention-a', key: 'k', value: '{}', deliverTo: ['inventory'] }]);
      await admin.alterConfigs({
        validateOnly: false,
        resources: [{ type: kafkajs.ConfigResourceTypes.TOPIC, name: `${namespace}.retention-a.for-inventory`, configEntries: [{ name: 'retention.ms', value: '7200000' }, { name: 'segment.ms', value: '600000' }] }],
      });
      expect(await bus.retention(['retention-a'], 'inventory')).toBe(7_800_000);
      expect(await bus.retention(['retention-a'], 'shipping')).toBe(4_200_000); // another group's copy does not
      expect(await bus.retention(['retention-a'])).toBe(4_200_000);
    } finally {
      await admin.disconnect();
      await bus.close();
      await dropNamespace(namespace);
    }
  });
});

describe('kafka bus offset commits', () => {
  it('commits what a running subscription handled within about a second, in one commit per interval rather than one per message, without waiting for more messages or a stop', async () => {
    await assertBrokerReachable();
    const namespace = `commits-${Math.random().toString(36).slice(2, 8)}`;
    const bus = createKafkaBus({ brokers, clientId: 'emporium-commit-test', logger, namespace });
    const kafka = new kafkajs.Kafka({ brokers, clientId: 'emporium-commit-test-admin', logLevel: kafkajs.logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    let commits = 0;
    const committedTotal = async () => {
      const [topic] = await admin.fetchOffsets({ groupId: `${namespace}.committer`, topics: [`${namespace}.commits-a`] });
      return topic!.partitions.reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
    };
    try {
      const handled: string[] = [];
      const subscription = await bus.subscribe({ group: 'committer', topics: ['commits-a'], handler: async (message) => void handled.push(message.value) });
      // Counts the consumer's commit requests through kafkajs' instrumentation of the group's own client.
      const consumer = (subscription as unknown as { consumer: Consumer }).consumer;
      consumer.on(consumer.events.REQUEST, ({ payload }) => {
        if (payload.apiName === 'OffsetCommit') commits++;
      });
      for (let i = 0; i < 20; i++) {
        await bus.publish([{ topic: 'commits-a', key: `k${i % 3}`, value: `m${i}` }]);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const deadline = Date.now() + 10_000;
      while (handled.length < 20 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(handled).toHaveLength(20);
      // No more messages: the interval alone commits the last ones.
      let total = await committedTotal();
      while (total < 20 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        total = await committedTotal();
      }
      expect(total).toBe(20);
      // 20 messages handled over ~1 s (most in batches of one): a commit per interval, not per batch.
      expect(commits).toBeLessThanOrEqual(5);
      await subscription.stop();
    } finally {
      await admin.disconnect();
      await bus.close();
      await dropNamespace(namespace);
    }
  });
});

describe('kafka bus routing (delivery topics per consumer group)', () => {
  const until = (what: string, done: () => boolean | Promise<boolean>) => pollUntil(done, 20_000, () => what);
  const message = (i: number, deliverTo: string[]) => ({ topic: 'routing-a', key: `k${i % 3}`, value: `m${i}`, headers: { for: deliverTo.join(',') }, deliverTo });

  it('when messages name the groups that handle them, then each routed group receives only its own, in order per key, and a reader of the whole topic still receives every one', async () => {
    await assertBrokerReachable();
    const namespace = `routing-${Math.random().toString(36).slice(2, 8)}`;
    const bus = createKafkaBus({ brokers, clientId: 'emporium-routing-test', logger, namespace });
    const received: Record<string, Array<{ topic: string; key: string; value: string }>> = { payments: [], shipping: [], audit: [] };
    const record = (group: string) => async (m: { topic: string; key: string; value: string }) => void received[group]!.push({ topic: m.topic, key: m.key, value: m.value });
    try {
      const subscriptions = [
        await bus.subscribe({ group: 'payments', topics: ['routing-a'], routed: true, handler: record('payments') }),
        await bus.subscribe({ group: 'shipping', topics: ['routing-a'], routed: true, handler: record('shipping') }),
        await bus.subscribe({ group: 'audit', topics: ['routing-a'], handler: record('audit') }),
      ];
      const routes = [['payments'], ['shipping'], ['payments', 'shipping'], []];
      await bus.publish(Array.from({ length: 24 }, (_, i) => message(i, routes[i % 4]!)));
      await until('every delivery', () => received.audit!.length >= 24 && received.payments!.length >= 12 && received.shipping!.length >= 12);
      await new Promise((resolve) => setTimeout(resolve, 500));
      const expected = (group: string) => Array.from({ length: 24 }, (_, i) => i).filter((i) => routes[i % 4]!.includes(group)).map((i) => `m${i}`);
      const inKeyOrder = (list: Array<{ key: string; value: string }>) => [...list].sort((a, b) => Number(a.value.slice(1)) - Number(b.value.slice(1)));
      for (const group of ['payments', 'shipping']) {
        expect(inKeyOrder(received[group]!).map((m) => m.value)).toEqual(expected(group));
        expect(new Set(received[group]!.map((m) => m.topic))).toEqual(new Set([`routing-a.for-${group}`]));
        for (const key of ['k0', 'k1', 'k2']) {
          const ofKey = received[group]!.filter((m) => m.key === key).map((m) => Number(m.value.slice(1)));
          expect(ofKey, `${group} ${key}`).toEqual([...ofKey].sort((a, b) => a - b));
        }
      }
      expect(received.audit!.map((m) => m.value).sort()).toEqual(Array.from({ length: 24 }, (_, i) => `m${i}`).sort());
      await Promise.all(subscriptions.map((s) => s.stop()));
    } finally {
      await bus.close();
      await dropNamespace(namespace);
    }
  });

  it('when a group that read the whole topic switches to its delivery topic with messages left unread, then it handles each of them, in order per key, before the newer ones, and after a restart it does not read the whole topic again', async () => {
    await assertBrokerReachable();
    const namespace = `switch-${Math.random().toString(36).slice(2, 8)}`;
    const before = createKafkaBus({ brokers, clientId: 'emporium-switch-before', logger, namespace, delivery: 'aggregate' });
    const after = createKafkaBus({ brokers, clientId: 'emporium-switch-after', logger, namespace });
    const ops = createKafkaGroupOps({ brokers, namespace });
    // What the group's consumer sees, and what it handles: the first copy of each of its messages (an inbox).
    const seen: Array<{ topic: string; value: string }> = [];
    const handled: string[] = [];
    const handler = async (m: { topic: string; value: string; headers: Record<string, string> }) => {
      seen.push({ topic: m.topic, value: m.value });
      if (m.headers.for?.split(',').includes('orders') && !handled.includes(m.value)) handled.push(m.value);
    };
    const options = { group: 'orders', topics: ['routing-a'], routed: true, handler };
    const routes = [['orders'], ['inventory'], ['orders', 'inventory']];
    // `routing` false: as a relay from before delivery topics wrote them (the whole topic only).
    const publish = (from: number, to: number, routing = true) =>
      before.publish(Array.from({ length: to - from }, (_, n) => ({ ...message(from + n, routes[(from + n) % 3]!), ...(routing ? {} : { deliverTo: undefined }) })));
    const ours = (from: number, to: number) => Array.from({ length: to - from }, (_, n) => from + n).filter((i) => routes[i % 3]!.includes('orders')).map((i) => `m${i}`);
    try {
      // Before routing, and then release A (the relays write the delivery topics too, the group still
      // reads the whole topic); the group stops reading partway.
      const first = await before.subscribe(options);
      await publish(0, 9, false);
      await until('the first messages', () => handled.length >= ours(0, 9).length);
      await first.stop();
      await publish(9, 14, false); // left unread, on the whole topic only
      await publish(14, 18); // left unread, on both

      // Release B: the group reads its delivery topic, after what it left unread on the whole topic.
      const second = await after.subscribe(options);
      await after.publish(Array.from({ length: 9 }, (_, n) => message(18 + n, routes[(18 + n) % 3]!)));
      await until('every message of the group', () => handled.length >= ours(0, 27).length);
      expect(handled).toHaveLength(ours(0, 27).length);
      for (const key of ['k0', 'k1', 'k2']) {
        const ofKey = handled.filter((value) => `k${Number(value.slice(1)) % 3}` === key);
        expect(ofKey, key).toEqual(ours(0, 27).filter((value) => `k${Number(value.slice(1)) % 3}` === key));
      }
      // What was left unread came from the whole topic, before anything of the delivery topic.
      const firstDelivered = seen.findIndex((m) => m.topic === 'routing-a.for-orders');
      expect(seen.slice(0, firstDelivered).map((m) => m.value)).toEqual(expect.arrayContaining(['m9', 'm12', 'm17']));
      await until('the delivery topic read to its end', async () => (await ops.lag('orders')) === 0);
      // Staff tools measure the group on its delivery topic, not the whole topic it left behind.
      expect(await ops.topicsOf('orders')).toEqual(['routing-a.for-orders']);
      await second.stop();

      // A restart: straight to the delivery topic.
      seen.length = 0;
      const third = await after.subscribe(options);
      await after.publish([message(27, ['orders'])]);
      await until('the message after the restart', () => handled.includes('m27'));
      expect(new Set(seen.map((m) => m.topic))).toEqual(new Set(['routing-a.for-orders']));
      await third.stop();
    } finally {
      await ops.close();
      await Promise.all([before.close(), after.close()]);
      await dropNamespace(namespace);
    }
  });

  it('deleting a namespace removes its topics and consumer groups, and nothing of another namespace', async () => {
    await assertBrokerReachable();
    const [mine, theirs] = ['mine', 'theirs'].map((n) => `${n}-${Math.random().toString(36).slice(2, 8)}`) as [string, string];
    const buses = [mine, theirs].map((namespace) => createKafkaBus({ brokers, clientId: `emporium-${namespace}`, logger, namespace }));
    const opsOf = [mine, theirs].map((namespace) => createKafkaGroupOps({ brokers, namespace }));
    const admin = new kafkajs.Kafka({ brokers, logLevel: kafkajs.logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      for (const bus of buses) {
        let handled = 0;
        const subscription = await bus.subscribe({ group: 'cleaner', topics: ['cleanup-a'], routed: true, handler: async () => void handled++ });
        await bus.publish([{ topic: 'cleanup-a', key: 'k', value: 'v', deliverTo: ['cleaner'] }]);
        await pollUntil(() => handled === 1, 20_000, () => 'the message');
        await subscription.stop();
      }
      const made = (await admin.listTopics()).filter((t) => t.startsWith(`${mine}.`));
      expect(made).toEqual(expect.arrayContaining([`${mine}.cleanup-a`, `${mine}.cleanup-a.for-cleaner`]));
      expect(await opsOf[0]!.deleteNamespace()).toBe(made.length);
      const topics = await admin.listTopics();
      expect(topics.filter((t) => t.startsWith(`${mine}.`))).toEqual([]);
      expect(topics).toEqual(expect.arrayContaining([`${theirs}.cleanup-a`, `${theirs}.cleanup-a.for-cleaner`]));
      const groups = (await admin.listGroups()).groups.map((g) => g.groupId);
      expect(groups).not.toContain(`${mine}.cleaner`);
      expect(groups).toContain(`${theirs}.cleaner`);
      await expect(createKafkaGroupOps({ brokers }).deleteNamespace()).rejects.toThrow(/needs a namespace/);
    } finally {
      await opsOf[1]!.deleteNamespace().catch(() => undefined);
      await Promise.all(opsOf.map((ops) => ops.close()));
      await Promise.all(buses.map((bus) => bus.close()));
      await admin.disconnect();
    }
  });
});

describe('kafka bus: a subscription that waits for unread messages (wakeOnUnread, the dead-letter recorders)', () => {
  const members = async (admin: Admin, groupId: string) => (await admin.describeGroups([groupId])).groups[0]?.members.length ?? 0;

  it('keeps no group member while its topic holds nothing unread, and joins at once when this bus parks a message there, long before its next check', async () => {
    await assertBrokerReachable();
    const namespace = `dormant-${Math.random().toString(36).slice(2, 8)}`;
    const bus = createKafkaBus({ brokers, clientId: 'emporium-dormant-test', logger, namespace, unreadCheckIntervalMs: 60_000 });
    const admin = new kafkajs.Kafka({ brokers, clientId: 'emporium-dormant-test-admin', logLevel: kafkajs.logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      const recorded: IncomingMessage[] = [];
      const recorder = await bus.subscribe({ group: 'recorder', topics: ['dormant-a.dlq'], wakeOnUnread: true, handler: async (message) => void recorded.push(message) });
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(await members(admin, `${namespace}.recorder`)).toBe(0);

      await bus.subscribe({ group: 'worker', topics: ['dormant-a'], maxAttempts: 1, handler: async () => Promise.reject(new Error('poison')) });
      await bus.publish([{ topic: 'dormant-a', key: 'k', value: 'poison' }]);
      await pollUntil(() => recorded.length === 1, 30_000, () => 'the parked message to reach the recorder');
      expect(recorded[0]).toMatchObject({ topic: 'dormant-a.dlq', key: 'k', value: 'poison' });
      expect(await members(admin, `${namespace}.recorder`)).toBe(1);
      await recorder.stop();
    } finally {
      await admin.disconnect();
      await bus.close();
      await dropNamespace(namespace);
    }
  }, 60_000);

  it('reads what was unread when it subscribed at once, finds what another process parks at its next check, and stops (or closes with its bus) while it still waits', async () => {
    await assertBrokerReachable();
    const namespace = `dormant-${Math.random().toString(36).slice(2, 8)}`;
    const watching = createKafkaBus({ brokers, clientId: 'emporium-dormant-watch', logger, namespace, unreadCheckIntervalMs: 300 });
    const other = createKafkaBus({ brokers, clientId: 'emporium-dormant-other', logger, namespace });
    const admin = new kafkajs.Kafka({ brokers, clientId: 'emporium-dormant-test-admin', logLevel: kafkajs.logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      await other.publish([{ topic: 'dormant-b.dlq', key: 'k', value: 'before' }]);
      const early: string[] = [];
      const reader = await watching.subscribe({ group: 'early', topics: ['dormant-b.dlq'], wakeOnUnread: true, handler: async (message) => void early.push(message.value) });
      await pollUntil(() => early.length === 1, 20_000, () => 'the message that was there before the subscription');
      await reader.stop();

      const later: string[] = [];
      await watching.subscribe({ group: 'later', topics: ['dormant-c.dlq'], wakeOnUnread: true, handler: async (message) => void later.push(message.value) });
      const idle = await watching.subscribe({ group: 'idle', topics: ['dormant-d.dlq'], wakeOnUnread: true, handler: async () => undefined });
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(await members(admin, `${namespace}.later`)).toBe(0);
      await other.publish([{ topic: 'dormant-c.dlq', key: 'k', value: 'parked elsewhere' }]);
      await pollUntil(() => later.length === 1, 20_000, () => 'the message another process parked');
      expect(later).toEqual(['parked elsewhere']);

      const stopping = Date.now();
      await idle.stop();
      expect(Date.now() - stopping).toBeLessThan(2_000);
      expect(await members(admin, `${namespace}.idle`)).toBe(0);
    } finally {
      await admin.disconnect();
      await Promise.all([watching.close(), other.close()]);
      await dropNamespace(namespace);
    }
  }, 60_000);
});
