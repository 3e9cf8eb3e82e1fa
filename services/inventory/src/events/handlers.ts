import type { EventHandlers, Logger, RunEvent, Sql } from '@emporium/platform';
import { levelChanged } from '../domain/stock';
import { commitStock, releaseStock, reserveStock, type Outcome } from '../domain/use-cases';
import type { InventoryStore, StockStep } from '../store/inventory.store';

/** Used when an order_placed carries a reserveUntil that is not a date. */
const FALLBACK_HOLD_MS = 15 * 60_000;

function reserveUntil(value: string, logger: Logger): Date {
  const date = new Date(value);
  if (!Number.isNaN(date.getTime())) return date;
  logger.warn({ reserveUntil: value }, `reserveUntil is not a date; holding stock for ${FALLBACK_HOLD_MS / 60_000} minutes`);
  return new Date(Date.now() + FALLBACK_HOLD_MS);
}

/** Each handler runs in the inbox transaction: its effect, its inbox row and its events commit together. */
export function inventoryHandlers(store: InventoryStore): EventHandlers {
  /**
   * Runs a use case on a new step; the step's writes and events travel with the handler's COMMIT
   * (after the use case's one locking read, an event costs no other round trip).
   */
  const inStep = async (tx: Sql, correlationId: string | undefined, useCase: (step: StockStep) => Promise<Outcome>): Promise<string> => {
    const step = store.step();
    const { outcome, events } = await useCase(step);
    await step.defer(tx, events, correlationId);
    return outcome;
  };
  return {
    product_created: async (data, { tx, emit, logger }) => {
      const created = await store.ensureStock(tx, data.productId);
      logger.info({ productId: data.productId, created: Boolean(created) }, 'stock row for new product');
      if (created) await emit([levelChanged(created, 'product_created')]);
    },

    order_placed: async (data, { tx, envelope, logger }) => {
      const expiresAt = reserveUntil(data.reserveUntil, logger);
      const outcome = await inStep(tx, envelope.correlationId, (step) => reserveStock(store, tx, step, { orderId: data.orderId, items: data.items, expiresAt }));
      logger.info({ orderId: data.orderId, outcome }, 'stock reservation decided');
    },

    order_confirmed: async (data, { tx, logger }) => {
      const held = await store.holdUntilSettled(tx, data.orderId);
      if (held === 0) logger.warn({ orderId: data.orderId }, 'order confirmed but none of its stock is still reserved (expired or released)');
      logger.info({ orderId: data.orderId, held }, 'reservations held until the order is settled');
    },

    order_cancelled: async (data, { tx, envelope, logger }) => {
      // A cancelled order never needs stock: release whatever is still active, even when the
      // order thought nothing was reserved (it may have been cancelled before stock_reserved reached it).
      const outcome = await inStep(tx, envelope.correlationId, (step) => releaseStock(store, tx, step, data.orderId, { expired: false, reason: 'order_cancelled' }));
      if (outcome === 'released' && !data.releaseStock) logger.warn({ orderId: data.orderId }, 'released stock of a cancelled order that did not ask for it');
      logger.info({ orderId: data.orderId, outcome }, 'order cancelled');
    },

    order_completed: async (data, { tx, envelope, logger }) => {
      const outcome = await inStep(tx, envelope.correlationId, (step) => commitStock(store, tx, step, data.orderId));
      if (outcome !== 'committed' && data.items.length > 0) {
        logger.warn({ orderId: data.orderId }, 'order completed without active reservations; stock not decremented (expired, released or already committed)');
      }
      logger.info({ orderId: data.orderId, outcome }, 'order completed');
    },
  };
}

/**
 * The locks of a run of events, taken first (the consumer's `lockRun`): the reservations of the
 * orders it confirms, cancels or completes; the stock rows of the products it reserves and of the
 * orders it cancels or completes. Handlers lock nothing else, so a run of several orders cannot
 * deadlock with another instance's run, the expiry sweep or a staff stock update.
 */
export function lockInventoryRun(store: InventoryStore): (tx: Sql, events: readonly RunEvent[]) => Promise<void> {
  return async (tx, events) => {
    const reservationsOf: string[] = [];
    const orders: string[] = [];
    const products: string[] = [];
    for (const event of events) {
      if (event.type === 'order_placed') products.push(...event.data.items.map((i) => i.productId));
      else if (event.type === 'order_confirmed') reservationsOf.push(event.data.orderId);
      else if (event.type === 'order_cancelled' || event.type === 'order_completed') {
        reservationsOf.push(event.data.orderId);
        orders.push(event.data.orderId);
      }
    }
    await store.lockRun(tx, { reservationsOf, stockOf: { orders, products } });
  };
}

/** Releases reservations whose time ran out, one order per transaction. */
export async function expireReservations(store: InventoryStore, logger: Logger, batch = 100): Promise<number> {
  let expired = 0;
  for (const orderId of await store.ordersWithDueReservations(batch)) {
    const { result: outcome } = await store.inStep(async (tx, step) => {
      const { outcome, events } = await releaseStock(store, tx, step, orderId, { expired: true, reason: 'reservation_expired' });
      return { result: outcome, events };
    });
    if (outcome === 'released') {
      expired++;
      logger.info({ orderId }, 'reservation expired; stock released');
    }
  }
  return expired;
}
