import { z } from 'zod';

/** Shipment and order ids as they appear in paths and queries. */
export const ShipmentId = z.string().regex(/^[\w.:-]{1,64}$/, 'must be a shipment id');
const ShipmentOrderId = z.string().regex(/^[\w.:-]{1,64}$/, 'must be an order id');

export const ShipmentStatus = z.enum(['created', 'cancelled', 'in_transit', 'delivered']);
export type ShipmentStatus = z.infer<typeof ShipmentStatus>;

export const ShipmentItem = z.object({ productId: z.string(), name: z.string(), quantity: z.number().int().positive() });
export type ShipmentItem = z.infer<typeof ShipmentItem>;

export const ShipmentHistoryEntry = z.object({
  status: ShipmentStatus,
  at: z.string(),
  note: z.string().nullable(),
});
export type ShipmentHistoryEntry = z.infer<typeof ShipmentHistoryEntry>;

export const Shipment = z
  .object({
    id: z.string(),
    orderId: z.string(),
    customerId: z.string(),
    carrier: z.string().describe('carrier code, e.g. sandbox-post'),
    trackingNumber: z.string(),
    labelUrl: z.string().nullable(),
    status: ShipmentStatus,
    items: z.array(ShipmentItem),
    history: z.array(ShipmentHistoryEntry).describe('every status the shipment went through, oldest first'),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: 'Shipment' });
export type Shipment = z.infer<typeof Shipment>;

export const ShipmentParams = z.object({ shipmentId: ShipmentId });

export const FindShipmentQuery = z.object({ orderId: ShipmentOrderId.describe('the order whose shipment to return') }).strict();
export type FindShipmentQuery = z.infer<typeof FindShipmentQuery>;

/** Statuses staff may set by hand; `created` and `cancelled` follow from order events. */
export const ShipmentStatusUpdate = z.enum(['in_transit', 'delivered']);

export const UpdateShipmentStatusRequest = z
  .object({
    status: ShipmentStatusUpdate,
    note: z.string().trim().min(1).max(500).optional(),
  })
  .strict();
export type UpdateShipmentStatusRequest = z.infer<typeof UpdateShipmentStatusRequest>;
