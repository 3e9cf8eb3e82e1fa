/**
 * The EventBus contract against a real Kafka broker. Needs one running:
 *   npm run kafka:start        (scripts/kafka.sh; KAFKA_BROKERS overrides 127.0.0.1:9092)
 * An unreachable broker fails this suite; it is never skipped.
 */
import { connect } from 'node:net';
import { pino } from 'pino';
import kafkajs from 'kafkajs';
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
