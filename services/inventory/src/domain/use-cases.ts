import type { PendingEvent, Sql } from '@emporium/platform';
import type { InventoryStore, StockStep } from '../store/inventory.store';
import {
  commitChanges,
  findShortages,
  levelEvents,
  mergeLines,
  releaseChanges,
  reserveChanges,
  stockCommitted,
  stockInsufficient,
  stockReleased,
  stockReserved,
  type StockLine,
} from './reservation';

/**
 * The use cases of the checkout saga's stock side. Each runs inside the caller's transaction
 * (the inbox's, or the expiry sweep's), locks stock rows in product id order, puts its writes
 * in `step`, and returns the events that tell what happened; the caller commits the step with
 * them (one statement). None of them publishes.
 */
export type Outcome = { outcome: string; events: PendingEvent[] };

/** Reserves every line of an order or none; an order gets one answer, however often it arrives. */
export async function reserveStock(store: InventoryStore, tx: Sql, step: StockStep, order: { orderId: string; items: StockLine[]; expiresAt: Date }): Promise<Outcome> {
  const { orderId } = order;
  const lines = mergeLines(order.items);
  const { answered, levels } = await store.lockForOrder(tx, orderId, lines.map((l) => l.productId));
  if (answered) return { outcome: 'duplicate', events: [] };
  const shortages = findShortages(lines, levels);
  if (shortages.length > 0) {
    step.recordOutcome(orderId, 'insufficient');
    return { outcome: 'insufficient', events: [stockInsufficient(orderId, shortages)] };
  }
  const changes = reserveChanges(orderId, lines);
  step.apply(changes);
  step.reserve(orderId, lines, order.expiresAt);
  step.recordOutcome(orderId, 'reserved');
  return { outcome: 'reserved', events: [stockReserved(orderId, lines, order.expiresAt), ...levelEvents(levels, changes, 'stock_reserved')] };
}

/** Gives an order's active reservations back (cancelled, or expired when `expired` is set). */
export async function releaseStock(store: InventoryStore, tx: Sql, step: StockStep, orderId: string, options: { expired: boolean; reason: string }): Promise<Outcome> {
  const { lines, levels } = await store.lockActive(tx, orderId, options.expired ? 'now' : undefined);
  if (lines.length === 0) return { outcome: 'nothing_active', events: [] };
  const changes = releaseChanges(orderId, lines, options.reason);
  step.close(orderId, lines, options.expired ? 'expired' : 'released');
  step.apply(changes);
  return { outcome: 'released', events: [stockReleased(orderId, lines, options.reason), ...levelEvents(levels, changes, options.reason)] };
}

/** The order is complete: its reserved units are sold and leave the shelf. */
export async function commitStock(store: InventoryStore, tx: Sql, step: StockStep, orderId: string): Promise<Outcome> {
  const { lines, levels } = await store.lockActive(tx, orderId);
  if (lines.length === 0) return { outcome: 'nothing_active', events: [] };
  const changes = commitChanges(orderId, lines);
  step.close(orderId, lines, 'committed');
  step.apply(changes);
  return { outcome: 'committed', events: [stockCommitted(orderId, lines), ...levelEvents(levels, changes, 'stock_committed')] };
}
