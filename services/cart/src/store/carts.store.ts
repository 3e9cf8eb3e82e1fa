import type { Cart } from '@emporium/contracts';
import type { Db, Sql } from '@emporium/platform';
import { emptyCart, mergeCarts, priceCart, type CartItem, type CartState, type ProductInfo, type Products } from '../domain/cart';
import type { Discount } from '../domain/discount';
import { findDiscount } from './discounts.store';

interface ProductRow {
  id: string;
  name: string;
  image_url: string | null;
  price_amount: number;
  currency: string;
  active: boolean;
}

const toProduct = (r: ProductRow): ProductInfo => ({
  id: r.id,
  name: r.name,
  imageUrl: r.image_url,
  price: { amount: r.price_amount, currency: r.currency.trim() },
  active: r.active,
});

/** What a change may need to look at besides the cart itself. */
export interface ChangeContext {
  /** Every product in the cart, plus the ones the change asked for. */
  products: Products;
  /** The code the change asked for, if it exists. */
  discount: Discount | undefined;
  now: Date;
}

export type CartChange = (cart: CartState, context: ChangeContext) => CartState;

interface Loaded {
  cart: CartState;
  updatedAt: Date | null;
}

export function createCartsStore(db: Db, clock: () => Date) {
  async function load(tx: Sql, customerId: string, options: { lock: boolean }): Promise<Loaded | undefined> {
    const { rows } = await tx.query<{ discount_code: string | null; updated_at: Date }>(
      `SELECT discount_code, updated_at FROM carts WHERE customer_id = $1${options.lock ? ' FOR UPDATE' : ''}`,
      [customerId],
    );
    if (!rows[0]) return undefined;
    return { cart: { customerId, items: await lines(tx, customerId), discountCode: rows[0].discount_code }, updatedAt: rows[0].updated_at };
  }

  async function lines(tx: Sql, customerId: string): Promise<CartItem[]> {
    const { rows } = await tx.query<{ product_id: string; quantity: number }>(
      'SELECT product_id, quantity FROM cart_lines WHERE customer_id = $1 ORDER BY added_at, product_id',
      [customerId],
    );
    return rows.map((r) => ({ productId: r.product_id, quantity: r.quantity }));
  }

  async function products(tx: Sql, ids: readonly string[]): Promise<Map<string, ProductInfo>> {
    if (ids.length === 0) return new Map();
    const { rows } = await tx.query<ProductRow>(
      'SELECT id, name, image_url, price_amount, currency, active FROM products WHERE id = ANY($1::text[])',
      [[...new Set(ids)]],
    );
    return new Map(rows.map((r) => [r.id, toProduct(r)]));
  }

  async function availability(tx: Sql, ids: readonly string[]): Promise<Map<string, number>> {
    if (ids.length === 0) return new Map();
    const { rows } = await tx.query<{ product_id: string; available: number }>(
      'SELECT product_id, available FROM availability WHERE product_id = ANY($1::text[])',
      [[...ids]],
    );
    return new Map(rows.map((r) => [r.product_id, r.available]));
  }

  async function view(tx: Sql, customerId: string): Promise<Cart> {
    const loaded = await load(tx, customerId, { lock: false });
    const cart = loaded?.cart ?? emptyCart(customerId);
    const ids = cart.items.map((i) => i.productId);
    return priceCart({
      cart,
      products: await products(tx, ids),
      availability: await availability(tx, ids),
      discount: cart.discountCode ? await findDiscount(tx, cart.discountCode) : undefined,
      updatedAt: loaded?.updatedAt ?? null,
      now: clock(),
    });
  }

  /** Writes only what changed between `before` and `after`; new lines keep their place at the end. Returns the cart's new updated_at. */
  async function save(tx: Sql, before: CartState, after: CartState): Promise<Date> {
    const kept = new Map(after.items.map((i) => [i.productId, i.quantity]));
    const gone = before.items.filter((i) => !kept.has(i.productId)).map((i) => i.productId);
    if (gone.length > 0) {
      await tx.query('DELETE FROM cart_lines WHERE customer_id = $1 AND product_id = ANY($2::text[])', [after.customerId, gone]);
    }
    const previous = new Map(before.items.map((i) => [i.productId, i.quantity]));
    const changed: CartItem[] = after.items.filter((i) => previous.get(i.productId) !== i.quantity);
    for (const item of changed) {
      await tx.query(
        `INSERT INTO cart_lines (customer_id, product_id, quantity) VALUES ($1, $2, $3)
         ON CONFLICT (customer_id, product_id) DO UPDATE SET quantity = EXCLUDED.quantity`,
        [after.customerId, item.productId, item.quantity],
      );
    }
    const { rows } = await tx.query<{ updated_at: Date }>('UPDATE carts SET discount_code = $2, updated_at = now() WHERE customer_id = $1 RETURNING updated_at', [
      after.customerId,
      after.discountCode,
    ]);
    return rows[0]!.updated_at;
  }

  /** Applies a change to a loaded (locked) cart and saves it; returns what it saved and what it looked at. */
  async function change(tx: Sql, loaded: Loaded, apply: CartChange, needs: { productIds?: string[]; discountCode?: string }) {
    const { cart } = loaded;
    const context: ChangeContext = {
      products: await products(tx, [...cart.items.map((i) => i.productId), ...(needs.productIds ?? [])]),
      discount: needs.discountCode ? await findDiscount(tx, needs.discountCode) : undefined,
      now: clock(),
    };
    const after = apply(cart, context);
    return { after, context, updatedAt: await save(tx, cart, after) };
  }

  return {
    /** The priced cart; an unknown customer has an empty one. */
    get: (customerId: string): Promise<Cart> => view(db, customerId),

    /**
     * Applies `apply` to the locked cart (created on first use) and returns the priced result.
     * A change that throws rolls everything back, the cart row included.
     */
    update(customerId: string, apply: CartChange, needs: { productIds?: string[]; discountCode?: string } = {}): Promise<Cart> {
      return db.transaction(async (tx) => {
        // Created on first use and locked, in one statement (DO UPDATE locks the row it returns).
        const { rows } = await tx.query<{ discount_code: string | null; updated_at: Date }>(
          `INSERT INTO carts (customer_id) VALUES ($1) ON CONFLICT (customer_id) DO UPDATE SET customer_id = EXCLUDED.customer_id
           RETURNING discount_code, updated_at`,
          [customerId],
        );
        const loaded = { cart: { customerId, items: await lines(tx, customerId), discountCode: rows[0]!.discount_code }, updatedAt: rows[0]!.updated_at };
        // The answer is priced from what the change saved and looked at, without reading the cart again.
        const { after, context, updatedAt } = await change(tx, loaded, apply, needs);
        const ids = after.items.map((i) => i.productId);
        const discount = !after.discountCode ? undefined : after.discountCode === needs.discountCode ? context.discount : await findDiscount(tx, after.discountCode);
        return priceCart({ cart: after, products: context.products, availability: await availability(tx, ids), discount, updatedAt, now: context.now });
      });
    },

    /**
     * Moves a guest's cart into a customer's, inside the caller's transaction; the guest's cart is
     * gone afterwards, so a redelivered event finds nothing to merge. False when the guest had no lines.
     */
    async merge(tx: Sql, guestId: string, customerId: string): Promise<boolean> {
      const guest = await load(tx, guestId, { lock: true });
      if (!guest || guest.cart.items.length === 0) return false;
      await tx.query('INSERT INTO carts (customer_id) VALUES ($1) ON CONFLICT DO NOTHING', [customerId]);
      const customer = (await load(tx, customerId, { lock: true }))!;
      await save(tx, customer.cart, mergeCarts(customer.cart, guest.cart));
      await tx.query('DELETE FROM cart_lines WHERE customer_id = $1', [guestId]);
      await tx.query('DELETE FROM carts WHERE customer_id = $1', [guestId]);
      return true;
    },

    /** Changes an existing cart inside the caller's transaction (event handlers); no cart, no change. */
    async updateIfExists(tx: Sql, customerId: string, apply: CartChange): Promise<boolean> {
      const loaded = await load(tx, customerId, { lock: true });
      if (!loaded) return false;
      await change(tx, loaded, apply, {});
      return true;
    },
  };
}

export type CartsStore = ReturnType<typeof createCartsStore>;
