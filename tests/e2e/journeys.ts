import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { signInStaff, signUpCustomer, type Session } from '../support/auth';

/**
 * The seed's checkout, end to end through the gateway, in whichever mode `start` runs the
 * platform (with `TEST_ADMIN` as its first admin). Only public HTTP is used: these are the
 * journeys a store's clients make — staff stocking the shop, shoppers signed in.
 */
export interface RunningPlatform {
  url: string;
  /** The sandbox card processor (Stripe API): cards are tokenized there, never sent to our services. */
  cardProcessor: { url: string; publishableKey: string };
  stop(): Promise<void>;
}

interface Order {
  id: string;
  status: string;
  statusReason: string | null;
  terminal: boolean;
  total: number;
  discount: number;
  history: Array<{ status: string; reason: string | null; at: string }>;
  next: { action: string; href?: string };
}

export const latencies: number[] = [];

export function describeCheckoutJourneys(mode: string, start: () => Promise<RunningPlatform>, options: { terminalTimeoutMs?: number } = {}): void {
  const timeout = options.terminalTimeoutMs ?? 20_000;
  let platform: RunningPlatform;
  const run = randomBytes(3).toString('hex');
  const ids = { plenty: `e2e-${run}-a`, scarce: `e2e-${run}-b` };

  let staff: Session;
  let shopper: Session;
  /** Calls the gateway as `as` (the shopper of the test by default). */
  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}, as: Session | null = shopper) => {
    const res = await fetch(`${platform.url}${path}`, {
      method,
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...as?.headers, ...headers },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, type: res.headers.get('content-type') ?? '', body: text ? JSON.parse(text) : null };
  };

  const until = async <T>(probe: () => Promise<T | undefined>, what: string, ms = timeout): Promise<T> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const value = await probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`${mode}: timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  const terminal = (id: string) =>
    until(async () => {
      const res = await call('GET', `/api/orders/${id}`);
      return res.body?.terminal ? (res.body as Order) : undefined;
    }, `order ${id} to reach a final status`);

  const available = async (productId: string) => (await call('GET', `/inventory/${productId}`)).body.available as number;

  const createProduct = async (id: string, price: number, stock: number) => {
    const created = await call('POST', '/products', {
      id,
      sku: `E2E-${id.toUpperCase().replace(/[^A-Z0-9]/g, '')}`.slice(0, 40),
      name: `Test product ${id}`,
      category: 'e2e',
      price: { amount: price, currency: 'EUR' },
    }, {}, staff);
    expect(created.status).toBe(201);
    await until(async () => ((await call('POST', `/inventory/${id}/update`, { set: stock, reason: 'e2e stock' }, {}, staff)).status === 200 ? true : undefined), `inventory to know ${id}`);
  };

  beforeAll(async () => {
    platform = await start();
    staff = await signInStaff(platform.url);
    await createProduct(ids.plenty, 2500, 100);
    await createProduct(ids.scarce, 999, 1);
  }, 180_000);
  afterAll(async () => {
    await platform?.stop();
  }, 60_000);

  describe(`checkout end to end (${mode})`, () => {
    beforeEach(async () => {
      shopper = await signUpCustomer(platform.url);
    });

    it('when a customer orders with the seed body and a good card, then the order completes, stock is sold, payment captured and a shipment exists', async () => {
      const before = await available(ids.plenty);
      const placedAt = Date.now();
      const placed = await call('POST', '/api/orders', { customer_id: shopper.id, items: [{ product_id: ids.plenty, quantity: 2 }], payment_method: 'credit_card', payment_token: 'tok_success' });
      expect(placed.status).toBe(201);
      expect(placed.body).toMatchObject({ status: 'placed', total: 5000, customerId: shopper.id, next: { action: 'wait' } });
      const order = await terminal(placed.body.id);
      latencies.push(Date.now() - placedAt);
      expect(order.status).toBe('completed');
      expect(order.history.map((h) => h.status)).toEqual(['placed', 'payment_pending', 'confirmed', 'fulfilling', 'completed']);
      expect(await available(ids.plenty)).toBe(before - 2);
      // Inventory turns the reservation into a sale when it hears order_completed.
      await until(async () => ((await call('GET', `/inventory/${ids.plenty}`)).body.reserved === 0 ? true : undefined), 'the reservation to become a sale');
      const payments = await call('GET', `/api/payments?orderId=${order.id}`);
      expect(JSON.stringify(payments.body)).toContain('captured');
      const shipment = await call('GET', `/shipments?orderId=${order.id}`);
      expect(shipment.status).toBe(200);
      expect(shipment.body.trackingNumber).toMatch(/^EP\d+NL$/);
    });

    it('when the seed body comes without a payment token, then the order waits for payment and completes once paid', async () => {
      const placed = await call('POST', '/api/orders', { items: [{ product_id: ids.plenty, quantity: 1 }], payment_method: 'credit_card' });
      expect(placed.status).toBe(201);
      expect(placed.body.next).toMatchObject({ action: 'pay', href: `/api/orders/${placed.body.id}/payment` });
      await until(async () => ((await call('GET', `/api/orders/${placed.body.id}`)).body.status === 'awaiting_payment' ? true : undefined), 'awaiting_payment');
      // As the storefront's card form does: straight to the processor's tokenization, with its publishable key.
      const tokenized = await fetch(`${platform.cardProcessor.url}/v1/tokens`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ key: platform.cardProcessor.publishableKey, 'card[number]': '4242424242424242', 'card[exp_month]': '12', 'card[exp_year]': String(new Date().getFullYear() + 2), 'card[cvc]': '123' }),
      });
      expect(tokenized.status).toBe(200);
      const token = (await tokenized.json()) as { id: string };
      const paid = await call('POST', `/api/orders/${placed.body.id}/payment`, { payment_token: token.id });
      expect(paid.status).toBe(202);
      expect((await terminal(placed.body.id)).status).toBe('completed');
    });

    it('when the card is declined, then the order ends payment_failed with the reason and the stock is released', async () => {
      const before = await available(ids.plenty);
      const placed = await call('POST', '/api/orders', { items: [{ product_id: ids.plenty, quantity: 3 }], payment_method: 'credit_card', payment_token: 'tok_declined' });
      const order = await terminal(placed.body.id);
      expect(order.status).toBe('payment_failed');
      expect(order.statusReason).toMatch(/declined/i);
      await until(async () => ((await available(ids.plenty)) === before ? true : undefined), 'stock to be released');
    });

    it('when there is not enough stock, then the order is rejected saying which product, and nothing is reserved', async () => {
      const placed = await call('POST', '/api/orders', {
        items: [{ product_id: ids.plenty, quantity: 1 }, { product_id: ids.scarce, quantity: 2 }],
        payment_method: 'credit_card',
        payment_token: 'tok_success',
      });
      const order = await terminal(placed.body.id);
      expect(order.status).toBe('rejected');
      expect(order.statusReason).toContain(`Test product ${ids.scarce} (requested 2, available 1)`);
      expect(await available(ids.scarce)).toBe(1);
      expect((await call('GET', `/inventory/${ids.plenty}`)).body.reserved).toBe(0);
    });

    it('when a shopper checks out the cart with a discount code, then the order carries the discount and the cart is emptied', async () => {
      const customer = shopper.id;
      expect((await call('POST', `/cart/${customer}/add`, { productId: ids.plenty, quantity: 4 })).status).toBe(200);
      await call('POST', '/discounts', { code: `E2E${run.toUpperCase()}`, kind: 'percentage', value: 10 }, {}, staff);
      const applied = await call('POST', `/cart/${customer}/discount`, { code: `E2E${run.toUpperCase()}` });
      expect(applied.status).toBe(200);
      expect(applied.body).toMatchObject({ subtotal: 10000, total: 9000 });
      const placed = await call('POST', '/api/orders', { from_cart: true, payment_method: 'credit_card', payment_token: 'tok_success' });
      expect(placed.status).toBe(201);
      expect(placed.body).toMatchObject({ customerId: customer, subtotal: 10000, discount: 1000, total: 9000 });
      expect((await terminal(placed.body.id)).status).toBe('completed');
      await until(async () => ((await call('GET', `/cart/${customer}`)).body.lines.length === 0 ? true : undefined), 'the cart to be emptied');
      // The cart shows what inventory has available once the reservation became a sale (which the cart is
      // not sent: it moves on hand and reserved alike).
      await until(async () => ((await call('GET', `/inventory/${ids.plenty}`)).body.reserved === 0 ? true : undefined), 'the reservation to become a sale');
      const left = await available(ids.plenty);
      expect((await call('POST', `/cart/${customer}/add`, { productId: ids.plenty, quantity: 1 })).status).toBe(200);
      await until(async () => ((await call('GET', `/cart/${customer}`)).body.lines[0]?.availability.available === left ? true : undefined), `the cart to show ${left} available`);
    });

    it('when the input is bad, then each answer is a 4xx problem naming the field and no order is created', async () => {
      const customer = shopper.id;
      const cases: Array<[unknown, number, string]> = [
        ['{"customer_id": 1, "items": [', 400, 'body'],
        [{ customer_id: customer, items: [{ product_id: ids.plenty, quantity: 0 }], payment_method: 'credit_card' }, 400, 'items.0.quantity'],
        [{ customer_id: customer, items: [{ product_id: ids.plenty, quantity: 1e9 }], payment_method: 'credit_card' }, 400, 'items.0.quantity'],
        [{ customer_id: customer, items: [{ product_id: ids.plenty, quantity: '2' }], payment_method: 'credit_card' }, 400, 'items.0.quantity'],
        [{ customer_id: customer, items: [], payment_method: 'credit_card' }, 400, 'items'],
        [{ customer_id: customer, items: [{ product_id: 'no-such-product', quantity: 1 }], payment_method: 'credit_card' }, 422, 'items.0.product_id'],
        [{ customer_id: customer, items: [{ product_id: ids.plenty, quantity: 1 }] }, 400, 'payment_method'],
        [{ customer_id: customer, items: [{ product_id: ids.plenty, quantity: 1 }], payment_method: 'credit_card', total: 1 }, 400, 'total'],
        [{ customer_id: 'cus_somebody_else', items: [{ product_id: ids.plenty, quantity: 1 }], payment_method: 'credit_card' }, 403, 'customer_id'],
      ];
      for (const [body, status, field] of cases) {
        const res = await call('POST', '/api/orders', body);
        expect(res.status, JSON.stringify(body)).toBe(status);
        expect(res.type).toContain('application/problem+json');
        expect(res.body.errors.map((e: { field: string }) => e.field), JSON.stringify(body)).toContain(field);
      }
      expect((await call('GET', '/api/orders')).body.items).toEqual([]);
    });

    it('when the same Idempotency-Key is sent twice, then one order is created and the first answer is replayed', async () => {
      const key = `e2e-${run}-key`;
      const body = { items: [{ product_id: ids.plenty, quantity: 1 }], payment_method: 'credit_card', payment_token: 'tok_success' };
      const first = await call('POST', '/api/orders', body, { 'idempotency-key': key });
      const second = await call('POST', '/api/orders', body, { 'idempotency-key': key });
      expect(second.status).toBe(201);
      expect(second.body.id).toBe(first.body.id);
      const changed = await call('POST', '/api/orders', { ...body, items: [{ product_id: ids.plenty, quantity: 2 }] }, { 'idempotency-key': key });
      expect(changed.status).toBe(422);
      expect((await call('GET', '/api/orders')).body.items).toHaveLength(1);
    });
  });
}
