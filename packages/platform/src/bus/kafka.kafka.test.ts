/**
 * The EventBus contract against a real Kafka broker. Needs one running:
 *   npm run kafka:start        (scripts/kafka.sh; KAFKA_BROKERS overrides 127.0.0.1:9092)
 * An unreachable broker fails this suite; it is never skipped.
 */
import { connect } from 'node:net';
import { pino } from 'pino';
import kafkajs from 'kafkajs';
import type { Consumer } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { describeEventBusContract } from './contract-suite';
import { createKafkaBus } from './kafka';

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

describeEventBusContract(
  'kafka',
  async () => {
    await assertBrokerReachable();
    return createKafkaBus({ brokers, clientId: 'emporium-contract-test', logger });
  },
  { topicPrefix: 'contract' },
);

describe('kafka bus retention', () => {
  it("says how old a message still on a topic can be: the topic's retention.ms plus segment.ms, and null once the topic keeps messages without limit", async () => {
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
    } finally {
      await admin.disconnect();
      await bus.close();
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
    }
  });
});
