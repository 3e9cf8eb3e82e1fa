import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, eventually, type TestPlatform } from './testing/index';
import { createHttpApp } from './http/server';
import { INBOX_MARGIN_MS, inboxCutoff, pruneInbox } from './inbox';
import { event, writeOutbox } from './outbox';
import { defineService, type Service } from './service';
import { migrate } from './db/migrate';
import type { Db } from './db/types';

const DAY = 24 * 60 * 60_000;

describe('retention of the bus log and the inbox (embedded)', () => {
  let platform: TestPlatform;
  let producerDb: Db;
  let consumer: Service;
  let consumerDb: Db;
  const handled: string[] = [];

  beforeAll(async () => {
    platform = await createTestPlatform();
    producerDb = platform.pglite.forSchema('retention_producer');
    await migrate(producerDb);
    const deps = platform.deps('retention_consumer');
    consumerDb = deps.db;
    consumer = defineService({
      name: 'retention_consumer',
      deps,
      app: await createHttpApp({ service: 'retention_consumer', logger: deps.logger, metrics: deps.metrics }),
      handlers: {
        order_completed: async (data, { tx }) => {
          await tx.query('INSERT INTO effects (order_id, times) VALUES ($1, 1) ON CONFLICT (order_id) DO UPDATE SET times = effects.times + 1', [data.orderId]);
          handled.push(data.orderId);
        },
      },
    });
    await consumerDb.query('CREATE TABLE effects (order_id text PRIMARY KEY, times integer NOT NULL)');
    await consumer.start();
  });
  afterAll(async () => {
    await consumer.stop();
    await platform.close();
  });

  const publish = async (orderId: string) => {
    await producerDb.transaction((tx) => writeOutbox(tx, [event('order_completed', orderId, { orderId, customerId: 'c-retention', items: [] })], { source: 'test' }));
    const { rows } = await producerDb.query<{ id: string; topic: string; key: string; type: string; payload: unknown }>(
      'SELECT id, topic, key, type, payload FROM outbox WHERE key = $1',
      [orderId],
    );
    await platform.bus.publish(rows.map((r) => ({ topic: r.topic, key: r.key, value: JSON.stringify(r.payload), headers: { 'event-type': r.type } })));
    await eventually(async () => handled.includes(orderId), 10_000, `${orderId} handled`);
  };

  it('keeps an inbox row as long as its event can still be delivered again, and drops it once the bus has let the event go', async () => {
    await publish('o-ret-old');
    await publish('o-ret-new');
    // o-ret-old was published and handled ten days ago.
    await platform.pglite.forSchema('bus').query(`UPDATE messages SET created_at = now() - interval '10 days' WHERE key = 'o-ret-old'`);
    const { rows: old } = await producerDb.query<{ event_id: string }>(`SELECT event_id FROM outbox WHERE key = 'o-ret-old'`);
    await consumerDb.query(`UPDATE inbox SET handled_at = now() - interval '10 days' WHERE event_id = $1`, [old[0]!.event_id]);

    // While the log still holds o-ret-old (ten days old), its inbox row stays.
    expect(await platform.bus.retention(['order-events'])).toBeGreaterThan(10 * DAY - 60_000);
    expect(await consumer.pruneInbox()).toBe(0);

    // The log lets it go after its 7 days; then its inbox row can go too, and the recent one stays.
    expect(await platform.bus.prune()).toBe(1);
    expect(await platform.bus.retention(['order-events'])).toBeLessThan(60_000);
    expect(await consumer.pruneInbox()).toBe(1);
    const { rows } = await consumerDb.query<{ n: number }>('SELECT count(*)::int AS n FROM inbox');
    expect(rows[0]!.n).toBe(1);

    // Replaying everything the bus still has changes nothing: what remains is still remembered.
    await platform.bus.replay({ groups: ['retention_consumer'] });
    await eventually(async () => (await platform.bus.pending()) === 0, 10_000, 'replay delivered');
    const effects = await consumerDb.query<{ order_id: string; times: number }>('SELECT order_id, times FROM effects ORDER BY order_id');
    expect(effects.rows).toEqual([
      { order_id: 'o-ret-new', times: 1 },
      { order_id: 'o-ret-old', times: 1 },
    ]);
  });

  it('prunes a large inbox a batch at a time, only before the cutoff', async () => {
    await consumerDb.query(
      `INSERT INTO inbox (consumer, event_id, type, handled_at)
       SELECT 'bulk', gen_random_uuid(), 'order_completed', now() - interval '40 days' FROM generate_series(1, 2500)`,
    );
    await consumerDb.query(`INSERT INTO inbox (consumer, event_id, type) SELECT 'bulk', gen_random_uuid(), 'order_completed' FROM generate_series(1, 3)`);
    expect(await pruneInbox(consumerDb, new Date(Date.now() - 30 * DAY))).toBe(2500);
    const { rows } = await consumerDb.query<{ n: number }>(`SELECT count(*)::int AS n FROM inbox WHERE consumer = 'bulk'`);
    expect(rows[0]!.n).toBe(3);
  });

  it('keeps every inbox row when the bus keeps events without limit', () => {
    expect(inboxCutoff(null)).toBeUndefined();
    expect(inboxCutoff(7 * DAY, 100 * DAY)?.getTime()).toBe(100 * DAY - 7 * DAY - INBOX_MARGIN_MS);
  });
});
