import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, emittedEvents, type TestPlatform } from '@emporium/platform/testing';
import type { Db, Service } from '@emporium/platform';
import { createOrdersService } from '../src/service';
import { orderEvents } from './events';

/**
 * The saga decides an order's events after the first on this instance's copy of the order, not on a
 * read of its row (ADR 0012, session 19 amendment). These tests change the row behind the copy's back,
 * through a second instance, as another orders process would.
 */
describe('orders deciding on its copy of an order in flight', () => {
  let platform: TestPlatform;
  let orders: Service;
  let other: Service;
  let db: Db;
  const productId = 'p-copies';

  const options = { cartUrl: 'http://127.0.0.1:9', cart: async () => ({ lines: [], discount: null }), expiryIntervalMs: 60_000 };
  const { publish, handled } = orderEvents(() => platform);
  const emitted = async (orderId: string) => (await db.query<{ type: string }>(`SELECT type FROM ${emittedEvents('orders')} WHERE key = $1 ORDER BY seq`, [orderId])).rows.map((r) => r.type);
  const row = async (orderId: string) => (await db.query<{ status: string; version: number }>('SELECT status, version FROM orders WHERE id = $1', [orderId])).rows[0]!;

  const placeReserved = async (): Promise<string> => {
    const placed = await orders.app.inject({
      method: 'POST',
      url: '/api/orders',
      payload: { customer_id: 'copies', items: [{ product_id: productId, quantity: 1 }], payment_method: 'credit_card', payment_token: 'tok_success' },
    });
    expect(placed.statusCode).toBe(201);
    const orderId = placed.json().id as string;
    await handled(await publish('inventory-events', 'stock_reserved', orderId, { orderId, items: [{ productId, quantity: 1 }], expiresAt: new Date(Date.now() + 60_000).toISOString() }));
    expect(await row(orderId)).toEqual({ status: 'payment_pending', version: 1 });
    return orderId;
  };

  beforeAll(async () => {
    platform = await createTestPlatform();
    orders = await createOrdersService(platform.deps('orders'), options);
    await orders.start();
    // Answers HTTP only: it never consumes (not started), like an instance whose partitions are elsewhere.
    other = await createOrdersService(platform.deps('orders'), options);
    db = platform.deps('orders').db;
    const product = { productId, sku: 'COPIES-1', name: 'Copy lamp', description: '', category: 'test', imageUrl: null, price: { amount: 2500, currency: 'EUR' as const }, active: true };
    await handled(await publish('catalog-events', 'product_created', productId, product));
  });
  afterAll(async () => {
    await other?.app.close();
    await orders?.stop();
    await platform?.close();
  });

  it('when nothing else touched the order, then its next events are decided on the copy and each raises its version', async () => {
    const orderId = await placeReserved();
    await handled(await publish('payment-events', 'payment_authorized', orderId, { orderId, paymentId: 'pay-copies-1', amount: 2500, currency: 'EUR', provider: 'test' }));
    expect(await row(orderId)).toEqual({ status: 'confirmed', version: 2 });
    await handled(await publish('shipment-events', 'shipment_created', orderId, { orderId, shipmentId: 'shp-copies-1', carrier: 'sandbox-post', trackingNumber: 'SP1' }));
    expect(await row(orderId)).toEqual({ status: 'fulfilling', version: 3 });
    expect(await emitted(orderId)).toEqual(['order_placed', 'order_payment_requested', 'order_confirmed', 'order_capture_requested']);
  });

  it('when another instance cancelled the order after the copy was kept, then the authorization is decided on the row: voided, never confirmed', async () => {
    const orderId = await placeReserved();
    const cancelled = await other.app.inject({ method: 'POST', url: `/api/orders/${orderId}/cancel`, payload: { reason: 'changed my mind' } });
    expect(cancelled.statusCode).toBe(200);
    expect(await row(orderId)).toMatchObject({ status: 'cancelled', version: 2 });
    // The copy still says payment_pending: deciding on it would confirm a cancelled order.
    await handled(await publish('payment-events', 'payment_authorized', orderId, { orderId, paymentId: 'pay-copies-2', amount: 2500, currency: 'EUR', provider: 'test' }));
    expect(await row(orderId)).toMatchObject({ status: 'cancelled', version: 3 });
    const types = await emitted(orderId);
    expect(types).not.toContain('order_confirmed');
    expect(types).toContain('order_payment_release_requested');
  });

  it('when another instance moved the order on and the copy would decide nothing, then the event is decided on the row', async () => {
    const orderId = await placeReserved();
    // Another orders process handled the authorization and the shipment (its partitions moved there
    // and back): the row is fulfilling, the copy here still says payment_pending.
    await db.query("UPDATE orders SET status = 'fulfilling', payment_id = 'pay-copies-3', shipment_id = 'shp-copies-3', version = version + 2 WHERE id = $1", [orderId]);
    // On the copy a capture means nothing; on the row it completes the order.
    await handled(await publish('payment-events', 'payment_captured', orderId, { orderId, paymentId: 'pay-copies-3', amount: 2500, currency: 'EUR' }));
    expect(await row(orderId)).toEqual({ status: 'completed', version: 4 });
    expect(await emitted(orderId)).toContain('order_completed');
  });
});
