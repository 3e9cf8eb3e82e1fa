import { describe, expect, it } from 'vitest';
import { TRANSITIONS, isTerminal, priceOrder, mergeItems, type Order } from '../src/domain/order';
import {
  cancelByCustomer,
  onAuthorizationExpired,
  onCompensated,
  onPaymentAuthorized,
  onPaymentCaptured,
  onPaymentFailed,
  onShipmentCreated,
  onStockInsufficient,
  onStepTimedOut,
  onStockReserved,
  payOrder,
  type Reaction,
} from '../src/saga/checkout.saga';

const order = (overrides: Partial<Order> = {}): Order => ({
  id: 'ord_0000000000000001',
  customerId: '123',
  status: 'placed',
  statusReason: null,
  failureCode: null,
  currency: 'EUR',
  subtotal: 2000,
  discount: 0,
  discountCode: null,
  total: 2000,
  paymentMethod: 'credit_card',
  paymentToken: 'tok_success',
  paymentId: null,
  shippingAddress: null,
  shipmentId: null,
  carrier: null,
  trackingNumber: null,
  source: 'direct',
  stockReserved: false,
  reserveUntil: new Date(Date.now() + 60_000),
  stepDeadline: new Date(Date.now() + 60_000),
  compensations: [],
  cancellationEmitted: false,
  items: [{ productId: '456', name: 'Lamp', quantity: 2, unitPrice: 1000, lineTotal: 2000 }],
  createdAt: new Date(),
  updatedAt: new Date(),
  ...overrides,
});

describe('the order state machine', () => {
  it('when an order completes, is rejected, fails payment or is cancelled, then it is terminal', () => {
    expect(['completed', 'rejected', 'payment_failed', 'cancelled'].every((s) => isTerminal(s as Order['status']))).toBe(true);
    expect(isTerminal('confirmed')).toBe(false);
  });

  it('when any status is listed as a target, then it is a known status', () => {
    const statuses = Object.keys(TRANSITIONS);
    for (const targets of Object.values(TRANSITIONS)) for (const t of targets) expect(statuses).toContain(t);
  });

  it('when a discount exceeds the subtotal, then the total is zero, never negative', () => {
    expect(priceOrder([{ productId: 'a', name: 'A', quantity: 1, unitPrice: 500, lineTotal: 500 }], 900)).toEqual({ subtotal: 500, discount: 500, total: 0 });
  });

  it('when the same product appears twice, then it becomes one line', () => {
    expect(mergeItems([{ productId: 'a', quantity: 1 }, { productId: 'a', quantity: 2 }])).toEqual([{ productId: 'a', quantity: 3 }]);
  });
});

describe('the checkout saga', () => {
  it('when stock is reserved and a token was given, then payment is requested', () => {
    const r = onStockReserved(order());
    expect(r.to).toBe('payment_pending');
    expect(r.events.map((e) => e.type)).toEqual(['order_payment_requested']);
  });

  it('when stock is reserved without a token, then the order waits for payment', () => {
    const r = onStockReserved(order({ paymentToken: null }));
    expect(r.to).toBe('awaiting_payment');
    expect(r.events).toEqual([]);
    const paid = payOrder(order({ status: 'awaiting_payment', paymentToken: null, stockReserved: true }), 'tok_success');
    expect(paid.to).toBe('payment_pending');
  });

  it('when stock is short, then the order is rejected with the reason and nothing to release', () => {
    const r = onStockInsufficient(order(), { orderId: 'x', shortages: [{ productId: '456', requested: 2, available: 1 }] }, new Map([['456', 'Lamp']]));
    expect(r.to).toBe('rejected');
    expect(r.reason).toBe('Not enough stock: Lamp (requested 2, available 1).');
  });

  it('when payment fails, then the order ends payment_failed and its stock is released', () => {
    const r = onPaymentFailed(order({ status: 'payment_pending', stockReserved: true }), { orderId: 'x', paymentId: 'p', code: 'card_declined', reason: 'Your card was declined.' });
    expect(r.to).toBe('payment_failed');
    expect(r.events[0]).toMatchObject({ type: 'order_cancelled', data: { releaseStock: true, voidPaymentId: null, reason: 'Your card was declined.' } });
  });

  it('when the whole happy path runs, then confirmed → fulfilling → completed with capture and commit', () => {
    const a = onPaymentAuthorized(order({ status: 'payment_pending', stockReserved: true }), 'pay_1');
    expect(a).toMatchObject({ to: 'confirmed', patch: { paymentId: 'pay_1' } });
    const s = onShipmentCreated(order({ status: 'confirmed', paymentId: 'pay_1' }), { orderId: 'x', shipmentId: 's', carrier: 'sandbox-post', trackingNumber: 'EP1NL' });
    expect(s.to).toBe('fulfilling');
    expect(s.events[0]).toMatchObject({ type: 'order_capture_requested', data: { paymentId: 'pay_1', amount: 2000 } });
    const c = onPaymentCaptured(order({ status: 'fulfilling' }));
    expect(c.to).toBe('completed');
    expect(c.events[0]).toMatchObject({ type: 'order_completed', data: { items: [{ productId: '456', quantity: 2 }] } });
  });

  it('when a payment is authorized after the customer cancelled, then it is voided', () => {
    const r = onPaymentAuthorized(order({ status: 'cancelled', stockReserved: true, cancellationEmitted: true }), 'pay_late');
    expect(r.to).toBeUndefined();
    expect(r.events[0]).toMatchObject({ type: 'order_payment_release_requested', data: { paymentId: 'pay_late' } });
    expect(r.compensations).toMatchObject([{ step: 'payment', action: 'void_payment', confirmedAt: null }]);
  });

  it('when stock arrives for an order that already ended, then it is released again', () => {
    const r = onStockReserved(order({ status: 'cancelled', cancellationEmitted: true }));
    expect(r.events[0]).toMatchObject({ type: 'order_cancelled', data: { releaseStock: true } });
  });

  it('when a customer cancels a confirmed order, then the payment is voided first and the stock released after; once shipped, cancelling is refused', () => {
    const r = cancelByCustomer(order({ status: 'confirmed', stockReserved: true, paymentId: 'pay_1' }), undefined);
    expect(r.events.map((e) => e.type)).toEqual(['order_payment_release_requested']);
    expect(r.compensations?.map((c) => [c.step, c.requestedAt !== null])).toEqual([['payment', true], ['stock', false]]);
    expect(() => cancelByCustomer(order({ status: 'fulfilling' }), undefined)).toThrow(/can no longer be cancelled/);
  });

  it('when an unpaid order passes its deadline, then it is cancelled; before its deadline nothing happens', () => {
    const past = new Date(Date.now() - 1);
    expect(onStepTimedOut(order({ status: 'awaiting_payment', stockReserved: true, stepDeadline: past })).to).toBe('cancelled');
    expect(onStepTimedOut(order({ status: 'confirmed' })).to).toBeUndefined();
  });

  it('when each waiting step times out, then the order is cancelled with a reason for that step', () => {
    const past = new Date(Date.now() - 1);
    const reasons = (['placed', 'payment_pending', 'confirmed', 'fulfilling'] as const).map(
      (status) => onStepTimedOut(order({ status, stepDeadline: past, stockReserved: status !== 'placed', paymentId: status === 'confirmed' || status === 'fulfilling' ? 'pay_1' : null, shipmentId: status === 'fulfilling' ? 'shp_1' : null })),
    );
    expect(reasons.map((r) => r.to)).toEqual(['cancelled', 'cancelled', 'cancelled', 'cancelled']);
    expect(reasons[1]!.reason).toBe('We could not confirm your payment in time; nothing was charged and your items were released.');
    expect(new Set(reasons.map((r) => r.failureCode)).size).toBe(4);
  });

  it('when the same fact arrives again after the order moved on, then nothing happens', () => {
    expect(onStockReserved(order({ status: 'payment_pending' }))).toEqual({ events: [] });
    expect(onPaymentCaptured(order({ status: 'completed' }))).toEqual({ events: [] });
  });
});

