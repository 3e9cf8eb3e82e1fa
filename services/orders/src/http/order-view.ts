import type { OrderView } from '@emporium/contracts';
import { isTerminal, nextStep, type HistoryEntry, type Order } from '../domain/order';

export function toView(order: Order, history: HistoryEntry[]): OrderView {
  return {
    id: order.id,
    customerId: order.customerId,
    status: order.status,
    statusReason: order.statusReason,
    terminal: isTerminal(order.status),
    items: order.items,
    currency: order.currency,
    subtotal: order.subtotal,
    discount: order.discount,
    discountCode: order.discountCode,
    total: order.total,
    paymentMethod: order.paymentMethod,
    paymentId: order.paymentId,
    shippingAddress: order.shippingAddress,
    shipment: order.shipmentId && order.carrier && order.trackingNumber ? { id: order.shipmentId, carrier: order.carrier, trackingNumber: order.trackingNumber } : null,
    history: history.map((h) => ({ status: h.status, reason: h.reason, at: h.at.toISOString() })),
    deadline: order.stepDeadline?.toISOString() ?? null,
    compensations: order.compensations.map((c) => ({
      step: c.step,
      action: c.action,
      status: c.confirmedAt ? ('confirmed' as const) : c.requestedAt ? ('requested' as const) : ('planned' as const),
      requestedAt: c.requestedAt?.toISOString() ?? null,
      confirmedAt: c.confirmedAt?.toISOString() ?? null,
    })),
    next: nextStep(order),
    createdAt: order.createdAt.toISOString(),
    updatedAt: order.updatedAt.toISOString(),
  };
}
