import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createPostgresDb, migrate, type Db } from '@emporium/platform';
import { freshPostgresDatabase } from '@emporium/platform/testing';
import { addItem } from '../src/domain/cart';
import { createCartsStore } from '../src/store/carts.store';

const MIGRATIONS = fileURLToPath(new URL('../migrations', import.meta.url));

/** The one-statement write of a cart that already exists (the version-guarded UPDATE). */
const isGuardedWrite = (text: string) => /^WITH w0 AS \(UPDATE carts/.test(text);

/** Changes to one cart on PostgreSQL, made without a lock first and with one when they collide. */
describe('cart changes on PostgreSQL', () => {
  /** The database as it is, and the same with the hook the races below need. */
  let real: Db;
  let db: Db;
  /** Runs just before the next guarded write goes to the database (once). */
  let beforeNextWrite: (() => Promise<unknown>) | undefined;
  const writes = { guarded: 0 };

  beforeAll(async () => {
    real = createPostgresDb({ connectionString: await freshPostgresDatabase('emporium_cart_store_test'), schema: 'cart', max: 10 });
    await migrate(real, MIGRATIONS);
    // The store gets the real database, with a hook in front of its guarded write (the shopper's
    // edits go through the same hooked handle).
    db = {
      ...real,
      asynchronousCommit: () => db,
      query: async (text, params) => {
        if (isGuardedWrite(text)) {
          writes.guarded++;
          const hook = beforeNextWrite;
          beforeNextWrite = undefined;
          await hook?.();
        }
        return real.query(text, params);
      },
    } as Db;
    await db.query(
      `INSERT INTO products (id, name, image_url, price_amount, currency, active, as_of) VALUES
       ('p1', 'One', NULL, 500, 'EUR', true, now()), ('p2', 'Two', NULL, 700, 'EUR', true, now())`,
    );
  });
  afterAll(async () => {
    await real?.close();
  });
  beforeEach(() => {
    writes.guarded = 0;
    beforeNextWrite = undefined;
  });

  const store = () => createCartsStore(db, () => new Date());
  const add = (customerId: string, productId: string, quantity = 1) =>
    store().update(customerId, (cart, { products }) => addItem(cart, products, productId, quantity), { productIds: [productId] });
  const version = async (customerId: string) =>
    (await db.query<{ version: number }>('SELECT version FROM carts WHERE customer_id = $1', [customerId])).rows[0]?.version;

  it('when another change lands between the read and the write, then the write does not land and the change is made again on the new cart', async () => {
    await add('c-race', 'p1');
    // The competitor adds to the same line after our read: without the version guard our write
    // would set the quantity to 2 from the stale 1 and the competitor's unit would be lost.
    beforeNextWrite = () => add('c-race', 'p1');
    const answer = await add('c-race', 'p1');
    expect(answer.lines).toEqual([expect.objectContaining({ productId: 'p1', quantity: 3 })]);
    expect((await store().get('c-race')).lines).toEqual([expect.objectContaining({ productId: 'p1', quantity: 3 })]);
    // ours (refused), the competitor's, ours again
    expect(writes.guarded).toBe(3);
    expect(await version('c-race')).toBe(2); // created at 0, then two changes
  });

  it('when two first changes create the same cart at once, then both lines are kept', async () => {
    beforeNextWrite = undefined;
    // Neither exists at the read: both try to create the cart; one insert wins, the other reads again.
    const results = await Promise.all([add('c-new', 'p1'), add('c-new', 'p2')]);
    const lines = (await store().get('c-new')).lines.map((l) => [l.productId, l.quantity]);
    expect(lines.sort()).toEqual([['p1', 1], ['p2', 1]]);
    expect(results.map((r) => r.itemCount).sort()).toEqual([1, 2]);
  });

  it('when forty adds reach one cart at once, then every unit is counted and each answer saw its own add', async () => {
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => add('c-burst', i % 2 === 0 ? 'p1' : 'p2')));
    const cart = await store().get('c-burst');
    expect(cart.lines.map((l) => [l.productId, l.quantity]).sort()).toEqual([['p1', 20], ['p2', 20]]);
    // Each answer is the cart right after its own change: forty different item counts, 1 to 40.
    expect(answers.map((a) => a.itemCount).sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(await version('c-burst')).toBe(39); // created at 0, then 39 changes
  });

  it("when a shopper changes a cart, then the change is written through the database's asynchronous-commit handle, not its ordinary one", async () => {
    const relaxed = real.asynchronousCommit();
    const writes = { relaxed: [] as string[], ordinary: [] as string[] };
    const isCartWrite = (text: string) => /^WITH w0 AS \((INSERT INTO|UPDATE) carts/.test(text);
    const recording = (sql: Db, into: string[]): Db => ({
      ...sql,
      query: (text, params) => {
        if (isCartWrite(text)) into.push(text);
        return sql.query(text, params);
      },
    });
    const watched: Db = { ...recording(real, writes.ordinary), asynchronousCommit: () => recording(relaxed, writes.relaxed) };
    const shopper = createCartsStore(watched, () => new Date());
    await shopper.update('c-async', (cart, { products }) => addItem(cart, products, 'p1', 2), { productIds: ['p1'] });
    await shopper.update('c-async', (cart, { products }) => addItem(cart, products, 'p2', 1), { productIds: ['p2'] });
    // A create, then a version-guarded update; whether they wait for the WAL flush is the platform's test.
    expect(writes.relaxed).toHaveLength(2);
    expect(writes.ordinary).toEqual([]);
    expect((await shopper.get('c-async')).lines.map((l) => [l.productId, l.quantity])).toEqual([['p1', 2], ['p2', 1]]);
  });
});
