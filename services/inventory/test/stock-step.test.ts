import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, type Db } from '@emporium/platform';
import { createTestPlatform, type TestPlatform } from '@emporium/platform/testing';
import { createInventoryStore } from '../src/store/inventory.store';

/**
 * An event's stock step travels with the COMMIT (StockStep.defer), so its checks run in SQL
 * (`assert_held`) instead of on an answer it no longer reads.
 */
describe('a deferred stock step', () => {
  let platform: TestPlatform;
  let db: Db;
  const store = () => createInventoryStore(db, 'inventory');

  beforeAll(async () => {
    platform = await createTestPlatform();
    db = platform.deps('inventory').db;
    await migrate(db, fileURLToPath(new URL('../migrations', import.meta.url)));
    await db.query("INSERT INTO stock (product_id, on_hand) VALUES ('p-step', 5)");
    await db.query("INSERT INTO reservations (order_id, product_id, quantity, status, expires_at) VALUES ('o-step', 'p-step', 2, 'active', now() + interval '1 hour')");
    await db.query("UPDATE stock SET reserved = 2 WHERE product_id = 'p-step'");
  });
  afterAll(async () => {
    await platform.close();
  });

  const sold = async (orderId: string) => {
    const step = store().step();
    await db.transaction(async (tx) => {
      const { lines, levels } = await store().lockActive(tx, orderId);
      step.close(orderId, lines.length > 0 ? lines : [{ productId: 'p-step', quantity: 2 }], 'committed');
      step.apply(lines.map((l) => ({ productId: l.productId, onHandDelta: -l.quantity, reservedDelta: -l.quantity, movement: { kind: 'sold', quantity: -l.quantity, orderId, reason: 'test' } })));
      expect(levels.size).toBe(lines.length);
      await step.defer(tx, []);
    });
  };

  it('when its reservations are still active, then the writes commit with the transaction', async () => {
    await sold('o-step');
    const { rows } = await db.query<{ on_hand: number; reserved: number }>("SELECT on_hand, reserved FROM stock WHERE product_id = 'p-step'");
    expect(rows[0]).toEqual({ on_hand: 3, reserved: 0 });
  });

  it('when a reservation it closes is no longer active, then the transaction fails at the commit and nothing is written', async () => {
    // The order's reservation was committed above: closing it again must not hold.
    await expect(sold('o-step')).rejects.toThrow(/reservations of order o-step changed while locked/);
    const { rows } = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM stock_movements WHERE product_id = 'p-step'");
    expect(rows[0]!.n).toBe(1);
  });
});
