import type { Cart } from '@emporium/contracts';
import { deferWrite, writeChain, type Db, type Sql } from '@emporium/platform';
import { emptyCart, mergeCarts, priceCart, type CartItem, type CartState, type ProductInfo, type Products } from '../domain/cart';
import type { Discount } from '../domain/discount';
import { findDiscount } from './discounts.store';

/** A line of the cart (quantity set) or a product a change asked about (quantity null), with what the read models know. */
interface ContentRow {
  product_id: string;
  quantity: number | null;
  name: string | null;
  image_url: string | null;
  price_amount: number | null;
  currency: string | null;
  active: boolean | null;
  available: number | null;
}

const CONTENT_COLUMNS = 'l.product_id, l.quantity, p.name, p.image_url, p.price_amount, p.currency, p.active, a.available';
const CONTENT_JOINS = 'LEFT JOIN products p ON p.id = l.product_id LEFT JOIN availability a ON a.product_id = l.product_id';

interface Contents {
  items: CartItem[];
  products: Map<string, ProductInfo>;
  availability: Map<string, number>;
}

function toContents(rows: readonly ContentRow[]): Contents {
  const contents: Contents = { items: [], products: new Map(), availability: new Map() };
  for (const r of rows) {
    if (r.quantity !== null) contents.items.push({ productId: r.product_id, quantity: r.quantity });
    if (r.name !== null) {
      contents.products.set(r.product_id, {
        id: r.product_id,
        name: r.name,
        imageUrl: r.image_url,
        price: { amount: r.price_amount!, currency: r.currency!.trim() },
        active: r.active!,
      });
    }
    if (r.available !== null) contents.availability.set(r.product_id, r.available);
  }
  return contents;
}

/** What a change may need to look at besides the cart itself. */
export interface ChangeContext {
  /** Every product in the cart, plus the ones the change asked for. */
  products: Products;
  /** The code the change asked for, if it exists. */
  discount: Discount | undefined;
  now: Date;
}

export type CartChange = (cart: CartState, context: ChangeContext) => CartState;

interface CartRow {
  discount_code: string | null;
  updated_at: Date;
}

/** Changes to a cart before the locked way is taken: each is one read and one guarded write. */
const OPTIMISTIC_ATTEMPTS = 2;

/** The lines `after` no longer has, and the ones it adds or changes (in its order). */
function lineChanges(before: CartState, after: CartState): { gone: string[]; changed: CartItem[] } {
  const kept = new Map(after.items.map((i) => [i.productId, i.quantity]));
  const previous = new Map(before.items.map((i) => [i.productId, i.quantity]));
  return {
    gone: before.items.filter((i) => !kept.has(i.productId)).map((i) => i.productId),
    changed: after.items.filter((i) => previous.get(i.productId) !== i.quantity),
  };
}


