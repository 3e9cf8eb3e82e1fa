import { z } from 'zod';
import { CancelOrderRequest, Id, OrderList, OrderView, PayOrderRequest, PlaceOrderRequest } from '@emporium/contracts';
import { notFound, problemResponses, type HttpApp, type Idempotency } from '@emporium/platform';
import { placeOrder, type CartSnapshot } from '../domain/place-order';
import { cancelByCustomer, payOrder } from '../saga/checkout.saga';
import type { OrdersStore } from '../store/orders.store';
import { toView } from './order-view';

const Params = z.object({ id: z.string().regex(/^ord_[a-f0-9]{16}$/, 'must be an order id (ord_…)') });

export interface OrdersRouteDeps {
  store: OrdersStore;
  cart(customerId: string): Promise<CartSnapshot>;
  reservationTtlMs: number;
  idempotency: Idempotency;
}

export function ordersRoutes(app: HttpApp, deps: OrdersRouteDeps): void {
  const { store, idempotency } = deps;
  const view = async (id: string) => {
    const order = await store.get(id);
    if (!order) throw notFound('ORDERS.NOT_FOUND', `Order ${id} does not exist.`);
    return toView(order, await store.history(id));
  };

  app.post('/api/orders', idempotency.route({
    schema: {
      tags: ['orders'],
      summary: 'Place an order (the seed body), or check out the cart with from_cart: true',
      body: PlaceOrderRequest,
      response: { 201: OrderView, ...problemResponses },
    },
  }), async (request, reply) => {
    const { order, events } = await placeOrder(request.body, {
      products: (ids) => store.products(ids),
      cart: deps.cart,
      now: new Date(),
      reservationTtlMs: deps.reservationTtlMs,
    });
    const body = toView(order, [{ status: order.status, reason: order.statusReason, at: order.createdAt }]);
    const location = `/api/orders/${order.id}`;
    await store.insert(order, events, {
      correlationId: request.correlationId,
      // The answer to an Idempotency-Key commits with the order: a crash after the commit cannot place it twice.
      record: (tx) => idempotency.record(request, tx, { status: 201, body, headers: { location } }),
    });
    request.log.info({ orderId: order.id, customerId: order.customerId, total: order.total }, 'order placed');
    return reply.code(201).header('location', location).send(body);
  });

  app.get('/api/orders', {
    schema: {
      tags: ['orders'],
      summary: "A customer's orders, newest first",
      querystring: z.object({ customerId: Id, limit: z.coerce.number().int().min(1).max(100).default(20) }).strict(),
      response: { 200: OrderList, 400: problemResponses[400] },
    },
  }, async (request) => {
    const orders = await store.listByCustomer(request.query.customerId, request.query.limit);
    return { items: await Promise.all(orders.map(async (o) => toView(o, await store.history(o.id)))) };
  });

  app.get('/api/orders/:id', {
    schema: { tags: ['orders'], summary: 'An order with its status and full status history', params: Params, response: { 200: OrderView, ...problemResponses } },
  }, async (request) => view(request.params.id));

  app.post('/api/orders/:id/payment', idempotency.route({
    schema: {
      tags: ['orders'],
      summary: 'Pay for an order waiting for payment, with a token from the payment provider',
      params: Params,
      body: PayOrderRequest,
      response: { 202: OrderView, ...problemResponses },
    },
  }), async (request, reply) => {
    const updated = await store.react(request.params.id, (order) => payOrder(order, request.body.payment_token), { correlationId: request.correlationId });
    if (!updated) throw notFound('ORDERS.NOT_FOUND', `Order ${request.params.id} does not exist.`);
    return reply.code(202).send(await view(updated.id));
  });

  app.post('/api/orders/:id/cancel', idempotency.route({
    schema: { tags: ['orders'], summary: 'Cancel an order before it ships', params: Params, body: CancelOrderRequest.optional(), response: { 200: OrderView, ...problemResponses } },
  }), async (request) => {
    const updated = await store.react(request.params.id, (order) => cancelByCustomer(order, request.body?.reason), { correlationId: request.correlationId });
    if (!updated) throw notFound('ORDERS.NOT_FOUND', `Order ${request.params.id} does not exist.`);
    return view(updated.id);
  });
}
