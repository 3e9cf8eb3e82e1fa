import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from './db/migrate';
import { createPostgresDb } from './db/postgres';
import type { Db, DbSession } from './db/types';
import { createLogger } from './logger';
import { createOutboxRelay, event, writeOutbox } from './outbox';
import { createTestPlatform, eventually, freshPostgresDatabase, type TestPlatform } from './testing/index';

describe('outbox relay on PostgreSQL', () => {
  let platform: TestPlatform;
  let db: Db;
  /** The connection the relay opened for itself. */
  let relaySession: DbSession | undefined;

  beforeAll(async () => {
    platform = await createTestPlatform();
    db = createPostgresDb({ connectionString: await freshPostgresDatabase('emporium_outbox_relay_test'), schema: 'producer', max: 3 });
    await migrate(db);
  });
  afterAll(async () => {
    await db.close();
    await platform.close();
  });

  it('when the relay deletes the rows it sent, then its commits do not wait for the WAL flush, while the service’s own connections still do', async () => {
    const watched: Db = {
      ...db,
      openSession: async () => (relaySession = await db.openSession!()),
    };
    await db.transaction((tx) =>
      writeOutbox(tx, [1, 2, 3].map((n) => event('order_completed', `o-${n}`, { orderId: `o-${n}`, customerId: 'c', items: [] })), { source: 'test' }),
    );
    const relay = createOutboxRelay({ db: watched, bus: platform.bus, logger: createLogger('relay', 'silent'), pollIntervalMs: 20 });
    await relay.start();
    try {
      await eventually(async () => Number((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox')).rows[0]!.n) === 0, 10_000, 'the outbox emptied');
      expect((await relaySession!.query<{ synchronous_commit: string }>('SHOW synchronous_commit')).rows[0]!.synchronous_commit).toBe('off');
      expect((await db.query<{ synchronous_commit: string }>('SHOW synchronous_commit')).rows[0]!.synchronous_commit).toBe('on');
      expect(await db.transaction(async (tx) => (await tx.query<{ synchronous_commit: string }>('SHOW synchronous_commit')).rows[0]!.synchronous_commit)).toBe('on');
    } finally {
      await relay.stop();
    }
  });
});