export function createCartsStore(db: Db, clock: () => Date) {
  /**
   * A shopper's own changes commit without waiting for the WAL flush (ADR 0014): nobody else hears
   * of them, and the worst a crash of PostgreSQL can do is forget the last fraction of a second of
   * edits, which the shopper sees and makes again. Event handlers' changes (an order confirmed
   * empties the cart, a sign-in merges one) go through the caller's ordinary transaction.
   */
  const edits = db.asynchronousCommit();

  /**
   * The cart's lines in the order they were added, plus the products in `extraIds`, each with the
   * product and availability the read models hold: one statement.
   */
  async function contents(tx: Sql, customerId: string, extraIds: readonly string[]): Promise<Contents> {
    const { rows } = await tx.query<ContentRow>(
      `SELECT ${CONTENT_COLUMNS}
       FROM (SELECT product_id, quantity, added_at FROM cart_lines WHERE customer_id = $1
             UNION ALL SELECT id, NULL::integer, NULL::timestamptz FROM unnest($2::text[]) AS extra(id)) l
       ${CONTENT_JOINS}
       ORDER BY l.added_at NULLS LAST, l.product_id`,
      [customerId, [...new Set(extraIds)]],
    );
    return toContents(rows);
  }

  async function lockExisting(tx: Sql, customerId: string): Promise<CartRow | undefined> {
    const { rows } = await tx.query<CartRow>('SELECT discount_code, updated_at FROM carts WHERE customer_id = $1 FOR UPDATE', [customerId]);
    return rows[0];
  }

  /** The locked cart's state; undefined when the customer has no cart. */
  async function lockedCart(tx: Sql, customerId: string): Promise<CartState | undefined> {
    const row = await lockExisting(tx, customerId);
    return row && { customerId, items: (await contents(tx, customerId, [])).items, discountCode: row.discount_code };
  }

  /** The priced cart in one statement (plus the discount code's row when one is applied). */
  async function view(tx: Sql, customerId: string): Promise<Cart> {
    const { rows } = await tx.query<CartRow & ContentRow>(
      `SELECT c.discount_code, c.updated_at, ${CONTENT_COLUMNS}
       FROM carts c LEFT JOIN cart_lines l ON l.customer_id = c.customer_id ${CONTENT_JOINS}
       WHERE c.customer_id = $1
       ORDER BY l.added_at, l.product_id`,
      [customerId],
    );
    const found = rows[0];
    // A cart without lines is one row of nulls past its own columns, which toContents skips.
    const { items, products, availability } = toContents(rows);
    const cart: CartState = found ? { customerId, items, discountCode: found.discount_code } : emptyCart(customerId);
    return priceCart({
      cart,
      products,
      availability,
      discount: cart.discountCode ? await findDiscount(tx, cart.discountCode) : undefined,
      updatedAt: found?.updated_at ?? null,
      now: clock(),
    });
  }

  /** Writes only what changed between `before` and `after`; new lines keep their place at the end. Returns the cart's new updated_at. */
  async function save(tx: Sql, before: CartState, after: CartState): Promise<Date> {
    const { gone, changed } = lineChanges(before, after);
    // The line writes travel with the cart row's UPDATE below (Sql.defer): one round trip for all.
    if (gone.length > 0) {
      await deferWrite(tx, 'DELETE FROM cart_lines WHERE customer_id = $1 AND product_id = ANY($2::text[])', [after.customerId, gone]);
    }
    for (const item of changed) {
      await deferWrite(
        tx,
        `INSERT INTO cart_lines (customer_id, product_id, quantity) VALUES ($1, $2, $3)
         ON CONFLICT (customer_id, product_id) DO UPDATE SET quantity = EXCLUDED.quantity`,
        [after.customerId, item.productId, item.quantity],
      );
    }
    const { rows } = await tx.query<{ updated_at: Date }>('UPDATE carts SET discount_code = $2, updated_at = now(), version = version + 1 WHERE customer_id = $1 RETURNING updated_at', [
      after.customerId,
      after.discountCode,
    ]);
    return rows[0]!.updated_at;
  }

  /**
   * The cart's row (undefined when the customer has none) and lines, with the products in
   * `extraIds`, as one statement sees them: the version read belongs to exactly these lines.
   */
  async function snapshot(customerId: string, extraIds: readonly string[]): Promise<Contents & { row: (CartRow & { version: number }) | undefined }> {
    const { rows } = await edits.query<ContentRow & { version: number | null; discount_code: string | null; updated_at: Date | null }>(
      `SELECT c.version, c.discount_code, c.updated_at, ${CONTENT_COLUMNS}
       FROM (SELECT $1::text AS customer_id) k
       LEFT JOIN carts c ON c.customer_id = k.customer_id
       LEFT JOIN LATERAL (SELECT product_id, quantity, added_at FROM cart_lines WHERE customer_id = k.customer_id
                          UNION ALL SELECT id, NULL::integer, NULL::timestamptz FROM unnest($2::text[]) AS extra(id)) l ON true
       ${CONTENT_JOINS}
       ORDER BY l.added_at NULLS LAST, l.product_id`,
      [customerId, [...new Set(extraIds)]],
    );
    const first = rows[0]!;
    const row = first.version === null ? undefined : { version: first.version, discount_code: first.discount_code, updated_at: first.updated_at! };
    return { ...toContents(rows.filter((r) => r.product_id !== null)), row };
  }

  /**
   * Saves `after` in one statement if the cart is still at `version` (or, for `undefined`, still
   * does not exist): every writer bumps the version in the transaction that changes the lines.
   * Returns the new updated_at, or undefined when someone changed the cart in between.
   */
  async function saveIfUnchanged(before: CartState, after: CartState, version: number | undefined): Promise<Date | undefined> {
    const { gone, changed } = lineChanges(before, after);
    const chain = writeChain();
    // The cart row's write is the guard: the lines' writes take their customer from its RETURNING,
    // so they write nothing when it did not land.
    const cart = chain.write(($) =>
      version === undefined
        ? `INSERT INTO carts (customer_id, discount_code) VALUES (${$(after.customerId)}, ${$(after.discountCode)})
           ON CONFLICT (customer_id) DO NOTHING RETURNING customer_id, updated_at`
        : `UPDATE carts SET discount_code = ${$(after.discountCode)}, updated_at = now(), version = version + 1
           WHERE customer_id = ${$(after.customerId)} AND version = ${$(version)} RETURNING customer_id, updated_at`,
    );
    if (gone.length > 0) {
      chain.write(($) => `DELETE FROM cart_lines l USING ${cart} c WHERE l.customer_id = c.customer_id AND l.product_id = ANY(${$(gone)}::text[])`);
    }
    if (changed.length > 0) {
      chain.write(
        ($) => `INSERT INTO cart_lines (customer_id, product_id, quantity)
                SELECT c.customer_id, x.product_id, x.quantity
                FROM ${cart} c, unnest(${$(changed.map((i) => i.productId))}::text[], ${$(changed.map((i) => i.quantity))}::integer[]) WITH ORDINALITY AS x(product_id, quantity, n)
                ORDER BY x.n
                ON CONFLICT (customer_id, product_id) DO UPDATE SET quantity = EXCLUDED.quantity`,
      );
    }
    const [saved] = await chain.run<{ updated_at: Date }>(edits, () => `SELECT updated_at FROM ${cart}`);
    return saved?.updated_at;
  }

  /** Applies a change to the locked cart and saves it; returns what it saved and what it looked at. */
  async function change(tx: Sql, customerId: string, row: CartRow, apply: CartChange, needs: { productIds?: string[]; discountCode?: string }) {
    const { items, products, availability } = await contents(tx, customerId, needs.productIds ?? []);
    const cart: CartState = { customerId, items, discountCode: row.discount_code };
    const context: ChangeContext = {
      products,
      discount: needs.discountCode ? await findDiscount(tx, needs.discountCode) : undefined,
      now: clock(),
    };
    const after = apply(cart, context);
    return { after, context, availability, updatedAt: await save(tx, cart, after) };
  }

  /**
   * The answer to a change, priced from what it saved and looked at, without reading the cart again
   * (its discount code's row only when the change kept a code it did not ask about).
   */
  async function priced(sql: Sql, after: CartState, context: ChangeContext, availability: Map<string, number>, updatedAt: Date, needs: { discountCode?: string }): Promise<Cart> {
    const discount = !after.discountCode ? undefined : after.discountCode === needs.discountCode ? context.discount : await findDiscount(sql, after.discountCode);
    return priceCart({ cart: after, products: context.products, availability, discount, updatedAt, now: context.now });
  }

  /** The change under the cart's row lock (created on first use), in one transaction. */
  function updateLocked(customerId: string, apply: CartChange, needs: { productIds?: string[]; discountCode?: string }): Promise<Cart> {
    return edits.transaction(async (tx) => {
      // Created on first use and locked, in one statement (DO UPDATE locks the row it returns).
      // The lines are read by the next statement, after the lock: a snapshot taken before
      // waiting for it could miss a concurrent change.
      const { rows } = await tx.query<CartRow>(
        `INSERT INTO carts (customer_id) VALUES ($1) ON CONFLICT (customer_id) DO UPDATE SET customer_id = EXCLUDED.customer_id
         RETURNING discount_code, updated_at`,
        [customerId],
      );
      const { after, context, availability, updatedAt } = await change(tx, customerId, rows[0]!, apply, needs);
      return priced(tx, after, context, availability, updatedAt, needs);
    });
  }

  return {
    /** The priced cart; an unknown customer has an empty one. */
    get: (customerId: string): Promise<Cart> => view(db, customerId),

    /**
     * Applies `apply` to the cart (created on first use) and returns the priced result; a change
     * that throws writes nothing. Usually two statements, no transaction: a read, then a write that
     * only lands if the cart's version is still the one read. After OPTIMISTIC_ATTEMPTS lost races
     * (several changes to one cart at once) the change takes the cart's row lock and waits its turn.
     */
    async update(customerId: string, apply: CartChange, needs: { productIds?: string[]; discountCode?: string } = {}): Promise<Cart> {
      for (let attempt = 1; attempt <= OPTIMISTIC_ATTEMPTS; attempt++) {
        const { row, items, products, availability } = await snapshot(customerId, needs.productIds ?? []);
        const before: CartState = { customerId, items, discountCode: row?.discount_code ?? null };
        const context: ChangeContext = { products, discount: needs.discountCode ? await findDiscount(edits, needs.discountCode) : undefined, now: clock() };
        const after = apply(before, context);
        const updatedAt = await saveIfUnchanged(before, after, row?.version);
        if (updatedAt) return priced(edits, after, context, availability, updatedAt, needs);
      }
      return updateLocked(customerId, apply, needs);
    },

    /**
     * Moves a guest's cart into a customer's, inside the caller's transaction; the guest's cart is
     * gone afterwards, so a redelivered event finds nothing to merge. False when the guest had no lines.
     */
    async merge(tx: Sql, guestId: string, customerId: string): Promise<boolean> {
      const guest = await lockedCart(tx, guestId);
      if (!guest || guest.items.length === 0) return false;
      await tx.query('INSERT INTO carts (customer_id) VALUES ($1) ON CONFLICT DO NOTHING', [customerId]);
      const customer = (await lockedCart(tx, customerId))!;
      await save(tx, customer, mergeCarts(customer, guest));
      await tx.query('DELETE FROM cart_lines WHERE customer_id = $1', [guestId]);
      await tx.query('DELETE FROM carts WHERE customer_id = $1', [guestId]);
      return true;
    },

    /** Changes an existing cart inside the caller's transaction (event handlers); no cart, no change. */
    async updateIfExists(tx: Sql, customerId: string, apply: CartChange): Promise<boolean> {
      const row = await lockExisting(tx, customerId);
      if (!row) return false;
      await change(tx, customerId, row, apply, {});
      return true;
    },
  };
}

export type CartsStore = ReturnType<typeof createCartsStore>;
