/**
 * What the Kafka client costs per message (`tsx bench/kafka-client.ts`): one producer sends event-sized
 * messages one per request at a set rate (as the outbox relay does at low load: send, wait for the
 * acknowledgement), while a consumer group member in another process reads them; each process
 * reports its CPU milliseconds per message. Needs the broker (`npm run kafka:start`).
 *   tsx bench/kafka-client.ts [--client kafkajs|platformatic] [--messages 3000] [--rate 300] [--min-bytes 1] [--max-wait 500]
 * `--client platformatic` imports @platformatic/kafka, which is not a dependency of ours: install it
 * in a scratch folder to compare (1.x is the Node 20 line).
 */
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import kafkajs from 'kafkajs';
import { argOf, ownCpuMs } from './lib';

const CLIENT = argOf('client', 'kafkajs');
const MESSAGES = Number(argOf('messages', '3000'));
const RATE = Number(argOf('rate', '300'));
const MIN_BYTES = Number(argOf('min-bytes', '1'));
const MAX_WAIT = Number(argOf('max-wait', '500'));
const ROLE = argOf('role', 'main');
const TOPIC = argOf('topic', `kafka-client-${Math.random().toString(36).slice(2, 8)}`);
const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const kafka = new kafkajs.Kafka({ brokers, clientId: 'bench-kafka-client', logLevel: kafkajs.logLevel.NOTHING });
// About the size of one of our event envelopes.
const value = JSON.stringify({ id: crypto.randomUUID(), type: 'order_confirmed', data: { orderId: 'ord_123', items: [{ productId: 'p1', quantity: 1 }], note: 'x'.repeat(300) } });
const report = (role: string, messages: number, cpuStart: number, wallStart: number) =>
  process.stdout.write(`${JSON.stringify({ client: CLIENT, role, messages, cpuMsPerMessage: Math.round(((ownCpuMs() - cpuStart) / messages) * 1000) / 1000, seconds: Math.round(performance.now() - wallStart) / 1000 })}\n`);

/** Waits until message `i` is due, so the messages go out at RATE per second. */
const pace = async (start: number, i: number) => {
  const wait = start + (i * 1000) / RATE - performance.now();
  if (wait > 1) await sleep(wait);
};

async function produceWithKafkajs(): Promise<void> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const [cpuStart, wallStart] = [ownCpuMs(), performance.now()];
  for (let i = 0; i < MESSAGES; i++) {
    await pace(wallStart, i);
    await producer.sendBatch({ acks: -1, topicMessages: [{ topic: TOPIC, messages: [{ key: `k${i % 97}`, value, headers: { 'event-type': 'order_confirmed' } }] }] });
  }
  report('produce', MESSAGES, cpuStart, wallStart);
  await producer.disconnect();
}

async function consumeWithKafkajs(): Promise<void> {
  const consumer = kafka.consumer({ groupId: TOPIC, maxWaitTimeInMs: MAX_WAIT, minBytes: MIN_BYTES });
  await consumer.connect();
  await consumer.subscribe({ topics: [TOPIC], fromBeginning: true });
  let got = 0;
  let cpuStart = 0;
  let wallStart = 0;
  await new Promise<void>((resolve) => {
    void consumer.run({
      autoCommit: false,
      partitionsConsumedConcurrently: 8,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset }) => {
        for (const message of batch.messages) {
          if (got++ === 0) [cpuStart, wallStart] = [ownCpuMs(), performance.now()];
          if (!message.value?.toString() || !message.headers?.['event-type']?.toString()) throw new Error('message without value or event type');
          resolveOffset(message.offset);
        }
        if (got >= MESSAGES) resolve();
      },
    });
    process.stdout.write('ready\n');
  });
  report('consume', got, cpuStart, wallStart);
  await consumer.disconnect();
}

interface PlatformaticKafka {
  Producer: new (options: object) => { send(request: object): Promise<unknown>; close(force?: boolean): Promise<void> };
  Consumer: new (options: object) => { consume(options: object): Promise<AsyncIterable<{ value: string; headers: Map<string, string> }>>; close(force?: boolean): Promise<void> };
  stringSerializers: object;
  stringDeserializers: object;
}
const platformatic = () => import(String('@platformatic/kafka')) as Promise<PlatformaticKafka>;

async function produceWithPlatformatic(): Promise<void> {
  const { Producer, stringSerializers } = await platformatic();
  const producer = new Producer({ clientId: 'bench-kafka-client', bootstrapBrokers: brokers, serializers: stringSerializers, idempotent: true, acks: -1 });
  const [cpuStart, wallStart] = [ownCpuMs(), performance.now()];
  for (let i = 0; i < MESSAGES; i++) {
    await pace(wallStart, i);
    await producer.send({ messages: [{ topic: TOPIC, key: `k${i % 97}`, value, headers: { 'event-type': 'order_confirmed' } }] });
  }
  report('produce', MESSAGES, cpuStart, wallStart);
  await producer.close();
}

async function consumeWithPlatformatic(): Promise<void> {
  const { Consumer, stringDeserializers } = await platformatic();
  const consumer = new Consumer({ groupId: TOPIC, clientId: 'bench-kafka-client', bootstrapBrokers: brokers, deserializers: stringDeserializers, maxWaitTime: MAX_WAIT, minBytes: MIN_BYTES });
  const stream = await consumer.consume({ autocommit: false, topics: [TOPIC], mode: 'earliest' });
  process.stdout.write('ready\n');
  let got = 0;
  let cpuStart = 0;
  let wallStart = 0;
  for await (const message of stream) {
    if (got++ === 0) [cpuStart, wallStart] = [ownCpuMs(), performance.now()];
    if (!message.value || !message.headers.get('event-type')) throw new Error('message without value or event type');
    if (got >= MESSAGES) break;
  }
  report('consume', got, cpuStart, wallStart);
  await consumer.close(true);
}

/** Runs this script in `role` as a child process; resolves with its output once it has printed `ready` (or ended). */
function child(role: string): { ready: Promise<void>; done: Promise<string> } {
  const proc = spawn(process.execPath, [...process.execArgv, process.argv[1]!, ...process.argv.slice(2), '--role', role, '--topic', TOPIC], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  proc.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    if (out.includes('ready\n')) markReady();
  });
  const done = new Promise<string>((resolve, reject) =>
    proc.on('exit', (code) => {
      markReady();
      if (code === 0) resolve(out.replace('ready\n', '').trim());
      else reject(new Error(`${role} exited with ${code}`));
    }),
  );
  return { ready, done };
}

if (ROLE === 'produce') await (CLIENT === 'platformatic' ? produceWithPlatformatic() : produceWithKafkajs());
else if (ROLE === 'consume') await (CLIENT === 'platformatic' ? consumeWithPlatformatic() : consumeWithKafkajs());
else {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic: TOPIC, numPartitions: 8, replicationFactor: 1 }] });
  const consumer = child('consume');
  await consumer.ready;
  // The member joins the group after `ready`: give it the partitions before the first message.
  await sleep(4000);
  const producer = child('produce');
  process.stdout.write(`${await producer.done}\n${await consumer.done}\n`);
  await admin.deleteTopics({ topics: [TOPIC] }).catch(() => undefined);
  await admin.disconnect();
}
process.exit(0);
