import type { EventData, OrderStatus } from '@emporium/contracts';
import { AppError, event, type PendingEvent } from '@emporium/platform';
import { CANCELLABLE, canTransition, isTerminal, type Compensation, type CompensationAction, type CompensationStep, type Order } from '../domain/order';

/**
 * The checkout saga, orchestrated by orders:
 *   order_placed → stock_reserved → order_payment_requested → payment_authorized →
 *   order_confirmed → shipment_created → order_capture_requested → payment_captured → order_completed.
 * Each reaction is a pure function of the order and one fact; it returns the new status, the
 * events to publish and, for an ended order, its compensations.
 *
 * An order that ends undoes its completed steps in reverse, one after the other: the shipment is
 * cancelled (order_shipment_cancel_requested → shipment_cancelled), then the payment voided or
 * refunded (order_payment_release_requested → payment_voided / payment_refunded), then
 * order_cancelled releases the stock (→ stock_released). Each undo is requested only once the one
 * before it is confirmed. order_cancelled also makes payments and shipping undo what orders never
 * heard of (an authorization or a shipment still in flight when the order ended): those arrive
 * later as late facts and are recorded then.
 */
export interface Reaction {
  to?: OrderStatus;
  reason?: string;
  failureCode?: string;
  patch?: Partial<Pick<Order, 'paymentToken' | 'paymentId' | 'shipmentId' | 'carrier' | 'trackingNumber' | 'stockReserved' | 'cancellationEmitted'>>;
  /** The order's compensations after this reaction (the store writes them all). */
  compensations?: Compensation[];
  events: PendingEvent[];
}

const nothing: Reaction = { events: [] };

const planned = (step: CompensationStep, action: CompensationAction): Compensation => ({ step, action, requestedAt: null, confirmedAt: null });

const ORDER: Record<CompensationStep, number> = { shipment: 0, payment: 1, stock: 2 };
const inOrder = (list: Compensation[]) => [...list].sort((a, b) => ORDER[a.step] - ORDER[b.step]);

const announceCancellation = (order: Order): PendingEvent =>
  event('order_cancelled', order.id, {
    orderId: order.id,
    customerId: order.customerId,
    status: order.status,
    code: order.failureCode ?? 'ORDER.ENDED',
    reason: order.statusReason ?? 'The order ended.',
    releaseStock: order.compensations.some((c) => c.step === 'stock'),
    voidPaymentId: order.paymentId,
  });

function undoRequest(order: Order, step: CompensationStep): PendingEvent {
  const reason = order.statusReason ?? 'The order ended.';
  return step === 'shipment'
    ? event('order_shipment_cancel_requested', order.id, { orderId: order.id, shipmentId: order.shipmentId!, reason })
    : event('order_payment_release_requested', order.id, { orderId: order.id, paymentId: order.paymentId!, reason });
}

/**
 * Moves an ended order's compensations on: nothing while an undo awaits its confirmation; else
 * requests the next planned shipment or payment undo; once those are done, writes order_cancelled
 * (releasing the stock) — exactly once per order.
 */
function advance(order: Order, now: Date): Pick<Reaction, 'compensations' | 'events' | 'patch'> {
  const list = inOrder(order.compensations).map((c) => ({ ...c }));
  if (list.some((c) => c.requestedAt && !c.confirmedAt)) return { compensations: list, events: [] };
  const next = list.find((c) => !c.requestedAt && !c.confirmedAt && c.step !== 'stock');
  if (next) {
    next.requestedAt = now;
    return { compensations: list, events: [undoRequest(order, next.step)] };
  }
  if (order.cancellationEmitted) return { compensations: list, events: [] };
  const stock = list.find((c) => c.step === 'stock' && !c.requestedAt);
  if (stock) stock.requestedAt = now;
  return { compensations: list, events: [announceCancellation({ ...order, compensations: list })], patch: { cancellationEmitted: true } };
}

/**
 * Ends an order in `status` and starts undoing what its progress so far calls for. `done` marks
 * undos that already happened (e.g. an authorization that expired needs no void).
 */
export function endOrder(
  order: Order,
  status: 'rejected' | 'payment_failed' | 'cancelled',
  code: string,
  reason: string,
  options: { now?: Date; stockHeld?: boolean; done?: Partial<Record<CompensationStep, CompensationAction>> } = {},
): Reaction {
  const now = options.now ?? new Date();
  const done = options.done ?? {};
  const plan: Compensation[] = [];
  if (order.shipmentId) plan.push(planned('shipment', 'cancel_shipment'));
  if (order.paymentId) plan.push(planned('payment', 'void_payment'));
  // A reservation may be in flight while the order is placed; inventory releases only what is active.
  if (options.stockHeld ?? (order.stockReserved || order.status === 'placed')) plan.push(planned('stock', 'release_stock'));
  for (const c of plan) {
    const action = done[c.step];
    if (action) Object.assign(c, { action, requestedAt: now, confirmedAt: now });
  }
  const ended: Order = { ...order, status, statusReason: reason, failureCode: code, compensations: plan, cancellationEmitted: false };
  const moved = advance(ended, now);
  return { to: status, reason, failureCode: code, patch: { paymentToken: null, ...moved.patch }, compensations: moved.compensations, events: moved.events };
}

