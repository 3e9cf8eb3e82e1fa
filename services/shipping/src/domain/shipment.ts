import { createHash } from 'node:crypto';
import type { EventData, Shipment, ShipmentHistoryEntry, ShipmentStatus } from '@emporium/contracts';
import { AppError, event, type PendingEvent } from '@emporium/platform';
import type { BookedShipment } from '../carriers/carrier';

/** Which status may follow which: `cancelled` and `delivered` are terminal. */
export const TRANSITIONS: Record<ShipmentStatus, readonly ShipmentStatus[]> = {
  created: ['in_transit', 'cancelled'],
  in_transit: ['delivered'],
  delivered: [],
  cancelled: [],
};

export const canTransition = (from: ShipmentStatus, to: ShipmentStatus): boolean => TRANSITIONS[from].includes(to);

/** The shipment after moving to `to`, with its new history entry; refuses what the table does not allow. */
export function transition(shipment: Shipment, to: ShipmentStatus, now: Date, note: string | null = null): { shipment: Shipment; entry: ShipmentHistoryEntry } {
  if (!canTransition(shipment.status, to)) {
    const allowed = TRANSITIONS[shipment.status];
    throw new AppError('SHIPPING.INVALID_TRANSITION', `Shipment ${shipment.id} is ${shipment.status} and cannot become ${to}.`, {
      status: 409,
      errors: [{ field: 'status', message: allowed.length > 0 ? `may only become ${allowed.join(' or ')} from ${shipment.status}` : `${shipment.status} is final` }],
      extensions: { from: shipment.status, to },
    });
  }
  const entry: ShipmentHistoryEntry = { status: to, at: now.toISOString(), note };
  return { shipment: { ...shipment, status: to, updatedAt: entry.at, history: [...shipment.history, entry] }, entry };
}

/** One order has one shipment, so its id follows from the order id: retries book the same parcel. */
export function shipmentIdFor(orderId: string): string {
  return `shp_${createHash('sha256').update(orderId).digest('hex').slice(0, 24)}`;
}

/** The shipment of a confirmed order once the carrier booked it, and the fact to announce. */
export function shipmentCreated(order: EventData<'order_confirmed'>, shipmentId: string, booking: BookedShipment, now: Date): { shipment: Shipment; events: PendingEvent[] } {
  const at = now.toISOString();
  const shipment: Shipment = {
    id: shipmentId,
    orderId: order.orderId,
    customerId: order.customerId,
    carrier: booking.carrier,
    trackingNumber: booking.trackingNumber,
    labelUrl: booking.labelUrl ?? null,
    status: 'created',
    items: order.items.map(({ productId, name, quantity }) => ({ productId, name, quantity })),
    history: [{ status: 'created', at, note: null }],
    createdAt: at,
    updatedAt: at,
  };
  const events = [
    event('shipment_created', order.orderId, {
      orderId: order.orderId,
      shipmentId,
      carrier: booking.carrier,
      trackingNumber: booking.trackingNumber,
    }),
  ];
  return { shipment, events };
}

/** The shipment cancelled because its order was; only a shipment still `created` gets here. */
export function shipmentCancelled(shipment: Shipment, reason: string, now: Date): { shipment: Shipment; entry: ShipmentHistoryEntry; events: PendingEvent[] } {
  const moved = transition(shipment, 'cancelled', now, reason);
  return {
    ...moved,
    events: [event('shipment_cancelled', shipment.orderId, { orderId: shipment.orderId, shipmentId: shipment.id, reason })],
  };
}
