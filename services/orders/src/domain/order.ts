import type { OrderStatus, ShippingAddress } from '@emporium/contracts';
import { AppError } from '@emporium/platform';

/** The order state machine, as data: from each status, the statuses it may move to. */
export const TRANSITIONS: Record<OrderStatus, readonly OrderStatus[]> = {
  placed: ['awaiting_payment', 'payment_pending', 'rejected', 'cancelled'],
  awaiting_payment: ['payment_pending', 'cancelled'],
  payment_pending: ['confirmed', 'payment_failed', 'cancelled'],
  confirmed: ['fulfilling', 'cancelled'],
  fulfilling: ['completed', 'cancelled'],
  completed: [],
  rejected: [],
  payment_failed: [],
  cancelled: [],
};

export const isTerminal = (status: OrderStatus): boolean => TRANSITIONS[status].length === 0;

export const canTransition = (from: OrderStatus, to: OrderStatus): boolean => TRANSITIONS[from].includes(to);

export function assertTransition(from: OrderStatus, to: OrderStatus): void {
  if (!canTransition(from, to)) {
    throw new AppError('ORDERS.INVALID_TRANSITION', `An order that is ${from.replace('_', ' ')} cannot become ${to.replace('_', ' ')}.`, { status: 409 });
  }
}

/** Customers may cancel until a shipment exists. */
export const CANCELLABLE: readonly OrderStatus[] = ['placed', 'awaiting_payment', 'payment_pending', 'confirmed'];

export interface OrderLine {
  productId: string;
  name: string;
  quantity: number;
  unitPrice: number;
  lineTotal: number;
}

export interface Order {
  id: string;
  customerId: string;
  status: OrderStatus;
  statusReason: string | null;
  failureCode: string | null;
  currency: string;
  subtotal: number;
  discount: number;
  discountCode: string | null;
  total: number;
  paymentMethod: 'credit_card';
  paymentToken: string | null;
  paymentId: string | null;
  shippingAddress: ShippingAddress | null;
  shipmentId: string | null;
  carrier: string | null;
  trackingNumber: string | null;
  source: 'direct' | 'cart';
  stockReserved: boolean;
  reserveUntil: Date;
  /** When the step the order waits in times out; null when it waits for nothing (ended). */
  stepDeadline: Date | null;
  /** The undos of an ended order, in the order they run; empty while it is live. */
  compensations: Compensation[];
  /** Set once order_cancelled (the last undo, releasing the stock) was written for the ended order. */
  cancellationEmitted: boolean;
  items: OrderLine[];
  createdAt: Date;
  updatedAt: Date;
}

export type CompensationStep = 'shipment' | 'payment' | 'stock';
export type CompensationAction = 'cancel_shipment' | 'void_payment' | 'refund_payment' | 'authorization_expired' | 'release_stock';

/**
 * One undo of an ended order. Planned when the order ends, requested when its turn comes (the
 * previous undo confirmed), confirmed by the fact of the service that did it.
 */
export interface Compensation {
  step: CompensationStep;
  action: CompensationAction;
  requestedAt: Date | null;
  confirmedAt: Date | null;
}

/** The statuses in which the order waits for another service (or the customer), each with its timeout. */
export type WaitingStatus = 'placed' | 'awaiting_payment' | 'payment_pending' | 'confirmed' | 'fulfilling';

/** How long each step may take: the saga's timeouts (awaiting_payment uses the reservation window). */
export interface StepTimeouts {
  /** Waiting for inventory to reserve the stock. */
  placed: number;
  /** Waiting for payments to authorize. */
  payment_pending: number;
  /** Waiting for shipping to create the shipment. */
  confirmed: number;
  /** Waiting for payments to capture. */
  fulfilling: number;
}

export const DEFAULT_STEP_TIMEOUTS: StepTimeouts = {
  placed: 10 * 60_000,
  payment_pending: 10 * 60_000,
  confirmed: 24 * 60 * 60_000,
  fulfilling: 24 * 60 * 60_000,
};

/** When an order entering `status` at `now` times out there; null for a final status. */
export function deadlineFor(status: OrderStatus, now: Date, reserveUntil: Date, timeouts: StepTimeouts): Date | null {
  switch (status) {
    case 'placed':
      return new Date(Math.min(now.getTime() + timeouts.placed, reserveUntil.getTime()));
    case 'awaiting_payment':
      return reserveUntil;
    case 'payment_pending':
    case 'confirmed':
    case 'fulfilling':
      return new Date(now.getTime() + timeouts[status]);
    default:
      return null;
  }
}

export interface HistoryEntry {
  status: OrderStatus;
  reason: string | null;
  at: Date;
}

export const STATUS_TEXT: Record<OrderStatus, string> = {
  placed: 'Order received; reserving your items.',
  awaiting_payment: 'Your items are reserved; waiting for payment.',
  payment_pending: 'Your items are reserved; authorizing your payment.',
  confirmed: 'Payment authorized; your order is confirmed.',
  fulfilling: 'A shipment has been created; finalizing payment.',
  completed: 'Paid and handed to the carrier.',
  rejected: 'The order could not be placed.',
  payment_failed: 'The payment was not accepted; nothing was charged.',
  cancelled: 'The order was cancelled; nothing will be charged.',
};

/** What the client does next, given the order's status. */
export function nextStep(order: Pick<Order, 'id' | 'status' | 'paymentToken'>) {
  switch (order.status) {
    case 'placed':
      return order.paymentToken
        ? { action: 'wait' as const, description: 'Reserving stock, then authorizing your payment. Poll this order or follow its status.' }
        : {
            action: 'pay' as const,
            description: 'Reserving stock. Send a payment token from the payment provider to complete the order.',
            method: 'POST',
            href: `/api/orders/${order.id}/payment`,
          };
    case 'awaiting_payment':
      return {
        action: 'pay' as const,
        description: 'Your items are reserved. Send a payment token from the payment provider to complete the order.',
        method: 'POST',
        href: `/api/orders/${order.id}/payment`,
      };
    case 'payment_pending':
    case 'confirmed':
    case 'fulfilling':
      return { action: 'wait' as const, description: STATUS_TEXT[order.status] };
    default:
      return { action: 'none' as const, description: STATUS_TEXT[order.status] };
  }
}

/** Prices lines from the catalog as orders knows it; the discount never exceeds the subtotal. */
export function priceOrder(lines: OrderLine[], discount: number): { subtotal: number; discount: number; total: number } {
  const subtotal = lines.reduce((sum, l) => sum + l.lineTotal, 0);
  const applied = Math.min(Math.max(discount, 0), subtotal);
  return { subtotal, discount: applied, total: subtotal - applied };
}

/** Same product twice in one request becomes one line. */
export function mergeItems(items: ReadonlyArray<{ productId: string; quantity: number }>): Array<{ productId: string; quantity: number }> {
  const merged = new Map<string, number>();
  for (const item of items) merged.set(item.productId, (merged.get(item.productId) ?? 0) + item.quantity);
  return [...merged].map(([productId, quantity]) => ({ productId, quantity }));
}
