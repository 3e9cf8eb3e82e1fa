import type { MovementKind, StockLevel, UpdateStockRequest } from '@emporium/contracts';
import { AppError, event, type PendingEvent } from '@emporium/platform';

/** A ceiling far above any real shelf, so repeated adjustments cannot overflow the column. */
export const MAX_ON_HAND = 1_000_000_000;

export interface Movement {
  kind: MovementKind;
  /** Signed change to on hand (received, adjusted, sold) or to reserved (reserved, released). */
  quantity: number;
  orderId: string | null;
  reason: string;
}

/** A change to one product's stock, applied as deltas under the row lock, with its ledger line. */
export interface StockChange {
  productId: string;
  onHandDelta: number;
  reservedDelta: number;
  movement: Movement;
}

export type Level = Omit<StockLevel, 'updatedAt'>;

export const level = (productId: string, onHand: number, reserved: number): Level => ({ productId, onHand, reserved, available: onHand - reserved });

export const applyChange = (current: Level, change: StockChange): Level =>
  level(current.productId, current.onHand + change.onHandDelta, current.reserved + change.reservedDelta);

/** A product's level after `change` (none: the row is new). */
export const levelChanged = (after: Level, reason: string, change?: StockChange): PendingEvent<'stock_level_changed'> =>
  event('stock_level_changed', after.productId, { ...after, reason, ...(change ? { delta: { onHand: change.onHandDelta, reserved: change.reservedDelta } } : {}) });

/**
 * A staff change to one product: `set` records a counted figure, `adjust` a delta
 * (positive: received; negative: damaged, lost…). On hand may never fall below what is reserved.
 */
export function planStockUpdate(current: Level, request: UpdateStockRequest): { change: StockChange; events: PendingEvent[] } {
  const field = request.set !== undefined ? 'set' : 'adjust';
  const onHand = request.set ?? current.onHand + (request.adjust ?? 0);
  if (onHand < current.reserved) {
    const detail =
      onHand < 0
        ? `This would leave ${onHand} units of ${current.productId} on hand.`
        : `This would leave ${onHand} units of ${current.productId} on hand while ${current.reserved} are reserved for orders.`;
    throw new AppError('INVENTORY.WOULD_GO_NEGATIVE', detail, {
      status: 409,
      errors: [{ field, message: `would leave on hand (${onHand}) below reserved (${current.reserved})` }],
      extensions: { onHand: current.onHand, reserved: current.reserved, available: current.available },
    });
  }
  if (onHand > MAX_ON_HAND) {
    throw new AppError('INVENTORY.LIMIT_EXCEEDED', `On hand may not exceed ${MAX_ON_HAND} units.`, {
      status: 409,
      errors: [{ field, message: `would raise on hand above ${MAX_ON_HAND}` }],
    });
  }
  const delta = onHand - current.onHand;
  const kind: MovementKind = request.adjust !== undefined && request.adjust > 0 ? 'received' : 'adjusted';
  const change: StockChange = { productId: current.productId, onHandDelta: delta, reservedDelta: 0, movement: { kind, quantity: delta, orderId: null, reason: request.reason } };
  // A count that confirms the figure is kept in the ledger, but nothing changed for others to hear.
  const events = delta === 0 ? [] : [levelChanged(applyChange(current, change), request.reason, change)];
  return { change, events };
}
