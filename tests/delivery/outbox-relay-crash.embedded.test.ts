import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createLogger,
  createMetrics,
  createOutboxRelay,
  event,
  migrate,
  subscribeEvents,
  writeOutbox,
  type Db,
  type EventBus,
  type OutboxRelay,
  type Subscription,
} from '@emporium/platform';
import { createTestPlatform, type TestPlatform } from '@emporium/platform/testing';
import { until } from './support';

/** A small deterministic PRNG, so a failing run can be repeated with the same crash pattern. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The relay marks a row published only after the bus accepted it. A relay that dies between the
 * two sends the row again when it comes back: never lost, possibly twice — and the consumer's
 * inbox absorbs the second copy, keeping each key's order.
 */
describe('the outbox relay killed at any point', () => {
  let platform: TestPlatform;
  let producer: Db;
  let consumer: Db;
  let subscription: Subscription | undefined;
  const seed = Number(process.env.DELIVERY_SEED ?? Date.now() % 100_000);
  const crashes = { beforePublish: 0, afterPublish: 0 };
  const metrics = createMetrics('delivery-consumer', { defaultMetrics: false });

  beforeAll(async () => {
    platform = await createTestPlatform();
    producer = platform.pglite.forSchema('relay_producer');
    consumer = platform.pglite.forSchema('relay_consumer');
    await migrate(producer);
    await migrate(consumer);
    await consumer.query('CREATE TABLE seen (seq bigserial PRIMARY KEY, key text NOT NULL, n integer NOT NULL, event_id uuid NOT NULL)');
  });
  afterAll(async () => {
    await subscription?.stop();
    await platform?.close();
  });

  /** The real bus, except the process "dies" at random: just before publishing, or just after. */
  const dyingBus = (rng: () => number): EventBus => ({
    ...platform.bus,
    publish: async (messages) => {
      if (rng() < 0.2) {
        crashes.beforePublish++;
        throw new Error('relay killed before publish');
      }
      await platform.bus.publish(messages);
      if (rng() < 0.4) {
        crashes.afterPublish++;
        throw new Error('relay killed after publish, before deleting the rows');
      }
    },
  });

  it('when the relay dies before or after publishing, again and again, then every row is published at least once, duplicates are absorbed by the inbox and per-key order holds', async () => {
    const rng = random(seed);
    subscription = await subscribeEvents({
      bus: platform.bus,
      db: consumer,
      group: 'relay-consumer',
      source: 'relay-consumer',
      logger: createLogger('relay-consumer', 'silent'),
      metrics,
      handlers: {
        stock_level_changed: async (data, { tx, envelope }) => {
          await tx.query('INSERT INTO seen (key, n, event_id) VALUES ($1, $2, $3)', [data.productId, data.onHand, envelope.id]);
        },
      },
    });

    const keys = ['k1', 'k2', 'k3', 'k4', 'k5'];
    const total = 150;
    const logger = createLogger('relay', 'silent');
    let relay: OutboxRelay | undefined;
    let restarts = 0;
    // The producer writes a stream of rows while relays come and go (a "process" lives a few ms).
    const written: string[] = [];
    const writing = (async () => {
      for (let i = 0; i < total; i++) {
        const key = keys[i % keys.length]!;
        const n = Math.floor(i / keys.length) + 1;
        const [envelope] = await producer.transaction((tx) =>
          writeOutbox(tx, [event('stock_level_changed', key, { productId: key, onHand: n, reserved: 0, available: n, reason: 'delivery test' })], { source: 'relay-producer' }),
        );
        written.push(envelope!.id);
        if (i % 10 === 0) await new Promise((r) => setTimeout(r, 5));
      }
    })();
    const deadline = Date.now() + 90_000;
    for (;;) {
      relay = createOutboxRelay({ db: producer, bus: dyingBus(rng), logger, pollIntervalMs: 5, batchSize: 1 + Math.floor(rng() * 8) });
      await relay.start();
      await new Promise((r) => setTimeout(r, 5 + rng() * 30));
      await relay.stop();
      restarts++;
      // The relay deletes what it sent: an empty outbox once every row is written means all went out.
      const pending = Number((await producer.query<{ n: number }>('SELECT count(*) AS n FROM outbox')).rows[0]!.n);
      if (written.length === total && pending === 0) break;
      if (Date.now() > deadline) throw new Error(`relay did not drain the outbox (seed ${seed}): ${pending} pending`);
    }
    await writing;

    // Every row reached the bus at least once; some more than once.
    const published = await platform.pglite.query<{ event_id: string; copies: number }>(
      "SELECT headers->>'event-id' AS event_id, count(*)::int AS copies FROM bus.messages WHERE topic = 'inventory-events' GROUP BY 1",
    );
    const copies = new Map(published.rows.map((r) => [r.event_id, r.copies]));
    expect(written.filter((id) => !copies.has(id)), `seed ${seed}: rows never published`).toEqual([]);
    const duplicates = [...copies.values()].reduce((sum, c) => sum + c - 1, 0);
    expect(crashes.afterPublish, `seed ${seed}`).toBeGreaterThan(0);
    expect(duplicates, `seed ${seed}`).toBeGreaterThan(0);

    // The consumer applied each event exactly once, in each key's order.
    await until(async () => (Number((await consumer.query<{ n: number }>('SELECT count(*) AS n FROM seen')).rows[0]!.n) === total ? true : undefined), 'every event to be handled', 60_000);
    await until(async () => ((await platform.bus.pending()) === 0 ? true : undefined), 'the consumer to catch up');
    const seen = await consumer.query<{ key: string; n: number; event_id: string }>('SELECT key, n, event_id FROM seen ORDER BY seq');
    expect(new Set(seen.rows.map((r) => r.event_id)).size).toBe(total);
    for (const key of keys) {
      const order = seen.rows.filter((r) => r.key === key).map((r) => r.n);
      expect(order, `seed ${seed}: order of ${key}`).toEqual(Array.from({ length: total / keys.length }, (_, i) => i + 1));
    }
    const absorbed = (await metrics.eventsHandled.get()).values.filter((v) => v.labels.outcome === 'duplicate').reduce((sum, v) => sum + v.value, 0);
    expect(absorbed, `seed ${seed}`).toBe(duplicates);
    console.log(
      `outbox relay (seed ${seed}): ${total} rows, ${restarts} relay lives, ${crashes.beforePublish} deaths before publish, ` +
        `${crashes.afterPublish} after publish; ${duplicates} duplicates published, ${absorbed} absorbed by the inbox; order per key intact`,
    );
  }, 150_000);
});