/**
 * A service confirmed an undo (or an undo orders never asked for took effect: recorded as well).
 * The first confirmation counts; the next undo is requested then.
 */
export function onCompensated(order: Order, step: CompensationStep, action: CompensationAction, now = new Date()): Reaction {
  if (!isTerminal(order.status) || order.status === 'completed') return nothing;
  const existing = order.compensations.find((c) => c.step === step);
  if (existing?.confirmedAt) return nothing;
  const list = existing
    ? order.compensations.map((c) => (c.step === step ? { ...c, action: c.action === 'void_payment' ? action : c.action, requestedAt: c.requestedAt ?? now, confirmedAt: now } : c))
    : [...order.compensations, { step, action, requestedAt: order.updatedAt, confirmedAt: now }];
  const moved = advance({ ...order, compensations: list }, now);
  return { patch: moved.patch, compensations: moved.compensations, events: moved.events };
}

/** A shipment or an authorization completed after its order ended (a late fact): undo it too, once. */
function undoLate(order: Order, step: 'shipment' | 'payment', action: CompensationAction, patch: NonNullable<Reaction['patch']>, now: Date): Reaction {
  if (order.compensations.some((c) => c.step === step)) return { patch, events: [] };
  const compensations = inOrder([...order.compensations, { step, action, requestedAt: now, confirmedAt: null }]);
  return { patch, compensations, events: [undoRequest({ ...order, ...patch }, step)] };
}

function requestPayment(order: Order, token: string): PendingEvent {
  return event('order_payment_requested', order.id, {
    orderId: order.id,
    customerId: order.customerId,
    amount: order.total,
    currency: order.currency,
    paymentMethod: order.paymentMethod,
    paymentToken: token,
  });
}

export function onStockReserved(order: Order): Reaction {
  if (isTerminal(order.status)) {
    // The order ended while the reservation was in flight: the stock goes back too.
    if (order.status === 'completed' || order.compensations.some((c) => c.step === 'stock')) return { patch: { stockReserved: true }, events: [] };
    if (!order.cancellationEmitted) return { patch: { stockReserved: true }, compensations: inOrder([...order.compensations, planned('stock', 'release_stock')]), events: [] };
    const compensations = inOrder([...order.compensations, { ...planned('stock', 'release_stock'), requestedAt: new Date() }]);
    return { patch: { stockReserved: true }, compensations, events: [announceCancellation({ ...order, stockReserved: true, compensations })] };
  }
  if (order.status !== 'placed') return nothing;
  if (order.paymentToken) {
    return { to: 'payment_pending', reason: 'Stock reserved; authorizing payment.', patch: { stockReserved: true }, events: [requestPayment(order, order.paymentToken)] };
  }
  return { to: 'awaiting_payment', reason: 'Stock reserved; waiting for payment.', patch: { stockReserved: true }, events: [] };
}

export function onStockInsufficient(order: Order, data: EventData<'stock_insufficient'>, names: Map<string, string>): Reaction {
  if (isTerminal(order.status)) {
    // Timed out before inventory answered, and nothing was reserved: there is no stock to wait for.
    const pending = order.compensations.find((c) => c.step === 'stock' && !c.confirmedAt);
    return pending ? { compensations: order.compensations.filter((c) => c !== pending), events: [] } : nothing;
  }
  if (order.status !== 'placed') return nothing;
  const detail = data.shortages
    .map((s) => `${names.get(s.productId) ?? s.productId} (requested ${s.requested}, available ${s.available})`)
    .join(', ');
  return endOrder(order, 'rejected', 'ORDER.OUT_OF_STOCK', `Not enough stock: ${detail}.`, { stockHeld: false });
}

export function onPaymentAuthorized(order: Order, paymentId: string, now = new Date()): Reaction {
  if (order.status === 'payment_pending') {
    return {
      to: 'confirmed',
      reason: 'Payment authorized.',
      patch: { paymentId, paymentToken: null },
      events: [
        event('order_confirmed', order.id, {
          orderId: order.id,
          customerId: order.customerId,
          items: order.items,
          total: order.total,
          currency: order.currency,
          source: order.source,
        }),
      ],
    };
  }
  if (isTerminal(order.status) && order.status !== 'completed' && order.paymentId !== paymentId) {
    // Authorized after the order ended (timed out or cancelled meanwhile): void it.
    return undoLate(order, 'payment', 'void_payment', { paymentId }, now);
  }
  return nothing;
}

export function onPaymentFailed(order: Order, data: EventData<'payment_failed'>): Reaction {
  if (order.status !== 'payment_pending') return nothing;
  return endOrder(order, 'payment_failed', `PAYMENT.${data.code.toUpperCase()}`, data.reason);
}

