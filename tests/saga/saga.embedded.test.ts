import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compensated, expectUndoneOnceInReverse, getOrder, orderIn, until } from './checks';
import { startSagaPlatform, type SagaPlatform } from './embedded-harness';

const available = async (p: SagaPlatform, productId: string) => (await p.call('GET', `/inventory/${productId}`)).body.available as number;

describe('the checkout saga when a step fails with an error', () => {
  let p: SagaPlatform;
  beforeAll(async () => {
    p = await startSagaPlatform();
  }, 60_000);
  afterAll(() => p?.close(), 60_000);

  it('when stock is short, then the order is rejected and there is nothing to undo', async () => {
    const product = await p.product(1);
    const placed = await p.place(product, 2, 'tok_success');
    const order = await compensated(p.call, placed.id, []);
    expect(order).toMatchObject({ status: 'rejected', statusReason: expect.stringContaining('Not enough stock') });
    await expectUndoneOnceInReverse(p.call, order, [], product);
  });

  it('when the card is declined, then the order ends payment_failed and only the stock is released, once', async () => {
    const product = await p.product(10);
    const placed = await p.place(product, 3, 'tok_declined');
    const order = await compensated(p.call, placed.id, ['stock']);
    expect(order).toMatchObject({ status: 'payment_failed', statusReason: 'Your card was declined.' });
    await expectUndoneOnceInReverse(p.call, order, ['stock'], product);
    expect(await available(p, product)).toBe(10);
  });

  it('when the capture is refused after the shipment was created, then the shipment is cancelled, the payment voided and the stock released, in that order, once each', async () => {
    const product = await p.product(10);
    const placed = await p.place(product, 2, 'tok_capture_fails');
    const order = await compensated(p.call, placed.id, ['shipment', 'payment', 'stock']);
    expect(order.status).toBe('cancelled');
    expect(order.statusReason).toMatch(/^The payment could not be completed \(The card issuer declined the capture\.\); the shipment was cancelled, nothing was charged/);
    expect(order.compensations.map((c: { action: string }) => c.action)).toEqual(['cancel_shipment', 'void_payment', 'release_stock']);
    await expectUndoneOnceInReverse(p.call, order, ['shipment', 'payment', 'stock'], product);
    expect(await available(p, product)).toBe(10);
  });
});

describe('customer cancellation', () => {
  let p: SagaPlatform;
  beforeAll(async () => {
    p = await startSagaPlatform();
  }, 60_000);
  afterAll(() => p?.close(), 60_000);

  it('when the customer cancels an order waiting for payment, then its stock is released', async () => {
    const product = await p.product(5);
    const placed = await p.place(product, 2);
    await orderIn(p.call, placed.id, 'awaiting_payment');
    const cancelled = await p.call('POST', `/api/orders/${placed.id}/cancel`, { reason: 'changed my mind' });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ status: 'cancelled', statusReason: 'Cancelled at your request: changed my mind' });
    const order = await compensated(p.call, placed.id, ['stock']);
    await expectUndoneOnceInReverse(p.call, order, ['stock'], product);
    expect(await available(p, product)).toBe(5);
  });

  it('when the customer cancels a confirmed order before it ships, then the payment is voided and then the stock released', async () => {
    const product = await p.product(5);
    await p.down('shipping');
    const placed = await p.place(product, 1, 'tok_success');
    await orderIn(p.call, placed.id, 'confirmed');
    // No body at all: the reason is optional.
    expect((await p.call('POST', `/api/orders/${placed.id}/cancel`)).status).toBe(200);
    const order = await compensated(p.call, placed.id, ['payment', 'stock']);
    expect(order.compensations.map((c: { action: string }) => c.action)).toEqual(['void_payment', 'release_stock']);
    await expectUndoneOnceInReverse(p.call, order, ['payment', 'stock'], product);
    await p.up('shipping');
    // Shipping hears order_confirmed late and books the parcel; order_cancelled, which follows it, cancels it.
    const late = await compensated(p.call, placed.id, ['shipment', 'payment', 'stock']);
    expect((await p.call('GET', `/shipments?orderId=${placed.id}`)).body.status).toBe('cancelled');
    expect(late.status).toBe('cancelled');
  });

  it('when a shipment exists, then cancelling is refused with 409 and the order carries on to completion', async () => {
    const product = await p.product(5);
    await p.down('shipping');
    const placed = await p.place(product, 1, 'tok_success');
    await orderIn(p.call, placed.id, 'confirmed');
    await p.down('payments');
    await p.up('shipping');
    await orderIn(p.call, placed.id, 'fulfilling');
    const refused = await p.call('POST', `/api/orders/${placed.id}/cancel`, {});
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe('ORDERS.NOT_CANCELLABLE');
    await p.up('payments');
    const order = await orderIn(p.call, placed.id, 'completed');
    expect(order.compensations).toEqual([]);
  });
});

