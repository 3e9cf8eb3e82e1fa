/**
 * The behaviour every EventBus adapter must show (in-process log and Kafka alike).
 *
 *   describeEventBusContract('kafka', () => Promise.resolve(createKafkaBus({ ... })));
 *
 * Every test uses its own topics and groups (random suffix), so reruns against a persistent
 * broker or data dir do not see each other's messages. Waits poll with deadlines; nothing sleeps
 * for long. `makeBus` is called once for the shared bus and once more by the close() test.
 *
 * Contract points that go beyond types.ts and that adapters must honour:
 * - A brand-new group starts from the beginning of its topics (messages published before the first
 *   subscribe are delivered).
 * - subscribe() resolves once the subscription is live; publishing afterwards is delivered.
 * - When a handler fails after stop() (or close()) was called, the adapter neither retries nor
 *   dead-letters the message: it stays unacknowledged and the group's next subscription receives it
 *   again (at least once across a restart).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  DEAD_LETTER_HEADERS,
  deadLetterTopic,
  type EventBus,
  type IncomingMessage,
  type MessageHandler,
  type OutgoingMessage,
  type SubscribeOptions,
  type Subscription,
} from './types';

export interface EventBusContractOptions {
  /** Prefix of every topic and group the suite creates. Default 'contract'. */
  topicPrefix?: string;
  /** Deadline of each wait for messages. Default 20 s. */
  waitTimeoutMs?: number;
}

const TEST_TIMEOUT_MS = 45_000;

