import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EmbeddedPlatform } from '@emporium/launcher/embedded';
import { call, expectProblem, show, startSecurityPlatform, type Answer } from './support/platform';
import { createWorld, idempotent, orderOf, OWNER_ADDRESS, type Order, type World } from './support/world';

/**
 * ADR 0009: prices, totals, status, customer ids and roles are never taken from a client. A body
 * that carries one is refused with a 4xx problem naming the field, and nothing is stored.
 */
describe('clients cannot set what the platform decides', () => {
  let platform: EmbeddedPlatform;
  let w: World;

  beforeAll(async () => {
    platform = await startSecurityPlatform();
    w = await createWorld(platform.url);
  }, 120_000);
  afterAll(() => platform?.stop(), 60_000);

  function expectRefusedNaming(res: Answer, field: string, what: string): void {
    expectProblem(res, [400, 403, 422]);
    const fields = ((res.json?.errors as Array<{ field: string }> | undefined) ?? []).map((e) => e.field).join(' ');
    expect(`${fields} ${String(res.json?.detail)}`, `${what} should name ${field}: ${show(res)}`).toContain(field);
  }

  const ownOrders = async () => ((await call(platform.url, 'GET', '/api/orders?limit=100', { headers: w.owner.headers })).json?.items as Order[]).length;
  /** The cart as the shopper made it: without each line's live stock, which an earlier test's order may still be reserving. */
  const ownCart = async () => {
    const cart = (await call(platform.url, 'GET', `/cart/${w.owner.id}`, { headers: w.owner.headers })).json as { lines: Array<Record<string, unknown>> };
    return { ...cart, lines: cart.lines.map(({ availability: _live, ...line }) => line) };
  };

  it('when an order is placed with a price, total, status, discount or someone else’s customer id, then it is refused naming the field and no order is made', async () => {
    const base = { items: [{ product_id: w.productId, quantity: 1 }], payment_method: 'credit_card', shipping_address: OWNER_ADDRESS };
    const attempts: Array<[string, Record<string, unknown>]> = [
      ['total', { ...base, total: 1 }],
      ['subtotal', { ...base, subtotal: 1 }],
      ['status', { ...base, status: 'completed' }],
      ['discount', { ...base, discount: 4000 }],
      ['discountCode', { ...base, discountCode: 'FREE' }],
      ['currency', { ...base, currency: 'XXX' }],
      ['customerId', { ...base, customerId: w.other.id }],
      ['customer_id', { ...base, customer_id: w.other.id }],
      ['items/0/price', { ...base, items: [{ product_id: w.productId, quantity: 1, price: 1 }] }],
      ['items/0/unitPrice', { ...base, items: [{ product_id: w.productId, quantity: 1, unitPrice: 1 }] }],
      ['items/0/lineTotal', { ...base, items: [{ product_id: w.productId, quantity: 1, lineTotal: 1 }] }],
      ['paymentId', { ...base, paymentId: w.paymentId }],
    ];
    const before = await ownOrders();
    for (const [field, body] of attempts) {
      const res = await call(platform.url, 'POST', '/api/orders', { headers: { ...w.owner.headers, ...idempotent() }, body });
      expectRefusedNaming(res, field.split('/').pop()!, `POST /api/orders with ${field}`);
    }
    expect(await ownOrders()).toBe(before);
  });

  it('when an order is placed properly, then its prices come from the catalog and its customer from the token', async () => {
    const res = await call(platform.url, 'POST', '/api/orders', {
      headers: { ...w.owner.headers, ...idempotent() },
      body: { items: [{ product_id: w.productId, quantity: 2 }], payment_method: 'credit_card' },
    });
    expect(res.status, show(res)).toBe(201);
    const order = res.json as unknown as Order;
    expect(order.customerId).toBe(w.owner.id);
    expect(order.items[0]).toMatchObject({ unitPrice: 4321, lineTotal: 8642 });
    expect(order.total).toBe(8642);
  });

  it('when a cart line is added or changed with a price, or a discount with an amount, then refused naming the field and the cart is unchanged', async () => {
    const before = await ownCart();
    const attempts: Array<[string, string, string, unknown]> = [
      ['unitPrice', 'POST', `/cart/${w.owner.id}/add`, { productId: w.productId, quantity: 1, unitPrice: 1 }],
      ['price', 'POST', `/cart/${w.owner.id}/add`, { productId: w.productId, quantity: 1, price: 1 }],
      ['customerId', 'POST', `/cart/${w.owner.id}/add`, { productId: w.productId, quantity: 1, customerId: w.other.id }],
      ['lineTotal', 'PUT', `/cart/${w.owner.id}/lines/${w.productId}`, { quantity: 1, lineTotal: 1 }],
      ['amount', 'POST', `/cart/${w.owner.id}/discount`, { code: 'WELCOME10', amount: 999999 }],
      ['total', 'POST', `/cart/${w.owner.id}/discount`, { code: 'WELCOME10', total: 0 }],
    ];
    for (const [field, method, path, body] of attempts) {
      const res = await call(platform.url, method, path, { headers: { ...w.owner.headers, ...idempotent() }, body });
      expectRefusedNaming(res, field, `${method} ${path} with ${field}`);
    }
    expect(await ownCart()).toEqual(before);
  });

  it('when an order is paid or cancelled with an amount or a status, then refused naming the field and the order is unchanged', async () => {
    const before = await orderOf(platform.url, w.owner, w.openOrder.id);
    const pay = await call(platform.url, 'POST', `/api/orders/${w.openOrder.id}/payment`, { headers: { ...w.owner.headers, ...idempotent() }, body: { payment_token: 'tok_success', amount: 1 } });
    expectRefusedNaming(pay, 'amount', 'payment with amount');
    const cancel = await call(platform.url, 'POST', `/api/orders/${w.openOrder.id}/cancel`, { headers: { ...w.owner.headers, ...idempotent() }, body: { status: 'refunded' } });
    expectRefusedNaming(cancel, 'status', 'cancel with status');
    const after = await orderOf(platform.url, w.owner, w.openOrder.id);
    expect(after.status).toBe(before.status);
    expect(after.total).toBe(before.total);
  });

  it('when a shopper signs up with roles, a type or an id, then refused naming the field and no such account exists', async () => {
    for (const [field, extra] of [['roles', { roles: ['admin'] }], ['typ', { typ: 'staff' }], ['type', { type: 'staff' }], ['id', { id: 'stf_mine' }], ['isAdmin', { isAdmin: true }]] as const) {
      const email = `massassign-${randomBytes(4).toString('hex')}@example.test`;
      const password = `Mass assign ${randomBytes(4).toString('hex')}`;
      const res = await call(platform.url, 'POST', '/auth/signup', { body: { email, password, name: 'Eve', ...extra } });
      expectRefusedNaming(res, field, `sign-up with ${field}`);
      expectProblem(await call(platform.url, 'POST', '/auth/signin', { body: { email, password } }), 401);
      expectProblem(await call(platform.url, 'POST', '/auth/staff/signin', { body: { email, password } }), 401);
    }
  });

  it('when staff create or change a product with ids, timestamps or unknown fields, then refused naming the field', async () => {
    const product = { sku: `MA-${randomBytes(3).toString('hex').toUpperCase()}`, name: 'Mass assignment', category: 'security', price: { amount: 500, currency: 'EUR' } };
    for (const field of ['createdAt', 'updatedAt', 'stock']) {
      const res = await call(platform.url, 'POST', '/products', { headers: { ...w.admin.headers, ...idempotent() }, body: { ...product, [field]: 1 } });
      expectRefusedNaming(res, field, `POST /products with ${field}`);
    }
    for (const field of ['id', 'sku', 'createdAt']) {
      const res = await call(platform.url, 'PATCH', `/products/${w.productId}`, { headers: w.admin.headers, body: { name: 'Changed', [field]: 'X-1' } });
      expectRefusedNaming(res, field, `PATCH /products with ${field}`);
    }
  });

  it('when staff change only a product’s price, then its other fields stay as they were (a partial update sets no defaults)', async () => {
    const id = w.productId;
    const deactivate = await call(platform.url, 'PATCH', `/products/${id}`, { headers: w.admin.headers, body: { active: false, imageUrl: 'https://img.example/p.png' } });
    expect(deactivate.status, show(deactivate)).toBe(200);
    const before = (await call(platform.url, 'GET', `/products/${id}`)).json!;
    const res = await call(platform.url, 'PATCH', `/products/${id}`, { headers: w.admin.headers, body: { price: { amount: 4321, currency: 'EUR' } } });
    expect(res.status, show(res)).toBe(200);
    const after = (await call(platform.url, 'GET', `/products/${id}`)).json!;
    expect({ description: after.description, imageUrl: after.imageUrl, active: after.active }).toEqual({ description: before.description, imageUrl: before.imageUrl, active: before.active });
    const empty = await call(platform.url, 'PATCH', `/products/${id}`, { headers: w.admin.headers, body: {} });
    expectProblem(empty, 400);
    const restore = await call(platform.url, 'PATCH', `/products/${id}`, { headers: w.admin.headers, body: { active: true } });
    expect(restore.status, show(restore)).toBe(200);
  });

  it('when stock, shipments or payments are changed with fields the platform owns, then refused naming the field', async () => {
    const attempts: Array<[string, string, unknown]> = [
      ['reserved', `/inventory/${w.productId}/update`, { adjust: 1, reason: 'x', reserved: 0 }],
      ['available', `/inventory/${w.productId}/update`, { set: 5, reason: 'x', available: 1000 }],
      ['status', `/shipments/${w.shipmentId}/status`, { status: 'cancelled' }],
      ['carrier', `/shipments/${w.shipmentId}/status`, { status: 'in_transit', carrier: 'evil-post' }],
      ['capturedAmount', `/api/payments/${w.paymentId}/refund`, { reason: 'x', capturedAmount: 1 }],
      ['amount', `/api/payments/${w.paymentId}/refund`, { reason: 'x', amount: -5 }],
    ];
    for (const [field, path, body] of attempts) {
      const res = await call(platform.url, 'POST', path, { headers: { ...w.admin.headers, ...idempotent() }, body });
      expectRefusedNaming(res, field, `POST ${path} with ${field}`);
    }
    const payment = await call(platform.url, 'GET', `/api/payments/${w.paymentId}`, { headers: w.owner.headers });
    expect(payment.json?.refundedAmount, show(payment)).toBe(0);
  });
});
