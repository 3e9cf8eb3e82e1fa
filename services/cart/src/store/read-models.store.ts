import type { EventData } from '@emporium/contracts';
import { deferWrite, type Sql } from '@emporium/platform';

/**
 * The catalog and stock as the cart sees them, written by event handlers in their inbox
 * transaction. Each row remembers the occurredAt of the event that last wrote it, and an older
 * event (a redelivery, a replayed dead letter) never overwrites a newer one.
 */
export const readModels = {
  // Nothing reads these upserts back: they travel with the handler's COMMIT (Sql.defer).
  async saveProduct(tx: Sql, p: EventData<'product_created'>, occurredAt: string): Promise<void> {
    await deferWrite(
      tx,
      `INSERT INTO products (id, name, image_url, price_amount, currency, active, as_of) VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, image_url = EXCLUDED.image_url, price_amount = EXCLUDED.price_amount,
         currency = EXCLUDED.currency, active = EXCLUDED.active, as_of = EXCLUDED.as_of
       WHERE products.as_of <= EXCLUDED.as_of`,
      [p.productId, p.name, p.imageUrl, p.price.amount, p.price.currency, p.active, occurredAt],
    );
  },

  /** Resolves to false when the product is unknown or the change is older than what is known. */
  async changePrice(tx: Sql, c: EventData<'price_changed'>, occurredAt: string): Promise<boolean> {
    const updated = await tx.query(
      'UPDATE products SET price_amount = $2, currency = $3, as_of = $4 WHERE id = $1 AND as_of <= $4',
      [c.productId, c.newAmount, c.currency, occurredAt],
    );
    return updated.rowCount > 0;
  },

  async setAvailability(tx: Sql, s: EventData<'stock_level_changed'>, occurredAt: string): Promise<void> {
    await deferWrite(
      tx,
      `INSERT INTO availability (product_id, available, as_of) VALUES ($1, $2, $3)
       ON CONFLICT (product_id) DO UPDATE SET available = EXCLUDED.available, as_of = EXCLUDED.as_of
       WHERE availability.as_of <= EXCLUDED.as_of`,
      [s.productId, s.available, occurredAt],
    );
  },
};
