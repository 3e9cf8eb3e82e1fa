import { event, type EventHandlers } from '@emporium/platform';
import type { Carrier } from '../carriers/carrier';
import { shipmentCancelled, shipmentCreated, shipmentIdFor } from '../domain/shipment';
import type { ShipmentsStore } from '../store/shipments.store';

export interface HandlerDeps {
  store: ShipmentsStore;
  /** Known carriers; the first books new shipments, each cancels its own. */
  carriers: readonly [Carrier, ...Carrier[]];
}

/**
 * Order events → shipments. Each runs in the transaction that records the event in the inbox;
 * besides that, both are idempotent by state (one shipment per order, cancel only from `created`),
 * so a second envelope for the same fact changes nothing either.
 */
export function shippingHandlers({ store, carriers }: HandlerDeps): EventHandlers {
  const [booking] = carriers;
  const carrierFor = (code: string): Carrier => {
    const carrier = carriers.find((c) => c.code === code);
    if (!carrier) throw new Error(`no carrier configured for code ${code}`);
    return carrier;
  };

  return {
    order_confirmed: async (order, { tx, emit, logger }) => {
      const existing = await store.getByOrder(order.orderId, tx);
      if (existing) {
        logger.info({ orderId: order.orderId, shipmentId: existing.id }, 'order already has a shipment; nothing to do');
        return;
      }
      const shipmentId = shipmentIdFor(order.orderId);
      const items = order.items.map(({ productId, name, quantity }) => ({ productId, name, quantity }));
      const booked = await booking.createShipment({ shipmentId, orderId: order.orderId, items });
      const { shipment, events } = shipmentCreated(order, shipmentId, booked, new Date());
      if (!(await store.insert(tx, shipment))) return;
      await emit(events);
      logger.info({ orderId: order.orderId, shipmentId, carrier: shipment.carrier, trackingNumber: shipment.trackingNumber }, 'shipment created');
    },

    order_cancelled: async (order, { tx, emit, logger }) => {
      const shipment = await store.lockByOrder(tx, order.orderId);
      if (!shipment || shipment.status !== 'created') {
        logger.info({ orderId: order.orderId, shipmentId: shipment?.id, status: shipment?.status }, 'no shipment to cancel');
        return;
      }
      await carrierFor(shipment.carrier).cancelShipment({ trackingNumber: shipment.trackingNumber });
      const cancelled = shipmentCancelled(shipment, order.reason, new Date());
      await store.saveStatus(tx, cancelled.shipment, cancelled.entry);
      await emit(cancelled.events);
      logger.info({ orderId: order.orderId, shipmentId: shipment.id }, 'shipment cancelled');
    },

    // The first undo of an ended order. Orders waits for shipment_cancelled before the next one, so
    // a shipment that is already cancelled is announced again (the carrier is not called twice).
    order_shipment_cancel_requested: async (request, { tx, emit, logger }) => {
      const shipment = await store.lockByOrder(tx, request.orderId);
      if (!shipment || shipment.id !== request.shipmentId) {
        logger.warn({ orderId: request.orderId, shipmentId: request.shipmentId }, 'cancel requested for an unknown shipment');
        return;
      }
      if (shipment.status === 'cancelled') {
        await emit([event('shipment_cancelled', shipment.orderId, { orderId: shipment.orderId, shipmentId: shipment.id, reason: request.reason })]);
        return;
      }
      if (shipment.status !== 'created') {
        logger.error({ orderId: request.orderId, shipmentId: shipment.id, status: shipment.status }, 'shipment already left; cannot cancel it, needs staff attention');
        return;
      }
      await carrierFor(shipment.carrier).cancelShipment({ trackingNumber: shipment.trackingNumber });
      const cancelled = shipmentCancelled(shipment, request.reason, new Date());
      await store.saveStatus(tx, cancelled.shipment, cancelled.entry);
      await emit(cancelled.events);
      logger.info({ orderId: request.orderId, shipmentId: shipment.id }, 'shipment cancelled');
    },
  };
}
