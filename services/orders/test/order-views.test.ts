import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, type TestPlatform } from '@emporium/platform/testing';
import { principalHeaders, type Service } from '@emporium/platform';
import { createOrdersService } from '../src/service';
import { orderEvents } from './events';

/**
 * An order page reads the order and its status history in one query, and an order list reads the
 * histories of all its orders in one more (not one per order). These tests check that each order
 * still shows its own history, oldest first, and that a shopper still sees only their own orders.
 */
describe('order pages and order lists with their status histories', () => {
  let platform: TestPlatform;
  let orders: Service;
  const productId = 'p-views';
  const customer = 'views-shopper';
  const shopper = principalHeaders({ type: 'customer', id: customer, roles: [] });
  const stranger = principalHeaders({ type: 'customer', id: 'views-stranger', roles: [] });

  const { publish, handled } = orderEvents(() => platform);
  const place = async (): Promise<string> => {
    const placed = await orders.app.inject({
      method: 'POST',
      url: '/api/orders',
      headers: shopper,
      payload: { items: [{ product_id: productId, quantity: 1 }], payment_method: 'credit_card', payment_token: 'tok_success' },
    });
    expect(placed.statusCode).toBe(201);
    return placed.json().id as string;
  };
  const reserve = async (orderId: string) =>
    handled(await publish('inventory-events', 'stock_reserved', orderId, { orderId, items: [{ productId, quantity: 1 }], expiresAt: new Date(Date.now() + 60_000).toISOString() }));
  type View = { id: string; status: string; history: Array<{ status: string; reason: string | null; at: string }> };
  const statuses = (view: View) => view.history.map((h) => h.status);

  beforeAll(async () => {
    platform = await createTestPlatform();
    orders = await createOrdersService(platform.deps('orders'), { cartUrl: 'http://127.0.0.1:9', cart: async () => ({ lines: [], discount: null }), expiryIntervalMs: 60_000 });
    await orders.start();
    const product = { productId, sku: 'VIEWS-1', name: 'View lamp', description: '', category: 'test', imageUrl: null, price: { amount: 1200, currency: 'EUR' as const }, active: true };
    await handled(await publish('catalog-events', 'product_created', productId, product));
  });
  afterAll(async () => {
    await orders?.stop();
    await platform?.close();
  });

  it('when orders have moved on by different steps, then each page and the list show every order its own history, oldest first', async () => {
    const confirmed = await place();
    await reserve(confirmed);
    await handled(await publish('payment-events', 'payment_authorized', confirmed, { orderId: confirmed, paymentId: 'pay-views-1', amount: 1200, currency: 'EUR', provider: 'test' }));
    const reserved = await place();
    await reserve(reserved);
    const placed = await place();

    const page = async (id: string) => {
      const res = await orders.app.inject({ method: 'GET', url: `/api/orders/${id}`, headers: shopper });
      expect(res.statusCode).toBe(200);
      return res.json() as View;
    };
    const pages = { confirmed: await page(confirmed), reserved: await page(reserved), placed: await page(placed) };
    expect(statuses(pages.confirmed)).toEqual(['placed', 'payment_pending', 'confirmed']);
    expect(pages.confirmed.status).toBe('confirmed');
    expect(statuses(pages.reserved)).toEqual(['placed', 'payment_pending']);
    expect(statuses(pages.placed)).toEqual(['placed']);
    for (const view of Object.values(pages)) {
      const times = view.history.map((h) => Date.parse(h.at));
      expect(times.every((t) => Number.isFinite(t))).toBe(true);
      expect([...times].sort((a, b) => a - b)).toEqual(times);
      expect(view.history.every((h) => typeof h.reason === 'string' && h.reason.length > 0)).toBe(true);
    }

    const list = await orders.app.inject({ method: 'GET', url: '/api/orders?limit=10', headers: shopper });
    expect(list.statusCode).toBe(200);
    const items = (list.json() as { items: View[] }).items;
    expect(items.map((o) => o.id).sort()).toEqual([confirmed, reserved, placed].sort());
    // The list shows each order exactly as its page does, history included.
    for (const item of items) expect(item).toEqual(Object.values(pages).find((p) => p.id === item.id));
  });

  it("when a shopper asks for another shopper's order or list, then it does not exist for them", async () => {
    const id = await place();
    const page = await orders.app.inject({ method: 'GET', url: `/api/orders/${id}`, headers: stranger });
    expect(page.statusCode).toBe(404);
    expect(page.headers['content-type']).toContain('application/problem+json');
    const list = await orders.app.inject({ method: 'GET', url: `/api/orders?customerId=${customer}`, headers: stranger });
    expect(list.statusCode).toBe(404);
    const own = await orders.app.inject({ method: 'GET', url: '/api/orders', headers: stranger });
    expect(own.statusCode).toBe(200);
    expect(own.json()).toEqual({ items: [] });
  });

  it('when no order has the id asked for, then its page is a 404 problem', async () => {
    const res = await orders.app.inject({ method: 'GET', url: '/api/orders/ord_0000000000000000', headers: shopper });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ status: 404 });
  });
});
