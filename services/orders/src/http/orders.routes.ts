import { z } from 'zod';
import { CancelOrderRequest, OrderList, OrderListQuery, OrderView, PayOrderRequest, PlaceOrderRequest } from '@emporium/contracts';
import { AppError, mayAccessCustomer, notFound, principalOf, problemResponses, shopperOf, type HttpApp, type Idempotency } from '@emporium/platform';
import type { ServerResponse } from 'node:http';
import type { FastifyRequest } from 'fastify';
import { placeOrder, type CartSnapshot } from '../domain/place-order';
import { cancelByCustomer, payOrder } from '../saga/checkout.saga';
import type { OrdersStore } from '../store/orders.store';
import type { OrderChanges } from './order-changes';
import { toView } from './order-view';

const Params = z.object({ id: z.string().regex(/^ord_[a-f0-9]{16}$/, 'must be an order id (ord_…)') });

export interface OrdersRouteDeps {
  store: OrdersStore;
  cart(customerId: string): Promise<CartSnapshot>;
  reservationTtlMs: number;
  idempotency: Idempotency;
  changes: OrderChanges;
  /** How often a live order stream re-reads the order even without a NOTIFY, and says it is alive. Default 15 s. */
  streamHeartbeatMs?: number;
}

const orderNotFound = (id: string) => notFound('ORDERS.NOT_FOUND', `Order ${id} does not exist.`);

export function ordersRoutes(app: HttpApp, deps: OrdersRouteDeps): void {
  const { store, idempotency } = deps;
  // Live streams end when the service stops, so shutdown does not wait for browsers to leave.
  const streams = new Set<ServerResponse>();
  app.addHook('preClose', (done) => {
    for (const res of streams) res.end();
    done();
  });

  /**
   * The order's view, if this caller may see it (another shopper's order does not exist for them):
   * the order and its status history in one query.
   */
  const view = async (request: FastifyRequest, id: string) => {
    const found = await store.withHistory(id);
    if (!found || !mayAccessCustomer(principalOf(request), found.order.customerId)) throw orderNotFound(id);
    return toView(found.order, found.history);
  };
  const ensureOwner = async (request: FastifyRequest, id: string) => {
    const owner = await store.ownerOf(id);
    if (owner === undefined || !mayAccessCustomer(principalOf(request), owner)) throw orderNotFound(id);
  };

  app.post('/api/orders', idempotency.route({
    schema: {
      tags: ['orders'],
      summary: 'Place an order (the seed body), or check out the cart with from_cart: true',
      body: PlaceOrderRequest,
      response: { 201: OrderView, ...problemResponses },
    },
  }), async (request, reply) => {
    const shopper = shopperOf(principalOf(request));
    const given = request.body.customer_id;
    if (shopper && given !== undefined && given !== shopper) {
      throw new AppError('ORDERS.CUSTOMER_MISMATCH', 'You can place orders for yourself only; leave customer_id out.', {
        status: 403,
        errors: [{ field: 'customer_id', message: 'is not the signed-in customer' }],
      });
    }
    const customerId = shopper ?? given;
    if (customerId === undefined) throw new AppError('REQUEST.INVALID', 'The request body is invalid: customer_id is required', { status: 400, errors: [{ field: 'customer_id', message: 'is required' }] });
    const { order, events } = await placeOrder({ ...request.body, customer_id: customerId }, {
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
      summary: "The caller's orders (staff: a customer's), newest first",
      querystring: OrderListQuery,
      response: { 200: OrderList, ...problemResponses },
    },
  }, async (request) => {
    const principal = principalOf(request);
    const customerId = request.query.customerId ?? shopperOf(principal);
    if (customerId === undefined) throw new AppError('REQUEST.INVALID', 'The request query is invalid: query.customerId is required', { status: 400, errors: [{ field: 'query.customerId', message: 'is required' }] });
    if (!mayAccessCustomer(principal, customerId)) throw notFound('ORDERS.NOT_FOUND', 'There are no such orders.');
    const orders = await store.listByCustomer(customerId, request.query.limit);
    const histories = await store.histories(orders.map((o) => o.id));
    return { items: orders.map((o) => toView(o, histories.get(o.id) ?? [])) };
  });

  app.get('/api/orders/:id', {
    schema: { tags: ['orders'], summary: 'An order with its status and full status history', params: Params, response: { 200: OrderView, ...problemResponses } },
  }, async (request) => view(request, request.params.id));

  app.get('/api/orders/:id/events', {
    schema: {
      tags: ['orders'],
      summary: 'The order, live: a text/event-stream with an `order` event (the order as JSON) now and on every change',
      params: Params,
      response: { 200: z.string().describe('text/event-stream'), ...problemResponses },
    },
  }, async (request, reply) => {
    const { id } = request.params;
    let last = JSON.stringify(await view(request, id));
    const heartbeatMs = deps.streamHeartbeatMs ?? 15_000;
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-request-id': request.id,
    });
    res.write(`retry: 2000\nevent: order\ndata: ${last}\n\n`);
    streams.add(res);

    let closed = false;
    let checking = false;
    let again = false;
    const check = async () => {
      if (closed) return;
      if (checking) {
        again = true;
        return;
      }
      checking = true;
      try {
        do {
          again = false;
          const current = JSON.stringify(await view(request, id));
          if (current !== last && !closed) {
            last = current;
            res.write(`event: order\ndata: ${current}\n\n`);
          }
        } while (again && !closed);
      } catch (error) {
        request.log.warn({ err: error, orderId: id }, 'live order stream could not read the order');
      } finally {
        checking = false;
      }
    };
    const unsubscribe = await deps.changes.subscribe(id, () => void check());
    const timer = setInterval(() => {
      if (!closed) res.write(': ping\n\n');
      void check();
    }, heartbeatMs);
    timer.unref();
    res.once('close', () => {
      closed = true;
      streams.delete(res);
      clearInterval(timer);
      unsubscribe();
    });
    // A change between the first read and the subscription is not missed.
    void check();
  });

  app.post('/api/orders/:id/payment', idempotency.route({
    schema: {
      tags: ['orders'],
      summary: 'Pay for an order waiting for payment, with a token from the payment provider',
      params: Params,
      body: PayOrderRequest,
      response: { 202: OrderView, ...problemResponses },
    },
  }), async (request, reply) => {
    await ensureOwner(request, request.params.id);
    const updated = await store.react(request.params.id, (order) => payOrder(order, request.body.payment_token), { correlationId: request.correlationId });
    if (!updated) throw orderNotFound(request.params.id);
    return reply.code(202).send(await view(request, updated.id));
  });

  app.post('/api/orders/:id/cancel', idempotency.route({
    schema: { tags: ['orders'], summary: 'Cancel an order before it ships', params: Params, body: CancelOrderRequest.nullish(), response: { 200: OrderView, ...problemResponses } },
  }), async (request) => {
    await ensureOwner(request, request.params.id);
    const updated = await store.react(request.params.id, (order) => cancelByCustomer(order, request.body?.reason), { correlationId: request.correlationId });
    if (!updated) throw orderNotFound(request.params.id);
    return view(request, updated.id);
  });
}
