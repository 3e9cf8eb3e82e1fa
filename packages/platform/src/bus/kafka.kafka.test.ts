/**
 * The EventBus contract against a real Kafka broker. Needs one running:
 *   npm run kafka:start        (scripts/kafka.sh; KAFKA_BROKERS overrides 127.0.0.1:9092)
 * An unreachable broker fails this suite; it is never skipped.
 */
import { connect } from 'node:net';
import { pino } from 'pino';
import { describe, it } from 'vitest';
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
