import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, eventually, type TestPlatform } from './testing/index';
import { migrate } from './db/migrate';
import { createOutboxRelay, event, writeOutbox } from './outbox';
import { createBatchEventHandler, createEventHandler, subscribeEvents, type HandlerContext } from './consumer';
import { makeEnvelope } from '@emporium/contracts';
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

  /** Outbox rows as they are now, to put back after a flush: what a relay that crashed after sending, before deleting, leaves. */
  const unsent = async (where = 'true') => {
    const { rows } = await producerDb.query<{ event_id: string; topic: string; key: string; type: string; payload: unknown }>(
      `SELECT event_id, topic, key, type, payload FROM outbox WHERE ${where} ORDER BY id`,
    );
    return async () => {
      for (const r of rows) {
        await producerDb.query('INSERT INTO outbox (event_id, topic, key, type, payload) VALUES ($1, $2, $3, $4, $5::jsonb)', [r.event_id, r.topic, r.key, r.type, JSON.stringify(r.payload)]);
      }
    };
  };

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
    const putBack = await unsent();
    expect(await relay.flush()).toBe(1);
    // Simulate a relay that crashed after publishing but before deleting the row it sent.
    await putBack();
    expect(await relay.flush()).toBe(1);
    await eventually(async () => (await consumerDb.query<{ n: number }>('SELECT count(*)::int AS n FROM inbox')).rows[0]?.n === 1);
    await new Promise((r) => setTimeout(r, 200));
    const { rows } = await consumerDb.query<{ times: number }>('SELECT times FROM effects WHERE order_id = $1', ['o-1']);
    expect(rows[0]?.times).toBe(1);
    // The redelivered copy began its handler as if new (the inbox mark travels with its first
    // statement), which failed on the mark: its effect was rolled back.
    expect(handled.every((id) => id === 'o-1')).toBe(true);
    await sub.stop();
  });
  it('when a run of events handled in one transaction holds one its handler cannot handle, then only that one is parked and every other event is applied once', async () => {
    const logger = (await import('./logger')).createLogger('t', 'silent');
    const relay = createOutboxRelay({ db: producerDb, bus: platform.bus, logger });
    const ids = ['o-run-1', 'o-run-2', 'o-run-poison', 'o-run-3', 'o-run-4'];
    await producerDb.transaction((tx) =>
      // One key: one partition, so they are read as one run.
      writeOutbox(tx, ids.map((id) => event('order_completed', 'c-run', { orderId: id, customerId: 'c-run', items: [] })), { source: 'test' }),
    );
    const putBack = await unsent("payload->'data'->>'orderId' = 'o-run-2'");
    await relay.flush();
    // The relay sends one of them twice (crash before deleting): the second copy is absorbed too.
    await putBack();
    await relay.flush();

    const attempts: string[] = [];
    // Subscribed after the events were published: the first read brings them as one run.
    const sub = await subscribeEvents({
      bus: platform.bus,
      db: consumerDb,
      group: 'run-consumer',
      source: 'run-consumer',
      logger,
      maxAttempts: 2,
      retryBackoffMs: 10,
      handlers: {
        order_completed: async (data, { tx }) => {
          if (!data.orderId.startsWith('o-run-')) return;
          attempts.push(data.orderId);
          await tx.query('INSERT INTO effects (order_id, times) VALUES ($1, 1) ON CONFLICT (order_id) DO UPDATE SET times = effects.times + 1', [data.orderId]);
          if (data.orderId === 'o-run-poison') throw new Error('cannot handle this order');
        },
      },
    });
    const bus = platform.pglite.forSchema('bus');
    await eventually(async () => (await bus.query("SELECT 1 FROM messages WHERE topic = 'order-events.dlq' AND value::jsonb->'data'->>'orderId' = 'o-run-poison'")).rowCount === 1, 10_000, 'the poison event parked');
    await eventually(async () => (await consumerDb.query("SELECT 1 FROM inbox WHERE consumer = 'run-consumer' AND event_id IN (SELECT (value::jsonb->>'id')::uuid FROM bus.messages WHERE topic = 'order-events' AND key = 'c-run')")).rowCount === 4);
    await new Promise((r) => setTimeout(r, 200));
    await sub.stop();

    const { rows } = await consumerDb.query<{ order_id: string; times: number }>("SELECT order_id, times FROM effects WHERE order_id LIKE 'o-run-%' ORDER BY order_id");
    expect(rows).toEqual(['o-run-1', 'o-run-2', 'o-run-3', 'o-run-4'].map((order_id) => ({ order_id, times: 1 })));
    // Once in the failed run, then its own two attempts; the rest ran once in the run and once alone.
    expect(attempts.filter((id) => id === 'o-run-poison')).toHaveLength(3);
    expect(attempts.filter((id) => id === 'o-run-1')).toHaveLength(2);
  });
  it('when the running relay sends events one after another, then each is sent once and every row leaves the outbox, the last one without a further wake-up', async () => {
    const logger = (await import('./logger')).createLogger('t', 'silent');
    const relay = createOutboxRelay({ db: producerDb, bus: platform.bus, logger, pollIntervalMs: 60_000 });
    await relay.start();
    const keys = ['o-mark-1', 'o-mark-2', 'o-mark-3', 'o-mark-4'];
    for (const key of keys) {
      await producerDb.transaction((tx) => writeOutbox(tx, [event('order_completed', key, { orderId: key, customerId: 'c-mark', items: [] })], { source: 'test' }));
      await new Promise((r) => setTimeout(r, 10));
    }
    // The poll interval is a minute: only the NOTIFY wake-ups and the delete delay can have removed them.
    await eventually(
      async () => (await producerDb.query("SELECT 1 FROM outbox WHERE key LIKE 'o-mark-%'")).rowCount === 0,
      5_000,
      'every row sent and deleted',
    );
    const bus = platform.pglite.forSchema('bus');
    const sent = await bus.query<{ key: string; n: number }>("SELECT key, count(*)::int AS n FROM messages WHERE key LIKE 'o-mark-%' GROUP BY key ORDER BY key");
    expect(sent.rows).toEqual(keys.map((key) => ({ key, n: 1 })));
    await relay.stop();
  });

  it('when the relay sends events whose data one of their consumers does not need, then each goes to its topic and only to the services that need it', async () => {
    const relay = createOutboxRelay({ db: producerDb, bus: platform.bus, logger: (await import('./logger')).createLogger('t', 'silent') });
    const level = (delta: { onHand: number; reserved: number } | undefined, reason: string) =>
      event('stock_level_changed', 'p-route', { productId: 'p-route', onHand: 8, reserved: 2, available: 6, reason, ...(delta ? { delta } : {}) });
    const confirmed = (orderId: string, source: 'direct' | 'cart') => event('order_confirmed', orderId, { orderId, customerId: 'c-route', items: [], total: 100, currency: 'EUR', source });
    await producerDb.transaction((tx) =>
      writeOutbox(tx, [
        level({ onHand: 0, reserved: 2 }, 'stock_reserved'),
        level({ onHand: -2, reserved: -2 }, 'stock_committed'),
        level(undefined, 'product_created'),
        confirmed('o-route-direct', 'direct'),
        confirmed('o-route-cart', 'cart'),
      ], { source: 'test' }),
    );
    await relay.flush();
    const { rows } = await platform.pglite.forSchema('bus').query<{ reason: string | null; order_id: string | null; deliver_to: string[] }>(
      "SELECT value::jsonb #>> '{data,reason}' AS reason, value::jsonb #>> '{data,orderId}' AS order_id, deliver_to FROM messages WHERE key IN ('p-route', 'o-route-direct', 'o-route-cart') ORDER BY id",
    );
    expect(rows).toEqual([
      { reason: 'stock_reserved', order_id: null, deliver_to: ['cart'] },
      // A sale leaves what is available as it was: the cart has nothing to change.
      { reason: 'stock_committed', order_id: null, deliver_to: [] },
      { reason: 'product_created', order_id: null, deliver_to: ['cart'] },
      { reason: null, order_id: 'o-route-direct', deliver_to: ['inventory', 'shipping'] },
      { reason: null, order_id: 'o-route-cart', deliver_to: ['inventory', 'cart', 'shipping'] },
    ]);
  });

  it('when a message names in its event-type header a type the consumer does not handle, then it is acknowledged unread, and a handled type is still read and validated', async () => {
    const handle = createEventHandler({
      db: consumerDb,
      group: 'header-consumer',
      source: 'header-consumer',
      logger: (await import('./logger')).createLogger('t', 'silent'),
      handlers: { order_completed: async () => undefined },
    });
    const message = (type: string, value: string) => ({ topic: 'order-events', key: 'k', value, headers: { 'event-type': type }, partition: 0, offset: '0', attempt: 1 });
    // Not JSON at all: had it been parsed, this would throw.
    expect(await handle(message('order_placed', 'not json'))).toBe('ignored');
    await expect(handle(message('order_completed', 'not json'))).rejects.toThrow(/not JSON/);
  });
  it('when a handler leaves a task for after the commit, then it runs once the effect is committed, and never for a failure or a duplicate, alone or in a run', async () => {
    const seen: Array<{ orderId: string; committed: number }> = [];
    const options = {
      db: consumerDb,
      group: 'after-commit',
      source: 'after-commit',
      logger: (await import('./logger')).createLogger('t', 'silent'),
      handlers: {
        order_completed: async (data: { orderId: string }, { tx, afterCommit }: HandlerContext) => {
          await tx.query('INSERT INTO effects (order_id, times) VALUES ($1, 1) ON CONFLICT (order_id) DO UPDATE SET times = effects.times + 1', [data.orderId]);
          afterCommit(async () => {
            // Read outside the transaction: the effect is committed by now.
            const { rows } = await consumerDb.query<{ times: number }>('SELECT times FROM effects WHERE order_id = $1', [data.orderId]);
            seen.push({ orderId: data.orderId, committed: rows[0]?.times ?? 0 });
          });
          if (data.orderId.endsWith('-fails')) throw new Error('refused');
        },
      },
    };
    const handle = createEventHandler(options);
    const handleRun = createBatchEventHandler(options);
    const message = (orderId: string, offset: number) => ({
      topic: 'order-events',
      key: 'c-after',
      value: JSON.stringify(makeEnvelope({ type: 'order_completed', source: 'test', key: 'c-after', data: { orderId, customerId: 'c-after', items: [] } })),
      headers: { 'event-type': 'order_completed' },
      partition: 0,
      offset: String(offset),
      attempt: 1,
    });
    const first = message('o-after-1', 1);
    expect(await handle(first)).toBe('handled');
    expect(await handle(first)).toBe('duplicate');
    await expect(handle(message('o-after-fails', 2))).rejects.toThrow('refused');
    // A run with an event handled before goes twice (ADR 0012, session 17): the first try's tasks are dropped.
    await handleRun([message('o-after-2', 3), first, message('o-after-3', 4)]);
    await expect(handleRun([message('o-after-4', 5), message('o-after-fails', 6)])).rejects.toThrow('refused');
    await eventually(async () => seen.length >= 3, 5_000, 'the tasks of the committed events');
    await new Promise((r) => setTimeout(r, 50));
    expect(seen.sort((a, b) => a.orderId.localeCompare(b.orderId))).toEqual(['o-after-1', 'o-after-2', 'o-after-3'].map((orderId) => ({ orderId, committed: 1 })));
  });

  it('when the relay has deleted enough sent rows, then it vacuums the outbox, so its reads do not walk what was sent', async () => {
    const logger = (await import('./logger')).createLogger('t', 'silent');
    const relay = createOutboxRelay({ db: producerDb, bus: platform.bus, logger, pollIntervalMs: 20, vacuumAfterRows: 25, vacuumIntervalMs: 3_600_000 });
    const stats = async () =>
      (await producerDb.query<{ vacuums: number; dead: number }>("SELECT vacuum_count::int AS vacuums, n_dead_tup::int AS dead FROM pg_stat_user_tables WHERE schemaname = 'producer' AND relname = 'outbox'")).rows[0]!;
    const before = (await stats()).vacuums;
    await relay.start();
    for (let i = 0; i < 30; i++) {
      await producerDb.transaction((tx) => writeOutbox(tx, [event('order_completed', `o-vac-${i}`, { orderId: `o-vac-${i}`, customerId: 'c-vac', items: [] })], { source: 'test' }));
    }
    await eventually(async () => (await stats()).vacuums > before, 5_000, 'a vacuum of the outbox');
    await relay.stop();
    expect(await producerDb.query("SELECT 1 FROM outbox WHERE key LIKE 'o-vac-%'")).toMatchObject({ rowCount: 0 });
  });
});