export function onShipmentCreated(order: Order, data: EventData<'shipment_created'>, now = new Date()): Reaction {
  const patch = { shipmentId: data.shipmentId, carrier: data.carrier, trackingNumber: data.trackingNumber };
  if (isTerminal(order.status) && order.status !== 'completed' && !order.shipmentId) {
    // Booked after the order ended: cancel it too.
    return undoLate(order, 'shipment', 'cancel_shipment', patch, now);
  }
  if (order.status !== 'confirmed' || !order.paymentId) return nothing;
  return {
    to: 'fulfilling',
    reason: `Shipment created with ${data.carrier} (${data.trackingNumber}); capturing payment.`,
    patch,
    events: [event('order_capture_requested', order.id, { orderId: order.id, paymentId: order.paymentId, amount: order.total, currency: order.currency })],
  };
}

export function onPaymentCaptured(order: Order): Reaction {
  if (order.status !== 'fulfilling') return nothing;
  return {
    to: 'completed',
    reason: 'Payment captured; your order is on its way to the carrier.',
    events: [
      event('order_completed', order.id, {
        orderId: order.id,
        customerId: order.customerId,
        items: order.items.map((l) => ({ productId: l.productId, quantity: l.quantity })),
      }),
    ],
  };
}

export function onCaptureFailed(order: Order, data: EventData<'payment_capture_failed'>): Reaction {
  if (order.status !== 'fulfilling') return nothing;
  return endOrder(order, 'cancelled', 'PAYMENT.CAPTURE_FAILED', `The payment could not be completed (${data.reason}); the shipment was cancelled, nothing was charged and your items were released.`);
}

/** The authorization lapsed before capture: the order cannot be paid any more. */
export function onAuthorizationExpired(order: Order, paymentId: string, now = new Date()): Reaction {
  if (order.paymentId !== paymentId) return nothing;
  if (isTerminal(order.status)) return onCompensated(order, 'payment', 'authorization_expired', now);
  return endOrder(
    order,
    'cancelled',
    'PAYMENT.AUTHORIZATION_EXPIRED',
    'Your payment authorization expired before the order could be completed; nothing was charged and your items were released.',
    { now, done: { payment: 'authorization_expired' } },
  );
}

export function onReservationExpired(order: Order): Reaction {
  if (order.status !== 'awaiting_payment' && order.status !== 'payment_pending') return nothing;
  // Inventory already gave the stock back: recorded as done.
  return endOrder({ ...order, stockReserved: true }, 'cancelled', 'ORDER.RESERVATION_EXPIRED', 'Payment was not completed in time; the reserved items were released.', {
    done: { stock: 'release_stock' },
  });
}

/** The customer's own cancellation; refused once a shipment exists. */
export function cancelByCustomer(order: Order, reason: string | undefined): Reaction {
  if (!CANCELLABLE.includes(order.status)) {
    throw new AppError('ORDERS.NOT_CANCELLABLE', `An order that is ${order.status.replace('_', ' ')} can no longer be cancelled.`, { status: 409 });
  }
  return endOrder(order, 'cancelled', 'ORDER.CANCELLED_BY_CUSTOMER', reason ? `Cancelled at your request: ${reason}` : 'Cancelled at your request.');
}

/** A payment token for an order that waits for one (or whose stock is still being reserved). */
export function payOrder(order: Order, token: string): Reaction {
  if (order.status === 'placed') return { patch: { paymentToken: token }, events: [] };
  if (!canTransition(order.status, 'payment_pending')) {
    throw new AppError('ORDERS.NOT_AWAITING_PAYMENT', `The order is ${order.status.replace('_', ' ')}, not waiting for payment.`, { status: 409 });
  }
  return { to: 'payment_pending', reason: 'Payment received; authorizing.', patch: { paymentToken: token }, events: [requestPayment(order, token)] };
}

/** Why each waiting step ended an order when it timed out, in the customer's words. */
export const TIMEOUT_REASONS = {
  placed: { code: 'ORDER.STOCK_TIMEOUT', reason: 'We could not reserve your items in time; nothing was charged and the order was cancelled.' },
  awaiting_payment: { code: 'ORDER.PAYMENT_TIMEOUT', reason: 'Payment was not received in time; the order was cancelled and your items were released.' },
  payment_pending: { code: 'ORDER.PAYMENT_CONFIRMATION_TIMEOUT', reason: 'We could not confirm your payment in time; nothing was charged and your items were released.' },
  confirmed: { code: 'ORDER.SHIPPING_TIMEOUT', reason: 'We could not arrange shipping in time; your payment was released, nothing was charged and your items were released.' },
  fulfilling: { code: 'ORDER.CAPTURE_TIMEOUT', reason: 'We could not complete your payment in time; the shipment was cancelled, anything charged is refunded and your items were released.' },
} as const;

/** The order's current step ran past its deadline: end it with the compensations its progress calls for. */
export function onStepTimedOut(order: Order, now = new Date()): Reaction {
  if (isTerminal(order.status) || !order.stepDeadline || order.stepDeadline > now) return nothing;
  const timeout = TIMEOUT_REASONS[order.status as keyof typeof TIMEOUT_REASONS];
  if (!timeout) return nothing;
  return endOrder(order, 'cancelled', timeout.code, timeout.reason, { now });
}