export function describeEventBusContract(
  name: string,
  makeBus: () => Promise<EventBus>,
  options: EventBusContractOptions = {},
): void {
  const prefix = options.topicPrefix ?? 'contract';
  const waitTimeoutMs = options.waitTimeoutMs ?? 20_000;

  describe(`EventBus contract: ${name}`, () => {
    let bus: EventBus;
    const subscriptions: Subscription[] = [];
    const extraBuses: EventBus[] = [];

    beforeAll(async () => {
      bus = await makeBus();
    });

    afterEach(async () => {
      await Promise.allSettled(subscriptions.splice(0).map((subscription) => subscription.stop()));
      await Promise.allSettled(extraBuses.splice(0).map((other) => other.close()));
    });

    afterAll(async () => {
      await bus?.close();
    });

    const unique = (what: string): string =>
      `${prefix}.${what}.${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;

    const subscribe = async (
      target: EventBus,
      subscribeOptions: SubscribeOptions,
    ): Promise<Subscription> => {
      const subscription = await target.subscribe(subscribeOptions);
      subscriptions.push(subscription);
      return subscription;
    };

    const waitFor = (condition: () => boolean, what: () => string): Promise<void> =>
      pollUntil(condition, waitTimeoutMs, what);

    it(
      'when messages are published and a new group subscribes, then it receives every message with its key, value and headers',
      async () => {
        const topic = unique('deliver');
        const before: OutgoingMessage[] = [1, 2, 3].map((i) => ({
          topic,
          key: `order-${i}`,
          value: JSON.stringify({ type: 'OrderPlaced', n: i }),
          headers: { 'x-trace-id': `trace-${i}`, 'content-type': 'application/json' },
        }));
        await bus.publish(before);

        const received: IncomingMessage[] = [];
        await subscribe(bus, {
          group: unique('deliver-group'),
          topics: [topic],
          handler: async (message) => {
            received.push(message);
          },
        });
        // Published while the subscription is live.
        const after: OutgoingMessage[] = [4, 5].map((i) => ({
          topic,
          key: `order-${i}`,
          value: JSON.stringify({ type: 'OrderPlaced', n: i }),
          headers: { 'x-trace-id': `trace-${i}` },
        }));
        await bus.publish(after);

        const published = [...before, ...after];
        await waitFor(
          () => received.length >= published.length,
          () => `${published.length} messages, got ${received.length}`,
        );
        expect(received).toHaveLength(published.length);
        for (const sent of published) {
          const got = received.find((message) => message.value === sent.value);
          expect(got, `message ${sent.value}`).toBeDefined();
          expect(got).toMatchObject({ topic, key: sent.key, value: sent.value, attempt: 1 });
          expect(got!.headers).toMatchObject(sent.headers ?? {});
          expect(Number.isInteger(got!.partition) && got!.partition >= 0).toBe(true);
          expect(got!.offset).toMatch(/^\d+$/);
        }
      },
      TEST_TIMEOUT_MS,
    );

    it(
      'when groups that wait for unread messages (wakeOnUnread) subscribe, then each receives once what was published before it subscribed and what is published later',
      async () => {
        const topic = unique('rarely.dlq');
        await bus.publish([{ topic, key: 'k1', value: 'before' }]);
        const early: string[] = [];
        await subscribe(bus, { group: unique('early-group'), topics: [topic], wakeOnUnread: true, handler: async (message) => void early.push(message.value) });
        // A group whose topic holds nothing yet when it subscribes.
        const quiet = unique('quiet.dlq');
        const late: string[] = [];
        await subscribe(bus, { group: unique('late-group'), topics: [quiet], wakeOnUnread: true, handler: async (message) => void late.push(message.value) });
        await bus.publish([
          { topic, key: 'k1', value: 'after' },
          { topic: quiet, key: 'k2', value: 'later' },
        ]);
        await waitFor(
          () => early.length >= 2 && late.length >= 1,
          () => `2 messages for the early group (got ${early.length}) and 1 for the late one (got ${late.length})`,
        );
        expect(early).toEqual(['before', 'after']);
        expect(late).toEqual(['later']);
      },
      TEST_TIMEOUT_MS,
    );

    it(
      'when messages with the same key are published, then each key receives them in publish order',
      async () => {
        const topic = unique('order');
        const received: IncomingMessage[] = [];
        await subscribe(bus, {
          group: unique('order-group'),
          topics: [topic],
          handler: async (message) => {
            received.push(message);
          },
        });

        const keys = ['a', 'b', 'c', 'd', 'e'].map((k) => `customer-${k}`);
        const expected = new Map<string, number[]>(keys.map((key) => [key, []]));
        let seq = 0;
        for (let round = 0; round < 5; round++) {
          const batch: OutgoingMessage[] = [];
          for (let i = 0; i < 10; i++) {
            const key = keys[seq % keys.length]!;
            expected.get(key)!.push(seq);
            batch.push({ topic, key, value: JSON.stringify({ seq }) });
            seq++;
          }
          await bus.publish(batch);
        }

        await waitFor(
          () => received.length >= seq,
          () => `${seq} messages, got ${received.length}`,
        );
        expect(received).toHaveLength(seq);
        for (const key of keys) {
          const ofKey = received.filter((message) => message.key === key);
          const seqs = ofKey.map((message) => (JSON.parse(message.value) as { seq: number }).seq);
          expect(seqs, `order of key ${key}`).toEqual(expected.get(key));
          // One key always lands on one partition.
          expect(new Set(ofKey.map((message) => message.partition)).size).toBe(1);
        }
      },
      TEST_TIMEOUT_MS,
    );

    it(
      'when two consumer groups subscribe, then each receives every message',
      async () => {
        const topic = unique('groups');
        const published: OutgoingMessage[] = Array.from({ length: 10 }, (_, i) => ({
          topic,
          key: `k${i % 4}`,
          value: `m${i}`,
        }));
        await bus.publish(published);

        const byGroup = new Map<string, string[]>();
        for (const group of [unique('group-1'), unique('group-2')]) {
          const values: string[] = [];
          byGroup.set(group, values);
          await subscribe(bus, {
            group,
            topics: [topic],
            handler: async (message) => {
              values.push(message.value);
            },
          });
        }

        const everyGroupHasAll = (): boolean =>
          [...byGroup.values()].every((values) => values.length >= published.length);
        await waitFor(everyGroupHasAll, () =>
          [...byGroup].map(([group, values]) => `${group}: ${values.length}/${published.length}`).join(', '),
        );
        for (const values of byGroup.values()) {
          expect([...values].sort()).toEqual(published.map((message) => message.value).sort());
        }
      },
      TEST_TIMEOUT_MS,
    );

    it(
      'when a handler fails twice and then succeeds, then it sees attempts 1, 2 and 3 and handles the message once',
      async () => {
        const topic = unique('retry');
        const attempts: number[] = [];
        let successes = 0;
        let sentinel: IncomingMessage | undefined;
        await subscribe(bus, {
          group: unique('retry-group'),
          topics: [topic],
          maxAttempts: 5,
          retryBackoffMs: 10,
          handler: async (message) => {
            if (message.value === 'sentinel') {
              sentinel = message;
              return;
            }
            attempts.push(message.attempt);
            if (message.attempt < 3) throw new Error(`transient failure #${message.attempt}`);
            successes++;
          },
        });
        // Same key: the sentinel is delivered only after the flaky message is done.
        await bus.publish([
          { topic, key: 'payment-1', value: 'flaky' },
          { topic, key: 'payment-1', value: 'sentinel' },
        ]);

        await waitFor(
          () => sentinel !== undefined,
          () => `the sentinel after the flaky message (attempts so far: ${attempts.join(',')})`,
        );
        expect(attempts).toEqual([1, 2, 3]);
        expect(successes).toBe(1);
        expect(sentinel!.attempt).toBe(1);
      },
      TEST_TIMEOUT_MS,
    );

    it(
      'when a handler always fails, then it gets exactly maxAttempts tries, the message is parked on the dead-letter topic with the failure in its headers, and the partition moves on',
      async () => {
        const topic = unique('poison');
        const group = unique('poison-group');
        const poisonAttempts: IncomingMessage[] = [];
        let next: IncomingMessage | undefined;
        await subscribe(bus, {
          group,
          topics: [topic],
          maxAttempts: 3,
          retryBackoffMs: 10,
          handler: async (message) => {
            if (message.value === 'poison') {
              poisonAttempts.push(message);
              throw new Error('boom: cannot parse poison');
            }
            next = message;
          },
        });
        await bus.publish([
          { topic, key: 'sku-1', value: 'poison', headers: { 'x-trace-id': 'trace-poison' } },
          { topic, key: 'sku-1', value: 'after-poison' },
        ]);

        await waitFor(
          () => next !== undefined,
          () => `the message after the poison one (poison attempts: ${poisonAttempts.length})`,
        );
        expect(poisonAttempts.map((message) => message.attempt)).toEqual([1, 2, 3]);
        const poison = poisonAttempts[0]!;
        expect(next!.partition).toBe(poison.partition);
        expect(BigInt(next!.offset) > BigInt(poison.offset)).toBe(true);

        const dead: IncomingMessage[] = [];
        await subscribe(bus, {
          group: unique('dlq-reader'),
          topics: [deadLetterTopic(topic)],
          handler: async (message) => {
            dead.push(message);
          },
        });
        await waitFor(
          () => dead.length >= 1,
          () => `a message on ${deadLetterTopic(topic)}`,
        );
        expect(dead).toHaveLength(1);
        const parked = dead[0]!;
        expect(parked).toMatchObject({ topic: deadLetterTopic(topic), key: 'sku-1', value: 'poison' });
        expect(parked.headers).toMatchObject({
          'x-trace-id': 'trace-poison',
          [DEAD_LETTER_HEADERS.originalTopic]: topic,
          [DEAD_LETTER_HEADERS.originalPartition]: String(poison.partition),
          [DEAD_LETTER_HEADERS.originalOffset]: poison.offset,
          [DEAD_LETTER_HEADERS.group]: group,
          [DEAD_LETTER_HEADERS.attempts]: '3',
        });
        expect(parked.headers[DEAD_LETTER_HEADERS.error]).toContain('boom: cannot parse poison');
        // Still exactly maxAttempts: the poison message was not redelivered meanwhile.
        expect(poisonAttempts).toHaveLength(3);
      },
      TEST_TIMEOUT_MS,
    );

    it(
      'when a run of messages handled together holds a poison message, then the run is handled again one at a time: the poison one alone is retried and parked, every other message is applied once and in order',
      async () => {
        const topic = unique('batch');
        const group = unique('batch-group');
        const values = ['a-1', 'b-1', 'a-2', 'poison', 'b-2', 'a-3', 'b-3'];
        const keyOf = (value: string): string => (value === 'poison' ? 'key-a' : `key-${value[0]}`);
        // Published before the group exists: the first fetch brings them all, so they arrive as a run.
        await bus.publish(values.map((value) => ({ topic, key: keyOf(value), value })));

        const applied: IncomingMessage[] = [];
        const runs: string[][] = [];
        const poisonAttempts: number[] = [];
        await subscribe(bus, {
          group,
          topics: [topic],
          maxAttempts: 2,
          retryBackoffMs: 10,
          handler: async (message) => {
            if (message.value === 'poison') {
              poisonAttempts.push(message.attempt);
              throw new Error('boom: poison in a run');
            }
            applied.push(message);
          },
          // All or nothing, like one database transaction.
          batchHandler: async (messages) => {
            runs.push(messages.map((message) => message.value));
            if (messages.some((message) => message.value === 'poison')) throw new Error('boom: poison in a run');
            applied.push(...messages);
          },
        });

        await waitFor(
          () => applied.length >= values.length - 1 && poisonAttempts.length >= 2,
          () => `${values.length - 1} applied (got ${applied.map((m) => m.value).join(',')}), 2 poison attempts (got ${poisonAttempts.length})`,
        );
        const dead: IncomingMessage[] = [];
        await subscribe(bus, {
          group: unique('batch-dlq-reader'),
          topics: [deadLetterTopic(topic)],
          handler: async (message) => {
            dead.push(message);
          },
        });
        await waitFor(() => dead.length >= 1, () => `a message on ${deadLetterTopic(topic)}`);

        expect(runs.some((run) => run.length > 1), `runs handed to the batch handler: ${JSON.stringify(runs)}`).toBe(true);
        expect(applied.map((message) => message.value).sort()).toEqual(values.filter((value) => value !== 'poison').sort());
        for (const key of ['key-a', 'key-b']) {
          const ofKey = values.filter((value) => value !== 'poison' && keyOf(value) === key);
          expect(applied.filter((message) => message.key === key).map((message) => message.value), `order of ${key}`).toEqual(ofKey);
        }
        expect(poisonAttempts).toEqual([1, 2]);
        expect(dead).toHaveLength(1);
        expect(dead[0]).toMatchObject({ key: 'key-a', value: 'poison' });
        expect(dead[0]!.headers[DEAD_LETTER_HEADERS.attempts]).toBe('2');
      },
      TEST_TIMEOUT_MS,
    );

    it(
      'when a subscription is stopped while its handler has not finished, then the next subscription of the group receives the unfinished message again',
      async () => {
        const topic = unique('restart');
        const group = unique('restart-group');
        const values = ['step-1', 'step-2', 'step-3'];
        await bus.publish(values.map((value) => ({ topic, key: 'cart-1', value })));

        // First run: the handler is still busy with step-1 when the service shuts down, and fails.
        const started = deferred<void>();
        const release = deferred<void>();
        const firstRun: IncomingMessage[] = [];
        const first = await subscribe(bus, {
          group,
          topics: [topic],
          retryBackoffMs: 10,
          handler: async (message) => {
            firstRun.push(message);
            started.resolve();
            await release.promise;
            throw new Error('interrupted by shutdown');
          },
        });
        await withDeadline(started.promise, waitTimeoutMs, 'the first delivery of step-1');
        const stopping = first.stop();
        release.resolve();
        await withDeadline(stopping, waitTimeoutMs, 'stop() of the first subscription');
        expect(firstRun.map((message) => message.value)).toEqual(['step-1']);

        // Second run, same group: everything not acknowledged comes again, step-1 first.
        const secondRun: IncomingMessage[] = [];
        await subscribe(bus, {
          group,
          topics: [topic],
          handler: async (message) => {
            secondRun.push(message);
          },
        });
        await waitFor(
          () => secondRun.length >= values.length,
          () => `${values.length} redelivered messages, got ${secondRun.map((m) => m.value).join(',')}`,
        );
        expect(secondRun.map((message) => message.value)).toEqual(values);
        expect(secondRun[0]!.offset).toBe(firstRun[0]!.offset);
        expect(secondRun[0]!.attempt).toBe(1);
      },
      TEST_TIMEOUT_MS,
    );

    it(
      'when a subscription that handled messages is stopped, then the next subscription of the group receives only the messages published after them',
      async () => {
        const topic = unique('resume');
        const group = unique('resume-group');
        const before = Array.from({ length: 6 }, (_, i) => ({ topic, key: `cart-${i % 3}`, value: `before-${i}` }));
        await bus.publish(before);
        const firstRun: string[] = [];
        const first = await subscribe(bus, { group, topics: [topic], handler: async (message) => void firstRun.push(message.value) });
        await waitFor(() => firstRun.length >= before.length, () => `${before.length} messages, got ${firstRun.join(',')}`);
        await withDeadline(first.stop(), waitTimeoutMs, 'stop() of the first subscription');

        await bus.publish([{ topic, key: 'cart-0', value: 'after-0' }, { topic, key: 'cart-1', value: 'after-1' }]);
        const secondRun: string[] = [];
        await subscribe(bus, { group, topics: [topic], handler: async (message) => void secondRun.push(message.value) });
        await waitFor(() => secondRun.length >= 2, () => `the 2 new messages, got ${secondRun.join(',')}`);
        expect(secondRun.sort()).toEqual(['after-0', 'after-1']);
      },
      TEST_TIMEOUT_MS,
    );

    it(
      'when the bus is connected, then isReady() is true',
      async () => {
        await expect(bus.isReady()).resolves.toBe(true);
      },
      TEST_TIMEOUT_MS,
    );

    it(
      'when close() is called while a handler is in flight, then it resolves only after the handler has finished',
      async () => {
        const own = await makeBus();
        extraBuses.push(own);
        const topic = unique('close');
        const started = deferred<void>();
        const release = deferred<void>();
        let finished = false;
        const handler: MessageHandler = async () => {
          started.resolve();
          await release.promise;
          await new Promise((resolve) => setTimeout(resolve, 50));
          finished = true;
        };
        await own.subscribe({ group: unique('close-group'), topics: [topic], handler });
        await own.publish([{ topic, key: 'k', value: 'slow' }]);
        await withDeadline(started.promise, waitTimeoutMs, 'the handler to start');

        let closed = false;
        const closing = own.close().then(() => {
          closed = true;
        });
        await new Promise((resolve) => setTimeout(resolve, 300));
        expect(closed, 'close() resolved while the handler was still running').toBe(false);
        release.resolve();
        await withDeadline(closing, waitTimeoutMs, 'close()');
        expect(finished).toBe(true);
        await expect(own.isReady()).resolves.toBe(false);
      },
      TEST_TIMEOUT_MS,
    );
  });
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** Resolves once `condition` holds, checking every 20 ms; throws naming `what` after `timeoutMs`. Also for the buses' own tests. */
export async function pollUntil(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function withDeadline<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
