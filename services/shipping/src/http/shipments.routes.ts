import { FindShipmentQuery, Shipment, ShipmentParams, ShipmentStatus, UpdateShipmentStatusRequest } from '@emporium/contracts';
import { mayAccessCustomer, notFound, principalOf, problemResponses, type HttpApp, type Idempotency } from '@emporium/platform';
import { transition } from '../domain/shipment';
import type { ShipmentsStore } from '../store/shipments.store';

/** The problem document of a refused transition also says which statuses were involved. */
const TransitionProblem = problemResponses[409].extend({ from: ShipmentStatus.optional(), to: ShipmentStatus.optional() });

const shipmentNotFound = (what: string) => notFound('SHIPPING.SHIPMENT_NOT_FOUND', what);

export function shipmentsRoutes(app: HttpApp, store: ShipmentsStore, idempotency: Idempotency): void {
  app.get('/shipments/:shipmentId', {
    schema: { tags: ['shipments'], summary: 'One shipment with its status history', params: ShipmentParams, response: { 200: Shipment, ...problemResponses } },
  }, async (request) => {
    const shipment = await store.get(request.params.shipmentId);
    // Another shopper's shipment does not exist for them.
    if (!shipment || !mayAccessCustomer(principalOf(request), shipment.customerId)) throw shipmentNotFound(`Shipment ${request.params.shipmentId} does not exist.`);
    return shipment;
  });

  app.get('/shipments', {
    schema: { tags: ['shipments'], summary: 'The shipment of an order, with its status history', querystring: FindShipmentQuery, response: { 200: Shipment, ...problemResponses } },
  }, async (request) => {
    const shipment = await store.getByOrder(request.query.orderId);
    if (!shipment || !mayAccessCustomer(principalOf(request), shipment.customerId)) throw shipmentNotFound(`Order ${request.query.orderId} has no shipment (yet).`);
    return shipment;
  });

  app.post('/shipments/:shipmentId/status', idempotency.route({
    schema: { tags: ['staff'], summary: 'Record that a shipment is in transit or delivered (staff)', params: ShipmentParams, body: UpdateShipmentStatusRequest, response: { 200: Shipment, ...problemResponses, 409: TransitionProblem } },
  }), async (request) => {
    const { status, note } = request.body;
    const updated = await store.update(request.params.shipmentId, (current) => transition(current, status, new Date(), note ?? null));
    if (!updated) throw shipmentNotFound(`Shipment ${request.params.shipmentId} does not exist.`);
    return updated;
  });
}
