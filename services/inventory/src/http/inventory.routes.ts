import { z } from 'zod';
import { InventoryProductId, ListMovementsQuery, MovementList, Reconciliation, StockLevel, UpdateStockRequest } from '@emporium/contracts';
import { notFound, problemResponses, type HttpApp, type Idempotency } from '@emporium/platform';
import { planStockUpdate } from '../domain/stock';
import type { InventoryStore } from '../store/inventory.store';

const Params = z.object({ productId: InventoryProductId });

/** The platform's problem schema strips extension members; a stock conflict keeps the current level in them. */
const StockConflict = problemResponses[409].extend({ onHand: z.number().int().optional(), reserved: z.number().int().optional(), available: z.number().int().optional() }).meta({ id: 'StockConflict' });

const unknownProduct = (productId: string) =>
  notFound('INVENTORY.PRODUCT_NOT_FOUND', `Inventory has never heard of product ${productId} (it learns of products from product_created).`);

export function inventoryRoutes(app: HttpApp, store: InventoryStore, idempotency: Idempotency): void {
  // A static path wins over /inventory/:productId in the router, whatever the order; it is registered first to make that plain.
  app.get('/inventory/reconciliation', {
    schema: { tags: ['staff'], summary: 'Products whose levels disagree with their ledger or reservations (staff)', response: { 200: Reconciliation } },
  }, async () => {
    const mismatches = await store.reconcile();
    return { ok: mismatches.length === 0, mismatches };
  });

  app.get('/inventory/:productId', {
    schema: { tags: ['inventory'], summary: 'Stock level of one product', params: Params, response: { 200: StockLevel, ...problemResponses } },
  }, async (request) => {
    const level = await store.get(request.params.productId);
    if (!level) throw unknownProduct(request.params.productId);
    return level;
  });

  app.post('/inventory/:productId/update', idempotency.route({
    schema: {
      tags: ['staff'],
      summary: 'Set the counted on-hand figure or adjust it by a delta (staff)',
      params: Params,
      body: UpdateStockRequest,
      response: { 200: StockLevel, ...problemResponses, 409: StockConflict },
    },
  }), async (request) => {
    const { productId } = request.params;
    const level = await store.update(productId, (current) => planStockUpdate(current, request.body), { correlationId: request.correlationId });
    if (!level) throw unknownProduct(productId);
    return level;
  });

  app.get('/inventory/:productId/movements', {
    schema: { tags: ['staff'], summary: 'The stock ledger of one product, latest first (staff)', params: Params, querystring: ListMovementsQuery, response: { 200: MovementList, ...problemResponses } },
  }, async (request) => {
    const items = await store.movements(request.params.productId, request.query);
    if (!items) throw unknownProduct(request.params.productId);
    return { items };
  });
}
