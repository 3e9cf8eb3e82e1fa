import type { EventData, OrderStatus } from '@emporium/contracts';
import { AppError, event, type PendingEvent } from '@emporium/platform';
import { CANCELLABLE, canTransition, isTerminal, type Order } from '../domain/order';

/**
 * The checkout saga, orchestrated by orders (DESIGN.md "Checkout"):
 *   order_placed → stock_reserved → order_payment_requested → payment_authorized →
 *   order_confirmed → shipment_created → order_capture_requested → payment_captured → order_completed.
 * Each reaction is a pure function of the order and one fact; it returns the new status and
 * the events to publish. Compensations travel in order_cancelled: inventory releases the stock,
 * payments voids (or refunds) the payment, shipping cancels the shipment.
 */
export interface Reaction {
  to?: OrderStatus;
  reason?: string;
  failureCode?: string;
  patch?: Partial<Pick<Order, 'paymentToken' | 'paymentId' | 'shipmentId' | 'carrier' | 'trackingNumber' | 'stockReserved'>>;
  events: PendingEvent[];
}

const nothing: Reaction = { events: [] };

/** Ends an order in `status`, with every compensation its progress so far calls for. */
export function endOrder(order: Order, status: 'rejected' | 'payment_failed' | 'cancelled', code: string, reason: string): Reaction {
  return {
    to: status,
    reason,
    failureCode: code,
    patch: { paymentToken: null },
    events: [
      event('order_cancelled', order.id, {
        orderId: order.id,
        customerId: order.customerId,
        status,
        code,
        reason,
        // A reservation may be in flight while the order is placed; inventory releases only what is active.
        releaseStock: order.stockReserved || order.status === 'placed',
        voidPaymentId: order.paymentId,
      }),
    ],
  };
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
    // The order ended while the reservation was in flight: give the stock back.
    return { patch: { stockReserved: true }, events: endOrder({ ...order, stockReserved: true }, 'cancelled', order.failureCode ?? 'ORDER.ENDED', order.statusReason ?? 'Order ended').events };
  }
  if (order.status !== 'placed') return nothing;
  if (order.paymentToken) {
    return { to: 'payment_pending', reason: 'Stock reserved; authorizing payment.', patch: { stockReserved: true }, events: [requestPayment(order, order.paymentToken)] };
  }
  return { to: 'awaiting_payment', reason: 'Stock reserved; waiting for payment.', patch: { stockReserved: true }, events: [] };
}

export function onStockInsufficient(order: Order, data: EventData<'stock_insufficient'>, names: Map<string, string>): Reaction {
  if (order.status !== 'placed') return nothing;
  const detail = data.shortages
    .map((s) => `${names.get(s.productId) ?? s.productId} (requested ${s.requested}, available ${s.available})`)
    .join(', ');
  return endOrder(order, 'rejected', 'ORDER.OUT_OF_STOCK', `Not enough stock: ${detail}.`);
}

export function onPaymentAuthorized(order: Order, paymentId: string): Reaction {
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
        }),
      ],
    };
  }
  if (isTerminal(order.status) && order.status !== 'completed' && order.paymentId !== paymentId) {
    // Authorized after the order ended (cancelled meanwhile): void it.
    return { patch: { paymentId }, events: endOrder({ ...order, paymentId }, 'cancelled', order.failureCode ?? 'ORDER.ENDED', order.statusReason ?? 'Order ended').events };
  }
  return nothing;
}

export function onPaymentFailed(order: Order, data: EventData<'payment_failed'>): Reaction {
  if (order.status !== 'payment_pending') return nothing;
  return endOrder(order, 'payment_failed', `PAYMENT.${data.code.toUpperCase()}`, data.reason);
}

export function onShipmentCreated(order: Order, data: EventData<'shipment_created'>): Reaction {
  if (order.status !== 'confirmed' || !order.paymentId) return nothing;
  return {
    to: 'fulfilling',
    reason: `Shipment created with ${data.carrier} (${data.trackingNumber}); capturing payment.`,
    patch: { shipmentId: data.shipmentId, carrier: data.carrier, trackingNumber: data.trackingNumber },
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
  return endOrder(order, 'cancelled', 'PAYMENT.CAPTURE_FAILED', `The payment could not be completed (${data.reason}); the order was cancelled and nothing was charged.`);
}

export function onReservationExpired(order: Order): Reaction {
  if (order.status !== 'awaiting_payment' && order.status !== 'payment_pending') return nothing;
  return endOrder({ ...order, stockReserved: false }, 'cancelled', 'ORDER.RESERVATION_EXPIRED', 'Payment was not completed in time; the reserved items were released.');
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

/** Orders still unpaid (or never answered by inventory) when their reservation window closes. */
export function expireUnpaid(order: Order): Reaction {
  if (order.status === 'placed' || order.status === 'awaiting_payment') {
    return endOrder(order, 'cancelled', 'ORDER.PAYMENT_TIMEOUT', 'Payment was not received in time; the order was cancelled.');
  }
  return nothing;
}
