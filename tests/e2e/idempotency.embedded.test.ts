import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbedded, type EmbeddedPlatform } from '@emporium/launcher/embedded';
import { signInStaff, signUpCustomer, TEST_ADMIN, type Session } from '../support/auth';

/** Idempotency-Key through the gateway, with every service in one process (embedded mode). */
describe('Idempotency-Key end to end (embedded)', () => {
  let platform: EmbeddedPlatform;
  const run = randomBytes(3).toString('hex');
  const product = `idem-${run}`;

  let staff: Session;
  let shopper: Session;
  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}, as: Session = shopper) => {
    const res = await fetch(`${platform.url}${path}`, {
      method,
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...as.headers, ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
  };
  const until = async <T>(probe: () => Promise<T | undefined>, what: string, ms = 30_000): Promise<T> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const value = await probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  beforeAll(async () => {
    platform = await startEmbedded({ port: 0, logLevel: process.env.TEST_LOG_LEVEL ?? 'silent', admin: TEST_ADMIN });
    staff = await signInStaff(platform.url);
    shopper = await signUpCustomer(platform.url);
    const created = await call('POST', '/products', { id: product, sku: `IDEM-${run.toUpperCase()}`, name: `Idempotent ${run}`, category: 'e2e', price: { amount: 1500, currency: 'EUR' } }, {}, staff);
    expect(created.status).toBe(201);
    await until(async () => ((await call('POST', `/inventory/${product}/update`, { set: 50, reason: 'e2e stock' }, {}, staff)).status === 200 ? true : undefined), 'inventory to know the product');
  }, 180_000);
  afterAll(async () => {
    await platform?.stop();
  }, 60_000);

  it('when 20 identical orders with one key arrive at once, then exactly one order exists and every answer is that 201 or 409', async () => {
    const body = { items: [{ product_id: product, quantity: 2 }], payment_method: 'credit_card' };
    const responses = await Promise.all(Array.from({ length: 20 }, () => call('POST', '/api/orders', body, { 'idempotency-key': `race-${run}` })));
    const created = responses.filter((r) => r.status === 201);
    expect(created.length).toBeGreaterThanOrEqual(1);
    expect(new Set(created.map((r) => r.body.id)).size).toBe(1);
    for (const res of responses.filter((r) => r.status !== 201)) {
      expect(res.status).toBe(409);
      expect(res.body.code).toBe('IDEMPOTENCY.IN_PROGRESS');
      expect(res.headers.get('retry-after')).toBe('1');
    }
    const retry = await call('POST', '/api/orders', body, { 'idempotency-key': `race-${run}` });
    expect(retry.status).toBe(201);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(retry.body.id).toBe(created[0]!.body.id);
    expect((await call('GET', '/api/orders')).body.items).toHaveLength(1);
    // One order, so one reservation: 2 of the 50 units.
    await until(async () => ((await call('GET', `/inventory/${product}`)).body.reserved === 2 ? true : undefined), 'the single reservation');
    expect((await call('GET', `/inventory/${product}`)).body.available).toBe(48);

    // Keys belong to their shopper: another one sending the same key and body gets an order of their own.
    const other = await signUpCustomer(platform.url);
    const theirs = await call('POST', '/api/orders', body, { 'idempotency-key': `race-${run}` }, other);
    expect(theirs.status).toBe(201);
    expect(theirs.headers.get('idempotent-replayed')).toBeNull();
    expect(theirs.body).toMatchObject({ customerId: other.id });
    expect(theirs.body.id).not.toBe(created[0]!.body.id);
  });

  it('when a refund is sent again with its key, concurrently or later, then the money is refunded once and the answer replayed', async () => {
    const placed = await call('POST', '/api/orders', { items: [{ product_id: product, quantity: 1 }], payment_method: 'credit_card', payment_token: 'tok_success' });
    expect(placed.status).toBe(201);
    const payment = await until(async () => {
      const res = await call('GET', `/api/payments?orderId=${placed.body.id}`);
      return res.status === 200 && res.body.status === 'captured' ? res.body : undefined;
    }, 'the payment to be captured');
    const refund = () => call('POST', `/api/payments/${payment.id}/refund`, { amount: 500, reason: 'damaged box' }, { 'idempotency-key': `refund-${run}` }, staff);
    const burst = await Promise.all([refund(), refund(), refund(), refund(), refund()]);
    expect(burst.every((r) => r.status === 200 || r.status === 409)).toBe(true);
    const later = await refund();
    expect(later.status).toBe(200);
    expect(later.headers.get('idempotent-replayed')).toBe('true');
    expect(later.body.refundedAmount).toBe(500);
    const after = await call('GET', `/api/payments/${payment.id}`);
    expect(after.body.refundedAmount).toBe(500);
    expect(after.body.transactions.filter((t: { kind: string }) => t.kind === 'refund')).toHaveLength(1);
    const reused = await call('POST', `/api/payments/${payment.id}/refund`, { amount: 700, reason: 'damaged box' }, { 'idempotency-key': `refund-${run}` }, staff);
    expect(reused.status).toBe(422);
    expect(reused.body).toMatchObject({ code: 'IDEMPOTENCY.KEY_REUSED', errors: [{ field: 'idempotency-key' }] });
  });

  it('when a key is not printable ASCII or is longer than 255 characters, then the gateway answers 400 naming idempotency-key', async () => {
    const res = await call('POST', '/discounts', { code: `BAD${run.toUpperCase()}`, kind: 'percentage', value: 5 }, { 'idempotency-key': 'k'.repeat(256) }, staff);
    expect(res.status).toBe(400);
    expect(res.body.errors).toContainEqual(expect.objectContaining({ field: 'idempotency-key' }));
  });
});