describe('compensations of an ended order', () => {
  /** Applies a reaction the way the store does, so a test can chain facts. */
  const applied = (o: Order, r: Reaction): Order => ({ ...o, ...r.patch, ...(r.to ? { status: r.to, statusReason: r.reason ?? null, failureCode: r.failureCode ?? null } : {}), compensations: r.compensations ?? o.compensations });
  const shipped = order({ status: 'fulfilling', stockReserved: true, paymentId: 'pay_1', shipmentId: 'shp_1', stepDeadline: new Date(Date.now() - 1) });

  it('when a shipped order ends, then the shipment is cancelled, then the payment released, then the stock, each only after the one before is confirmed', () => {
    let o = applied(shipped, onStepTimedOut(shipped));
    expect(o.status).toBe('cancelled');
    const types: string[][] = [];
    let r = onStepTimedOut(shipped);
    types.push(r.events.map((e) => e.type));
    // The same confirmation twice, and a confirmation out of turn, request nothing new.
    r = onCompensated(o, 'shipment', 'cancel_shipment');
    types.push(r.events.map((e) => e.type));
    o = applied(o, r);
    types.push(onCompensated(o, 'shipment', 'cancel_shipment').events.map((e) => e.type));
    r = onCompensated(o, 'payment', 'refund_payment');
    types.push(r.events.map((e) => e.type));
    o = applied(o, r);
    r = onCompensated(o, 'stock', 'release_stock');
    types.push(r.events.map((e) => e.type));
    o = applied(o, r);
    expect(types).toEqual([['order_shipment_cancel_requested'], ['order_payment_release_requested'], [], ['order_cancelled'], []]);
    expect(o.compensations.map((c) => [c.step, c.action, c.confirmedAt !== null])).toEqual([
      ['shipment', 'cancel_shipment', true],
      ['payment', 'refund_payment', true],
      ['stock', 'release_stock', true],
    ]);
  });

  it('when an authorization expires on a confirmed order, then it is cancelled, the payment needs no void and the stock is released at once', () => {
    const r = onAuthorizationExpired(order({ status: 'confirmed', stockReserved: true, paymentId: 'pay_1' }), 'pay_1');
    expect(r).toMatchObject({ to: 'cancelled', failureCode: 'PAYMENT.AUTHORIZATION_EXPIRED' });
    expect(r.events.map((e) => e.type)).toEqual(['order_cancelled']);
    expect(r.compensations?.map((c) => [c.step, c.action, c.confirmedAt !== null])).toEqual([['payment', 'authorization_expired', true], ['stock', 'release_stock', false]]);
  });

  it('when a live order hears of an undo, then nothing is recorded', () => {
    expect(onCompensated(order({ status: 'confirmed' }), 'payment', 'void_payment')).toEqual({ events: [] });
  });
});
