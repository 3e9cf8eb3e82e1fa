import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, eventually, type TestPlatform } from './testing/index';
import { migrate } from './db/migrate';
import { createOutboxRelay, event, writeOutbox } from './outbox';
import { subscribeEvents } from './consumer';
import type { Db } from './db/types';

describe('outbox, relay and inbox on the embedded database', () => {
  let platform: TestPlatform;
  let producerDb: Db;
  let consumerDb: Db;

  beforeAll(async () => {
    platform = await createTestPlatform();
    producerDb = platform.pglite.forSchema('producer');
    consumerDb = platform.pglite.forSchema('consumer');
    await migrate(producerDb);
    await migrate(consumerDb);
    await consumerDb.query('CREATE TABLE IF NOT EXISTS effects (order_id text PRIMARY KEY, times integer NOT NULL)');
  });
  afterAll(() => platform.close());

  it('when migrations run twice, then the second run applies nothing', async () => {
    expect(await migrate(producerDb)).toEqual([]);
  });

  it('when the transaction that wrote an event rolls back, then the event is never published', async () => {
    await expect(
      producerDb.transaction(async (tx) => {
        await writeOutbox(tx, [event('order_completed', 'o-rolled-back', { orderId: 'o-rolled-back', customerId: 'c', items: [] })], { source: 'test' });
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    const { rows } = await producerDb.query('SELECT * FROM outbox WHERE key = $1', ['o-rolled-back']);
    expect(rows).toHaveLength(0);
  });

  it('when an event is committed, relayed twice and redelivered, then the consumer applies it once', async () => {
    const handled: string[] = [];
    const sub = await subscribeEvents({
      bus: platform.bus,
      db: consumerDb,
      group: 'consumer',
      source: 'consumer',
      logger: (await import('./logger')).createLogger('t', 'silent'),
      handlers: {
        order_completed: async (data, { tx }) => {
          handled.push(data.orderId);
          await tx.query(
            'INSERT INTO effects (order_id, times) VALUES ($1, 1) ON CONFLICT (order_id) DO UPDATE SET times = effects.times + 1',
            [data.orderId],
          );
        },
      },
    });
    const relay = createOutboxRelay({ db: producerDb, bus: platform.bus, logger: (await import('./logger')).createLogger('t', 'silent') });
    await producerDb.transaction((tx) =>
      writeOutbox(tx, [event('order_completed', 'o-1', { orderId: 'o-1', customerId: 'c-1', items: [{ productId: 'p', quantity: 1 }] })], { source: 'test' }),
    );
    expect(await relay.flush()).toBe(1);
    // Simulate a relay that crashed after publishing but before marking the row as sent.
    await producerDb.query('UPDATE outbox SET published_at = NULL');
    expect(await relay.flush()).toBe(1);
    await eventually(async () => (await consumerDb.query<{ n: number }>('SELECT count(*)::int AS n FROM inbox')).rows[0]?.n === 1);
    await new Promise((r) => setTimeout(r, 200));
    const { rows } = await consumerDb.query<{ times: number }>('SELECT times FROM effects WHERE order_id = $1', ['o-1']);
    expect(rows[0]?.times).toBe(1);
    expect(handled).toEqual(['o-1']);
    await sub.stop();
  });
});
