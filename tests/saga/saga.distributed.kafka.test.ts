import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropServiceDatabases, startDistributed, type DistributedPlatform } from '@emporium/launcher/distributed';
import { signInStaff, signUpCustomer, TEST_ADMIN, type Session } from '../support/auth';
import { compensated, expectUndoneOnceInReverse, getOrder, orderIn, until, type Call } from './checks';

/**
 * Crashes in distributed mode: orders is killed (kill -9) while an order waits at each step of the
 * saga, and while it compensates, then started again; every saga in flight resumes and finishes.
 * The capture step has a short timeout here, so that one also shows a timeout across a crash.
 */
const PREFIX = 'emporium_saga';

describe('distributed: the checkout saga survives orders crashing at every step', () => {
  let platform: DistributedPlatform;
  let product: string;
  let staff: Session;
  let shopper: Session;
  /** Shoppers place, pay for and cancel their orders; staff stock the shop and look at everything. */
  const call: Call = async (method, path, body) => {
    const as = method === 'POST' && path.startsWith('/api/orders') ? shopper : staff;
    const res = await fetch(`${platform.url}${path}`, {
      method,
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...as.headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  };
  const place = async (token: string) => {
    const body = { items: [{ product_id: product, quantity: 1 }], payment_method: 'credit_card', payment_token: token };
    const placed = await until(async () => {
      const res = await call('POST', '/api/orders', body);
      return res.status === 201 ? res.body : undefined;
    }, 'orders to accept the order');
    return placed.id as string;
  };
  const crashOrders = async () => {
    platform.kill('orders');
    await platform.restart('orders');
  };

  beforeAll(async () => {
    await dropServiceDatabases(PREFIX);
    platform = await startDistributed({
      gatewayPort: 3600,
      servicePortBase: 3600,
      databasePrefix: PREFIX,
      logLevel: 'info',
      logDir: join(process.cwd(), '.data', 'saga-logs'),
      admin: TEST_ADMIN,
      env: {
        orders: { STOCK_TIMEOUT_MS: '300000', PAYMENT_TIMEOUT_MS: '300000', SHIPPING_TIMEOUT_MS: '300000', CAPTURE_TIMEOUT_MS: '4000', STEP_TIMEOUT_CHECK_MS: '200' },
      },
    });
    staff = await signInStaff(platform.url);
    shopper = await signUpCustomer(platform.url);
    product = `saga-${randomBytes(4).toString('hex')}`;
    expect((await call('POST', '/products', { id: product, sku: `SAGA-${product.slice(5).toUpperCase()}`, name: 'Crash test lamp', category: 'saga', price: { amount: 2000, currency: 'EUR' } })).status).toBe(201);
    await until(async () => (await call('POST', `/inventory/${product}/update`, { set: 50, reason: 'saga crash test' })).status === 200, 'inventory to know the product');
  }, 240_000);
  afterAll(async () => {
    await platform?.stop();
  }, 60_000);

  it('when orders crashes while inventory has not answered, then the order completes once inventory is back', async () => {
    platform.kill('inventory');
    const id = await place('tok_success');
    await orderIn(call, id, 'placed');
    await crashOrders();
    await platform.restart('inventory');
    const order = await orderIn(call, id, 'completed', 90_000);
    expect(order.history.map((h: { status: string }) => h.status)).toEqual(['placed', 'payment_pending', 'confirmed', 'fulfilling', 'completed']);
  }, 240_000);

  it('when orders crashes while waiting for payments, then the order completes once payments is back', async () => {
    platform.kill('payments');
    const id = await place('tok_success');
    await orderIn(call, id, 'payment_pending', 60_000);
    await crashOrders();
    await platform.restart('payments');
    await orderIn(call, id, 'completed', 90_000);
  }, 240_000);

  it('when orders crashes while waiting for shipping, then the order completes once shipping is back', async () => {
    platform.kill('shipping');
    const id = await place('tok_success');
    await orderIn(call, id, 'confirmed', 60_000);
    await crashOrders();
    await platform.restart('shipping');
    const order = await orderIn(call, id, 'completed', 90_000);
    expect(order.compensations).toEqual([]);
  }, 240_000);

  it('when orders crashes while waiting for the capture and again while compensating, then the capture times out and shipment, payment and stock are undone once each, in reverse order', async () => {
    platform.kill('shipping');
    const id = await place('tok_success');
    await orderIn(call, id, 'confirmed', 60_000);
    platform.kill('payments');
    await platform.restart('shipping');
    await until(async () => ['fulfilling', 'cancelled'].includes((await getOrder(call, id)).status), 'the shipment to be created', 60_000);
    await crashOrders();
    const cancelled = await orderIn(call, id, 'cancelled', 60_000);
    expect(cancelled.statusReason).toBe('We could not complete your payment in time; the shipment was cancelled, anything charged is refunded and your items were released.');
    // The shipment is cancelled; the payment's undo waits for payments, and the stock's for that.
    await until(async () => (await getOrder(call, id)).compensations.map((c: { status: string }) => c.status).join() === 'confirmed,requested,planned', 'the payment undo to be requested', 60_000);
    await crashOrders();
    await platform.restart('payments');
    const order = await compensated(call, id, ['shipment', 'payment', 'stock'], 90_000);
    expect(order.compensations.map((c: { action: string }) => c.action)).toEqual(['cancel_shipment', 'refund_payment', 'release_stock']);
    await expectUndoneOnceInReverse(call, order, ['shipment', 'payment', 'stock'], product);
  }, 300_000);

  it('when the capture is refused, then over Kafka too the shipment, payment and stock are undone once each, in reverse order', async () => {
    const id = await place('tok_capture_fails');
    const order = await compensated(call, id, ['shipment', 'payment', 'stock'], 60_000);
    expect(order.statusReason).toMatch(/^The payment could not be completed/);
    await expectUndoneOnceInReverse(call, order, ['shipment', 'payment', 'stock'], product);
    // Every order of this file ended: what completed is sold, the rest went back on the shelf.
    await until(async () => (await call('GET', `/inventory/${product}`)).body.reserved === 0, 'no stock left reserved', 60_000);
    expect((await call('GET', `/inventory/${product}`)).body).toMatchObject({ onHand: 47, available: 47 });
  }, 120_000);
});
