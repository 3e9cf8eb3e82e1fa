import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresDb, migrate, type Db } from '@emporium/platform';
import { freshPostgresDatabase } from '@emporium/platform/testing';
import { reserveStock } from '../src/domain/use-cases';
import { createInventoryStore } from '../src/store/inventory.store';

const MIGRATIONS = fileURLToPath(new URL('../migrations', import.meta.url));

/**
 * PostgreSQL plans a prepared statement once per connection (a generic plan, from its sixth run) and
 * keeps that plan until the table's statistics change. A server that never analyzes (autovacuum off,
 * as on this project's machine) keeps it for the connection's life, however much the table grows.
 */
describe('reserving stock on PostgreSQL, as the reservations table grows', () => {
  let db: Db;
  const store = () => createInventoryStore(db, 'inventory');

  beforeAll(async () => {
    // One connection: every statement is planned, and its plan kept, by the same backend.
    db = createPostgresDb({ connectionString: await freshPostgresDatabase('emporium_inventory_plans_test'), schema: 'inventory', max: 1 });
    await migrate(db, MIGRATIONS);
    await db.query("INSERT INTO stock (product_id, on_hand) VALUES ('p-1', 1000000)");
  });
  afterAll(async () => {
    await db.close();
  });

  /** Earlier orders' reservations (already sold), as a shop that has been running would hold. */
  const pastOrders = (from: number, count: number) =>
    db.query(
      `WITH o AS (SELECT 'past-' || lpad(i::text, 8, '0') || '-' || md5(i::text) AS order_id FROM generate_series($1::int, $2::int) i),
            r AS (INSERT INTO reservations (order_id, product_id, quantity, status) SELECT order_id, 'p-1', 1, 'committed' FROM o)
       INSERT INTO reservation_outcomes (order_id, outcome) SELECT order_id, 'reserved' FROM o`,
      [from, from + count - 1],
    );
  const reserve = (orderId: string) =>
    db.transaction(async (tx) => {
      const step = store().step();
      const { outcome, events } = await reserveStock(store(), tx, step, { orderId, items: [{ productId: 'p-1', quantity: 1 }], expiresAt: new Date(Date.now() + 60_000) });
      await step.defer(tx, events);
      return outcome;
    });
  /** Rows of reservations read by sequential scans so far (this backend's counts flushed first). */
  const rowsScanned = async () => {
    await db.query('SELECT pg_stat_force_next_flush()');
    const { rows } = await db.query<{ n: string }>("SELECT seq_tup_read AS n FROM pg_stat_user_tables WHERE relid = 'reservations'::regclass");
    return Number(rows[0]!.n);
  };

  it("when an order is reserved, then no other order's reservations are read, even by a plan made while the table was small", async () => {
    // A table of a few pages, with an index that has grown past its first page: the size at which a
    // generic plan for "does this order have reservations" (an EXISTS, planned for its first match
    // and without statistics) reads the table from its start instead of looking up the index.
    await pastOrders(1, 400);
    for (let i = 1; i <= 8; i++) expect(await reserve(`order-a-${i}`)).toBe('reserved');
    await pastOrders(401, 5000);
    for (let i = 1; i <= 20; i++) expect(await reserve(`order-b-${i}`)).toBe('reserved');
    expect(await reserve('order-b-1')).toBe('duplicate');
    expect(await rowsScanned()).toBe(0);
  });
});
