import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeEnvelope, topicOf, type EventData, type EventType } from '@emporium/contracts';
import { createBatchEventHandler, createLogger, createPostgresDb, migrate, type BatchHandler, type Db, type IncomingMessage } from '@emporium/platform';
import { freshPostgresDatabase } from '@emporium/platform/testing';
import { planStockUpdate } from '../src/domain/stock';
import { expireReservations, inventoryHandlers, lockInventoryRun } from '../src/events/handlers';
import { createInventoryStore, type InventoryStore } from '../src/store/inventory.store';

const MIGRATIONS = fileURLToPath(new URL('../migrations', import.meta.url));
const DATABASE = 'emporium_inventory_runs_test';
const PRODUCTS = ['p-a', 'p-b', 'p-c', 'p-d', 'p-e', 'p-f'];
const PARTITIONS = 4;
const RUNS_PER_PARTITION = 5;
const ORDERS_PER_RUN = 8;

/** The products of order `i` of partition `p`: two, in an order that crosses other runs' orders. */
const productsOf = (p: number, i: number): [string, string] => {
  const first = (i * 7 + p * 3) % PRODUCTS.length;
  const second = (first + 1 + ((i + p) % (PRODUCTS.length - 1))) % PRODUCTS.length;
  return [PRODUCTS[first]!, PRODUCTS[second]!];
};

let offset = 0;
const message = <T extends EventType>(type: T, partition: number, data: EventData<T> & { orderId: string }): IncomingMessage => {
  const envelope = makeEnvelope({ type, source: 'orders', key: data.orderId, data });
  return { topic: topicOf(type), key: data.orderId, value: JSON.stringify(envelope), headers: { 'event-type': type }, partition, offset: String(offset++), attempt: 1 };
};

describe('runs of order events on PostgreSQL, side by side (inventory)', () => {
  const logger = createLogger('inventory', 'silent');
  let db: Db;
  let store: InventoryStore;
  let handleRun: BatchHandler;

  beforeAll(async () => {
    db = createPostgresDb({ connectionString: await freshPostgresDatabase(DATABASE), schema: 'inventory', max: 10 });
    await migrate(db, MIGRATIONS);
    store = createInventoryStore(db, 'inventory');
    for (const productId of PRODUCTS) {
      await db.query('INSERT INTO stock (product_id) VALUES ($1)', [productId]);
      await store.update(productId, (current) => planStockUpdate(current, { set: 1000, reason: 'opening stock' }), {});
    }
    handleRun = createBatchEventHandler({ db, group: 'inventory', source: 'inventory', handlers: inventoryHandlers(store), logger, parallelRuns: true, lockRun: lockInventoryRun(store) });
  });
  afterAll(async () => {
    await db?.close();
  });

  it('when runs of orders over the same products commit side by side, beside staff stock updates and the expiry sweep, then none deadlocks, each order is answered once and the ledger reconciles', async () => {
    // A deadlock aborts one of the transactions in it: a run, a staff update or the sweep fails.
    const failures: string[] = [];
    let busy = true;
    /** Staff adjust every product, one row at a time, while the runs go on. */
    const staff = (async () => {
      for (let i = 0; busy; i++) {
        const productId = PRODUCTS[i % PRODUCTS.length]!;
        await store.update(productId, (current) => planStockUpdate(current, { adjust: i % 2 === 0 ? 1 : -1, reason: 'recount' }), {}).catch((error: Error) => failures.push(`staff: ${error.message}`));
      }
    })();
    /** The sweep releases the reservations that ran out (a quarter of the orders reserve for 0 ms). */
    const sweep = (async () => {
      while (busy) await expireReservations(store, logger).catch((error: Error) => failures.push(`sweep: ${error.message}`));
    })();
    /** Each partition hands over its runs one after another; partitions go side by side. */
    const deliver = (runs: (p: number, r: number) => IncomingMessage[]) =>
      Promise.all(
        Array.from({ length: PARTITIONS }, async (_, p) => {
          for (let r = 0; r < RUNS_PER_PARTITION; r++) await handleRun(runs(p, r)).catch((error: Error) => failures.push(`run ${p}/${r}: ${error.message}`));
        }),
      );
    const ordersOf = (p: number, r: number) => Array.from({ length: ORDERS_PER_RUN }, (_, i) => ({ i, orderId: `o-${p}-${r}-${i}`, products: productsOf(p, r * ORDERS_PER_RUN + i) }));
    const soon = new Date(Date.now() + 60_000).toISOString();

    await deliver((p, r) =>
      ordersOf(p, r).map(({ i, orderId, products }) =>
        message('order_placed', p, {
          orderId,
          customerId: 'c-1',
          items: products.map((productId) => ({ productId, name: productId, quantity: 1, unitPrice: 100, lineTotal: 100 })),
          currency: 'EUR',
          subtotal: 200,
          discount: 0,
          total: 200,
          paymentMethod: 'credit_card',
          source: 'direct',
          reserveUntil: i % 4 === 3 ? new Date().toISOString() : soon,
        }),
      ),
    );
    // Then every order is settled, in runs that mix confirmations, completions and cancellations.
    await deliver((p, r) =>
      ordersOf(p, r).flatMap(({ i, orderId, products }) => {
        const items = products.map((productId) => ({ productId, quantity: 1 }));
        if (i % 2 === 0) return [message('order_confirmed', p, { orderId, customerId: 'c-1', items: items.map((l) => ({ ...l, name: l.productId, unitPrice: 100, lineTotal: 100 })), total: 200, currency: 'EUR' }), message('order_completed', p, { orderId, customerId: 'c-1', items })];
        return [message('order_cancelled', p, { orderId, customerId: 'c-1', status: 'cancelled', code: 'customer_cancelled', reason: 'test', releaseStock: true, voidPaymentId: null })];
      }),
    );
    busy = false;
    await Promise.all([staff, sweep]);

    expect(failures).toEqual([]);
    const orders = PARTITIONS * RUNS_PER_PARTITION * ORDERS_PER_RUN;
    const { rows: outcomes } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM reservation_outcomes');
    expect(outcomes[0]!.n).toBe(orders);
    const { rows: open } = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM reservations WHERE status = 'active'");
    expect(open[0]!.n, 'reservations still active').toBe(0);
    expect(await store.reconcile()).toEqual([]);
    // Completed orders (half, less those whose reservation ran out first) sold their lines once.
    const { rows: sold } = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM stock_movements WHERE kind = 'sold'");
    const { rows: committed } = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM reservations WHERE status = 'committed'");
    expect(sold[0]!.n).toBe(committed[0]!.n);
    expect(committed[0]!.n).toBeGreaterThan(0);
  });
});