describe('the checkout saga when a service does not answer in time', () => {
  let p: SagaPlatform;
  beforeAll(async () => {
    p = await startSagaPlatform({ orders: { stepTimeouts: { placed: 1000, payment_pending: 1000, confirmed: 4000, fulfilling: 1000 } } });
  }, 60_000);
  afterAll(() => p?.close(), 60_000);

  it('when inventory does not answer, then the order is cancelled and, once inventory is back, the stock it reserved late is released once', async () => {
    const product = await p.product(10);
    await p.down('inventory');
    const placed = await p.place(product, 4, 'tok_success');
    const order = await orderIn(p.call, placed.id, 'cancelled');
    expect(order).toMatchObject({ statusReason: 'We could not reserve your items in time; nothing was charged and the order was cancelled.' });
    expect(order.compensations).toMatchObject([{ step: 'stock', status: 'requested' }]);
    await p.up('inventory');
    const done = await compensated(p.call, placed.id, ['stock']);
    await expectUndoneOnceInReverse(p.call, done, ['stock'], product);
    expect(await available(p, product)).toBe(10);
  });

  it('when payments does not answer, then the order is cancelled, its stock released, and the authorization that comes late is voided once', async () => {
    const product = await p.product(10);
    await p.down('payments');
    const placed = await p.place(product, 2, 'tok_success');
    const order = await compensated(p.call, placed.id, ['stock']);
    expect(order.statusReason).toBe('We could not confirm your payment in time; nothing was charged and your items were released.');
    expect(await available(p, product)).toBe(10);
    await p.up('payments');
    const late = await compensated(p.call, placed.id, ['payment', 'stock']);
    expect(late.compensations[0]).toMatchObject({ step: 'payment', action: 'void_payment' });
    const payment = (await p.call('GET', `/api/payments?orderId=${placed.id}`)).body;
    expect(payment.status).toBe('voided');
    expect(payment.transactions.filter((t: { kind: string }) => t.kind === 'void')).toHaveLength(1);
  });

  it('when shipping does not answer, then the payment is voided, then the stock released', async () => {
    const product = await p.product(10);
    await p.down('shipping');
    const placed = await p.place(product, 2, 'tok_success');
    const order = await compensated(p.call, placed.id, ['payment', 'stock']);
    expect(order.statusReason).toBe('We could not arrange shipping in time; your payment was released, nothing was charged and your items were released.');
    await expectUndoneOnceInReverse(p.call, order, ['payment', 'stock'], product);
    await p.up('shipping');
  });

  it('when payments does not capture, then the shipment is cancelled, the late capture refunded, then the stock released — in that order, once each', async () => {
    const product = await p.product(10);
    await p.down('shipping');
    const placed = await p.place(product, 2, 'tok_success');
    await orderIn(p.call, placed.id, 'confirmed');
    await p.down('payments');
    await p.up('shipping');
    const cancelled = await orderIn(p.call, placed.id, 'cancelled');
    expect(cancelled.statusReason).toBe('We could not complete your payment in time; the shipment was cancelled, anything charged is refunded and your items were released.');
    await until(async () => (await getOrder(p.call, placed.id)).compensations.find((c: { step: string; status: string }) => c.step === 'payment' && c.status === 'requested'), 'the payment release to be requested');
    expect((await getOrder(p.call, placed.id)).compensations.map((c: { status: string }) => c.status)).toEqual(['confirmed', 'requested', 'planned']);
    await p.up('payments');
    const order = await compensated(p.call, placed.id, ['shipment', 'payment', 'stock']);
    expect(order.compensations.map((c: { action: string }) => c.action)).toEqual(['cancel_shipment', 'refund_payment', 'release_stock']);
    await expectUndoneOnceInReverse(p.call, order, ['shipment', 'payment', 'stock'], product);
    expect(await available(p, product)).toBe(10);
  });
});

describe('authorization expiry', () => {
  let p: SagaPlatform;
  beforeAll(async () => {
    p = await startSagaPlatform({ payments: { authorizationLifetimeMs: 1000, authorizationExpiryIntervalMs: 100 } });
  }, 60_000);
  afterAll(() => p?.close(), 60_000);

  it('when an authorization expires before capture, then the order is cancelled and its stock released; nothing is voided twice', async () => {
    const product = await p.product(10);
    await p.down('shipping');
    const placed = await p.place(product, 3, 'tok_success');
    const order = await compensated(p.call, placed.id, ['payment', 'stock']);
    expect(order).toMatchObject({
      status: 'cancelled',
      statusReason: 'Your payment authorization expired before the order could be completed; nothing was charged and your items were released.',
    });
    expect(order.compensations.map((c: { action: string }) => c.action)).toEqual(['authorization_expired', 'release_stock']);
    await expectUndoneOnceInReverse(p.call, order, ['payment', 'stock'], product);
    const payment = (await p.call('GET', `/api/payments?orderId=${placed.id}`)).body;
    expect(payment).toMatchObject({ status: 'voided', declineCode: 'authorization_expired' });
    expect(await available(p, product)).toBe(10);
  });
});
