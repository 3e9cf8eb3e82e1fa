import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeEnvelope } from '@emporium/contracts';
import { migrate } from './db/migrate';
import { createPostgresDb } from './db/postgres';
import type { Db, Sql } from './db/types';
import type { IncomingMessage } from './bus/types';
import { createBatchEventHandler } from './consumer';
import { handleOnce } from './inbox';
import { createLogger } from './logger';
import { freshPostgresDatabase } from './testing/index';

/**
 * On PostgreSQL the inbox mark is a deferred write: it travels with the effect's first statement,
 * and a duplicate is found when that statement (or the COMMIT) fails on the inbox's primary key.
 */
describe('the inbox on PostgreSQL, where an event is marked handled together with its effect', () => {
  let url: string;
  /** One connection: every statement below is prepared on it after its first use, so the mark is deferred. */
  let one: Db;
  let two: Db;

  const effect = (orderId: string, pause = 0) => async (tx: Sql) => {
    await tx.query('INSERT INTO effects (order_id, times) VALUES ($1, 1) ON CONFLICT (order_id) DO UPDATE SET times = effects.times + 1', [orderId]);
    if (pause > 0) await new Promise((r) => setTimeout(r, pause));
    await tx.defer!('INSERT INTO effect_log (order_id) VALUES ($1)', [orderId]);
  };
  const applied = async (orderId: string) => {
    const times = (await one.query<{ times: number }>('SELECT times FROM effects WHERE order_id = $1', [orderId])).rows[0]?.times ?? 0;
    const logged = (await one.query<{ n: number }>('SELECT count(*)::int AS n FROM effect_log WHERE order_id = $1', [orderId])).rows[0]!.n;
    return { times, logged };
  };

  beforeAll(async () => {
    url = await freshPostgresDatabase('emporium_inbox_test');
    one = createPostgresDb({ connectionString: url, schema: 'consumer', max: 1 });
    two = createPostgresDb({ connectionString: url, schema: 'consumer', max: 2 });
    await migrate(one);
    await one.query('CREATE TABLE IF NOT EXISTS effects (order_id text PRIMARY KEY, times integer NOT NULL)');
    await one.query('CREATE TABLE IF NOT EXISTS effect_log (id bigserial PRIMARY KEY, order_id text NOT NULL)');
    // Prepares the mark and the effect's statements on the connection.
    await handleOnce(one, 'warm', crypto.randomUUID(), 'order_completed', effect('o-warm'));
  });
  afterAll(async () => {
    await one?.close();
    await two?.close();
  });

  it('when an event is handled again, then it resolves to false and its effect, begun as if the event were new, is rolled back', async () => {
    const id = crypto.randomUUID();
    let begun = 0;
    const counted = (tx: Sql) => {
      begun++;
      return effect('o-again')(tx);
    };
    expect(await handleOnce(one, 'orders', id, 'order_completed', counted)).toBe(true);
    expect(await handleOnce(one, 'orders', id, 'order_completed', counted)).toBe(false);
    // No round trip of its own: the duplicate is found by the effect's first statement.
    expect(begun).toBe(2);
    expect(await handleOnce(one, 'orders', id, 'order_completed', async (tx) => void (await tx.defer!('INSERT INTO effect_log (order_id) VALUES ($1)', ['o-again'])))).toBe(false);
    expect(await applied('o-again')).toEqual({ times: 1, logged: 1 });
    // Another consumer's mark of the same event is its own.
    expect(await handleOnce(one, 'shipping', id, 'order_completed', effect('o-again'))).toBe(true);
    expect(await applied('o-again')).toEqual({ times: 2, logged: 2 });
  });

  it('when two deliveries of one event are handled at the same time, then exactly one effect commits', async () => {
    for (let round = 0; round < 5; round++) {
      const id = crypto.randomUUID();
      const orderId = `o-race-${round}`;
      const results = await Promise.all([0, 1].map(() => handleOnce(two, 'orders', id, 'order_completed', effect(orderId, 30))));
      expect(results.sort()).toEqual([false, true]);
      expect(await applied(orderId)).toEqual({ times: 1, logged: 1 });
    }
  });

  it('when the effect fails on its own, then its error stands and the event is not marked handled', async () => {
    const id = crypto.randomUUID();
    await expect(
      handleOnce(one, 'orders', id, 'order_completed', async (tx) => {
        await effect('o-fails')(tx);
        throw new Error('the effect refused');
      }),
    ).rejects.toThrow('the effect refused');
    expect(await applied('o-fails')).toEqual({ times: 0, logged: 0 });
    expect((await one.query('SELECT 1 FROM inbox WHERE event_id = $1', [id])).rowCount).toBe(0);
    // Its next delivery is handled.
    expect(await handleOnce(one, 'orders', id, 'order_completed', effect('o-fails'))).toBe(true);
  });

  it('when a run of events holds some handled before and a second copy of one, then the rest are applied once, in one more transaction, and the run does not fail', async () => {
    const handled: string[] = [];
    const handle = createBatchEventHandler({
      db: one,
      group: 'run',
      source: 'run',
      logger: createLogger('t', 'silent'),
      handlers: {
        order_completed: async (data, { tx }) => {
          handled.push(data.orderId);
          await effect(data.orderId)(tx);
        },
      },
    });
    const message = (orderId: string, offset: number, envelope = makeEnvelope({ type: 'order_completed', source: 'test', key: 'c-run', data: { orderId, customerId: 'c-run', items: [] } })): IncomingMessage => ({
      topic: 'order-events',
      key: 'c-run',
      value: JSON.stringify(envelope),
      headers: { 'event-type': 'order_completed' },
      partition: 0,
      offset: String(offset),
      attempt: 1,
    });
    const first = [message('o-run-1', 1), message('o-run-2', 2)];
    await handle(first);
    const again = { ...first[1]!, offset: '5' };
    await handle([first[0]!, message('o-run-3', 3), again, message('o-run-4', 4), again]);
    for (const orderId of ['o-run-1', 'o-run-2', 'o-run-3', 'o-run-4']) expect(await applied(orderId)).toEqual({ times: 1, logged: 1 });
    // The second run first began o-run-1 as if every event were new: the mark travelled with its
    // first statement, which failed on it. Then the run went again without the events handled before.
    expect(handled).toEqual(['o-run-1', 'o-run-2', 'o-run-1', 'o-run-3', 'o-run-4']);
  });
});
