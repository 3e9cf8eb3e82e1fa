import type { EventHandlers } from '@emporium/platform';
import { removeOrdered } from '../domain/cart';
import type { CartsStore } from '../store/carts.store';
import { readModels } from '../store/read-models.store';

/** Keeps the product and stock read models current, empties carts that became orders, merges guest carts. */
export function cartHandlers(carts: CartsStore): EventHandlers {
  return {
    product_created: (data, { tx, envelope }) => readModels.saveProduct(tx, data, envelope.occurredAt),
    product_updated: (data, { tx, envelope }) => readModels.saveProduct(tx, data, envelope.occurredAt),
    price_changed: async (data, { tx, envelope, logger }) => {
      const applied = await readModels.changePrice(tx, data, envelope.occurredAt);
      if (!applied) logger.info({ productId: data.productId }, 'price change skipped: product unknown or change older than known');
    },
    stock_level_changed: (data, { tx, envelope }) => readModels.setAvailability(tx, data, envelope.occurredAt),
    // The cart empties when the order is confirmed (stock reserved, payment authorized), not when it
    // is placed: a declined card or missing stock leaves the shopper's cart as it was.
    order_confirmed: async (data, { tx, logger }) => {
      if (data.source !== 'cart') return;
      const changed = await carts.updateIfExists(tx, data.customerId, (cart) => removeOrdered(cart, data.items));
      logger.info({ orderId: data.orderId, customerId: data.customerId, changed }, 'ordered items taken out of the cart');
    },
    // A guest who signs in (or up) brings their cart along.
    customer_signed_in: async (data, { tx, logger }) => {
      if (!data.guestId) return;
      const merged = await carts.merge(tx, data.guestId, data.customerId);
      if (merged) logger.info({ guestId: data.guestId, customerId: data.customerId }, 'guest cart merged into the customer cart');
    },
  };
}
