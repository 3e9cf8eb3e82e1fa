import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EmbeddedPlatform } from '@emporium/launcher/embedded';
import type { Session } from '../support/auth';
import { call, expectProblem, show, startSecurityPlatform, type Answer } from './support/platform';
import { createWorld, idempotent, orderOf, OWNER_ADDRESS, type World } from './support/world';

/**
 * ADR 0009: a shopper reaches only their own cart, orders, payments and shipments. Another
 * customer and a guest get 404 (or 403) problem documents that tell nothing of the owner's data,
 * and their writes change nothing; the owner gets 200.
 */
describe('shoppers reach only what is theirs', () => {
  let platform: EmbeddedPlatform;
  let w: World;

  beforeAll(async () => {
    platform = await startSecurityPlatform();
    w = await createWorld(platform.url);
  }, 120_000);
  afterAll(() => platform?.stop(), 60_000);

  /** What of the owner must not show in an answer to someone else (unless the caller put it in the request). */
  const secrets = () => [
    w.owner.id,
    (w.owner as Session & { email?: string }).email ?? '',
    OWNER_ADDRESS.line1,
    w.shippedOrder.id,
    w.openOrder.id,
    w.paymentId,
    w.shipmentId,
    `"total":${w.shippedOrder.total}`,
    `"amount":${w.shippedOrder.total}`,
    `"quantity":7`,
    `"quantity":3`,
  ].filter(Boolean);

  function expectNothingLeaked(res: Answer, request: string): void {
    expectProblem(res, [403, 404]);
    for (const secret of secrets()) {
      if (request.includes(secret)) continue;
      expect(res.text, `${request} leaked ${secret}: ${show(res)}`).not.toContain(secret);
    }
  }

  /** Every read of the owner's things, as [method, path]. */
  const reads = () => [
    ['GET', `/cart/${w.owner.id}`],
    ['GET', `/api/orders/${w.shippedOrder.id}`],
    ['GET', `/api/orders/${w.openOrder.id}`],
    ['GET', `/api/orders?customerId=${w.owner.id}`],
    ['GET', `/api/payments/${w.paymentId}`],
    ['GET', `/api/payments?orderId=${w.shippedOrder.id}`],
    ['GET', `/shipments/${w.shipmentId}`],
    ['GET', `/shipments?orderId=${w.shippedOrder.id}`],
  ] as const;

  it('when the owner reads their cart, orders, payment and shipment, then each answers 200', async () => {
    for (const [method, path] of [...reads(), ['GET', '/api/orders']] as const) {
      const res = await call(platform.url, method, path, { headers: w.owner.headers });
      expect(res.status, `${method} ${path}: ${show(res)}`).toBe(200);
    }
    const events = await fetch(`${platform.url}/api/orders/${w.shippedOrder.id}/events`, { headers: w.owner.headers });
    expect(events.status).toBe(200);
    await events.body?.cancel();
  });

  for (const who of ['another customer', 'a guest'] as const) {
    const intruder = () => (who === 'a guest' ? w.guestShopper : w.other);

    it(`when ${who} reads the owner's cart, orders, payment or shipment, then 404/403 problems that reveal none of it`, async () => {
      for (const [method, path] of reads()) {
        const res = await call(platform.url, method, path, { headers: intruder().headers });
        expectNothingLeaked(res, `${method} ${path}`);
      }
      const events = await call(platform.url, 'GET', `/api/orders/${w.shippedOrder.id}/events`, { headers: intruder().headers });
      expectNothingLeaked(events, `GET /api/orders/${w.shippedOrder.id}/events`);
    });

    it(`when ${who} lists orders, then only their own come back`, async () => {
      const res = await call(platform.url, 'GET', '/api/orders', { headers: intruder().headers });
      expect(res.status, show(res)).toBe(200);
      for (const secret of secrets()) expect(res.text, `leaked ${secret}`).not.toContain(secret);
    });

    it(`when ${who} changes the owner's cart in every way, then each is refused and the cart is unchanged`, async () => {
      const before = await call(platform.url, 'GET', `/cart/${w.owner.id}`, { headers: w.owner.headers });
      const writes: Array<[string, string, unknown]> = [
        ['POST', `/cart/${w.owner.id}/add`, { productId: w.productId, quantity: 5 }],
        ['PUT', `/cart/${w.owner.id}/lines/${w.productId}`, { quantity: 1 }],
        ['DELETE', `/cart/${w.owner.id}/remove`, { productId: w.productId }],
        ['POST', `/cart/${w.owner.id}/discount`, { code: 'WELCOME10' }],
        ['DELETE', `/cart/${w.owner.id}/discount`, undefined],
        ['DELETE', `/cart/${w.owner.id}`, undefined],
      ];
      for (const [method, path, body] of writes) {
        const res = await call(platform.url, method, path, { headers: { ...intruder().headers, ...idempotent() }, body });
        expectNothingLeaked(res, `${method} ${path}`);
      }
      const after = await call(platform.url, 'GET', `/cart/${w.owner.id}`, { headers: w.owner.headers });
      expect(after.json?.lines, 'the cart changed').toEqual(before.json?.lines);
      expect((after.json?.lines as Array<{ quantity: number }>)[0]?.quantity).toBe(7);
      expect(after.json?.discount).toEqual(before.json?.discount);
    });

    it(`when ${who} pays for or cancels the owner's order, then 404/403 and the order is untouched`, async () => {
      const before = await orderOf(platform.url, w.owner, w.openOrder.id);
      const pay = await call(platform.url, 'POST', `/api/orders/${w.openOrder.id}/payment`, { headers: { ...intruder().headers, ...idempotent() }, body: { payment_token: 'tok_success' } });
      expectNothingLeaked(pay, `POST /api/orders/${w.openOrder.id}/payment`);
      const cancel = await call(platform.url, 'POST', `/api/orders/${w.openOrder.id}/cancel`, { headers: { ...intruder().headers, ...idempotent() }, body: { reason: 'not mine' } });
      expectNothingLeaked(cancel, `POST /api/orders/${w.openOrder.id}/cancel`);
      const shippedCancel = await call(platform.url, 'POST', `/api/orders/${w.shippedOrder.id}/cancel`, { headers: { ...intruder().headers, ...idempotent() }, body: {} });
      expectNothingLeaked(shippedCancel, `POST /api/orders/${w.shippedOrder.id}/cancel`);
      await new Promise((r) => setTimeout(r, 300)); // a payment or cancel would have moved the saga by now
      const after = await orderOf(platform.url, w.owner, w.openOrder.id);
      expect(after.status).toBe(before.status);
      expect(after.paymentId).toBe(before.paymentId);
      expect((after as unknown as { history: unknown[] }).history).toEqual((before as unknown as { history: unknown[] }).history);
    });

    it(`when ${who} claims to be the owner in x-principal-* headers, then the gateway ignores them`, async () => {
      const spoof = { ...intruder().headers, 'x-principal-type': 'customer', 'x-principal-id': w.owner.id, 'x-principal-roles': 'admin' };
      for (const path of [`/api/orders/${w.shippedOrder.id}`, `/cart/${w.owner.id}`, `/api/payments/${w.paymentId}`]) {
        const res = await call(platform.url, 'GET', path, { headers: spoof });
        expectNothingLeaked(res, `GET ${path}`);
      }
      const anonymous = await call(platform.url, 'GET', `/api/orders/${w.shippedOrder.id}`, { headers: { 'x-principal-type': 'staff', 'x-principal-id': 'stf_x', 'x-principal-roles': 'admin' } });
      expectProblem(anonymous, 401);
    });
  }

  it('when nobody is signed in, then every owned resource answers 401', async () => {
    for (const [method, path] of reads()) expectProblem(await call(platform.url, method, path), 401);
  });

  it('when another customer places an order in the owner’s name, then 403 naming customer_id and no order is made for the owner', async () => {
    const listBefore = await call(platform.url, 'GET', '/api/orders', { headers: w.owner.headers });
    const res = await call(platform.url, 'POST', '/api/orders', {
      headers: { ...w.other.headers, ...idempotent() },
      body: { customer_id: w.owner.id, items: [{ product_id: w.productId, quantity: 1 }], payment_method: 'credit_card' },
    });
    expectProblem(res, 403);
    expect(res.text).toContain('customer_id');
    const listAfter = await call(platform.url, 'GET', '/api/orders', { headers: w.owner.headers });
    expect((listAfter.json?.items as unknown[]).length).toBe((listBefore.json?.items as unknown[]).length);
  });
});
