import { CreateDiscountCodeRequest, DiscountCode, DiscountCodeList, DiscountCodeParams } from '@emporium/contracts';
import { notFound, problemResponses, type HttpApp, type Idempotency } from '@emporium/platform';
import { newDiscount, toDiscountCode } from '../domain/discount';
import type { DiscountsStore } from '../store/discounts.store';

export function discountsRoutes(app: HttpApp, discounts: DiscountsStore, clock: () => Date, idempotency: Idempotency): void {
  app.get('/discounts', {
    schema: { tags: ['staff'], summary: 'Every discount code, newest first (staff)', response: { 200: DiscountCodeList } },
  }, async () => ({ items: (await discounts.list()).map(toDiscountCode) }));

  app.get('/discounts/:code', {
    schema: { tags: ['staff'], summary: 'One discount code (staff)', params: DiscountCodeParams, response: { 200: DiscountCode, ...problemResponses } },
  }, async (request) => {
    const discount = await discounts.get(request.params.code);
    if (!discount) throw notFound('CART.DISCOUNT_NOT_FOUND', `There is no discount code ${request.params.code}.`);
    return toDiscountCode(discount);
  });

  app.post('/discounts', idempotency.route({
    schema: { tags: ['staff'], summary: 'Create a discount code (staff)', body: CreateDiscountCodeRequest, response: { 201: DiscountCode, ...problemResponses } },
  }), async (request, reply) => {
    const discount = newDiscount(request.body, clock());
    await discounts.insert(discount);
    return reply.code(201).send(toDiscountCode(discount));
  });
}
