import { event, type PendingEvent } from '@emporium/platform';
import { applyChange, levelChanged, type Level, type StockChange } from './stock';

export interface StockLine {
  productId: string;
  quantity: number;
}

export interface Shortage {
  productId: string;
  requested: number;
  available: number;
}

export type ReservationStatus = 'active' | 'released' | 'committed' | 'expired';

/** One line per product (an order may name a product twice), in the lock order: by product id. */
export function mergeLines(items: readonly StockLine[]): StockLine[] {
  const totals = new Map<string, number>();
  for (const item of items) totals.set(item.productId, (totals.get(item.productId) ?? 0) + item.quantity);
  return [...totals]
    .map(([productId, quantity]) => ({ productId, quantity }))
    .sort((a, b) => (a.productId < b.productId ? -1 : a.productId > b.productId ? 1 : 0));
}

/** All lines or none: every short line is reported; a product inventory never heard of has 0 available. */
export function findShortages(lines: readonly StockLine[], levels: ReadonlyMap<string, Level>): Shortage[] {
  return lines
    .map((line) => ({ productId: line.productId, requested: line.quantity, available: levels.get(line.productId)?.available ?? 0 }))
    .filter((s) => s.available < s.requested);
}

/** The stock changes of one order moving its lines between reserved, released and sold. */
export const reserveChanges = (orderId: string, lines: readonly StockLine[]): StockChange[] =>
  lines.map((l) => ({ productId: l.productId, onHandDelta: 0, reservedDelta: l.quantity, movement: { kind: 'reserved', quantity: l.quantity, orderId, reason: 'order_placed' } }));

export const releaseChanges = (orderId: string, lines: readonly StockLine[], reason: string): StockChange[] =>
  lines.map((l) => ({ productId: l.productId, onHandDelta: 0, reservedDelta: -l.quantity, movement: { kind: 'released', quantity: -l.quantity, orderId, reason } }));

export const commitChanges = (orderId: string, lines: readonly StockLine[]): StockChange[] =>
  lines.map((l) => ({ productId: l.productId, onHandDelta: -l.quantity, reservedDelta: -l.quantity, movement: { kind: 'sold', quantity: -l.quantity, orderId, reason: 'order_completed' } }));

/** One stock_level_changed per product, with its level after the change. */
export function levelEvents(levels: ReadonlyMap<string, Level>, changes: readonly StockChange[], reason: string): PendingEvent[] {
  return changes.map((change) => {
    const before = levels.get(change.productId);
    if (!before) throw new Error(`stock row ${change.productId} was not locked before changing it`);
    return levelChanged(applyChange(before, change), reason, change);
  });
}

export const stockReserved = (orderId: string, lines: StockLine[], expiresAt: Date) =>
  event('stock_reserved', orderId, { orderId, items: lines, expiresAt: expiresAt.toISOString() });

export const stockInsufficient = (orderId: string, shortages: Shortage[]) => event('stock_insufficient', orderId, { orderId, shortages });

export const stockReleased = (orderId: string, lines: StockLine[], reason: string) => event('stock_released', orderId, { orderId, items: lines, reason });

export const stockCommitted = (orderId: string, lines: StockLine[]) => event('stock_committed', orderId, { orderId, items: lines });
