import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeEnvelope, type EventData, type EventType } from '@emporium/contracts';
import { createTestPlatform, eventually, type TestPlatform } from '@emporium/platform/testing';
import type { Service } from '@emporium/platform';
import { createCartService } from '../src/service';

interface CartBody {
  customerId: string;
  currency: string;
  lines: Array<{ productId: string; name: string; unitPrice: number; quantity: number; lineTotal: number; active: boolean; availability: { available: number | null; status: string } }>;
  subtotal: number;
  discount: { code: string; description: string; amount: number; reason: string | null } | null;
  total: number;
  itemCount: number;
  updatedAt: string | null;
}

const TOPIC: Record<string, string> = {
  product_created: 'catalog-events',
  product_updated: 'catalog-events',
  price_changed: 'catalog-events',
  stock_level_changed: 'inventory-events',
  order_placed: 'order-events',
  order_confirmed: 'order-events',
  customer_signed_in: 'identity-events',
};

describe('cart over HTTP on the embedded database', () => {
  let platform: TestPlatform;
  let cart: Service;
  let now = new Date('2030-06-01T12:00:00Z');

  beforeAll(async () => {
    platform = await createTestPlatform();
    cart = await createCartService(platform.deps('cart'), { now: () => now });
    await cart.start();
  });
  afterAll(async () => {
    await cart.stop();
    await platform.close();
  });

  const db = () => platform.deps('cart').db;

  /** Publishes like a producer's outbox relay would; returns the raw message so it can be sent again. */
  async function publish<T extends EventType>(type: T, key: string, data: EventData<T>, occurredAt?: string): Promise<string> {
    const envelope = makeEnvelope({ type, source: 'test', key, data });
    const value = JSON.stringify(occurredAt ? { ...envelope, occurredAt } : envelope);
    await platform.bus.publish([{ topic: TOPIC[type]!, key, value }]);
    return value;
  }

  async function product(id: string, amount: number, extra: { name?: string; active?: boolean; currency?: string } = {}) {
    await publish('product_created', id, {
      productId: id,
      sku: `SKU-${id}`.toUpperCase(),
      name: extra.name ?? `Product ${id}`,
      description: '',
      category: 'test',
      imageUrl: `https://img.example/${id}.jpg`,
      price: { amount, currency: extra.currency ?? 'EUR' },
      active: extra.active ?? true,
    });
    await eventually(async () => (await db().query('SELECT 1 FROM products WHERE id = $1', [id])).rows.length > 0, 10_000, `product ${id} in the read model`);
  }

  const getCart = async (customerId: string): Promise<CartBody> => (await cart.app.inject(`/cart/${customerId}`)).json();
  const send = (method: 'POST' | 'DELETE' | 'PUT', url: string, payload?: unknown) =>
    cart.app.inject({ method, url, ...(payload === undefined ? {} : { payload: payload as object }) });
  const add = (customerId: string, productId: string | number, quantity: number) => send('POST', `/cart/${customerId}/add`, { productId, quantity });
  /** Fields a problem names; an unknown key may be reported on `body` with the key in the message. */
  const namedFields = (res: { json(): { errors?: Array<{ field: string; message: string }> } }): string[] =>
    (res.json().errors ?? []).flatMap((e) => [e.field, ...(/Unrecognized keys?: (.*)/.exec(e.message)?.[1]?.match(/[\w]+/g) ?? [])]);
  const createCode = (body: Record<string, unknown>) => send('POST', '/discounts', body);

  it('when an unknown customer asks for their cart, then an empty cart comes back', async () => {
    const res = await cart.app.inject('/cart/123');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ customerId: '123', currency: 'EUR', lines: [], subtotal: 0, discount: null, total: 0, itemCount: 0, updatedAt: null });
  });

  it('when items are added, decremented, set and removed, then line totals, subtotal and total follow', async () => {
    await product('p-mug', 1250, { name: 'Mug' });
    await product('1001', 399, { name: 'Spoon' });

    const first = await add('c-lines', 'p-mug', 2);
    expect(first.statusCode).toBe(200);
    await add('c-lines', 1001, 3);
    let body = (await add('c-lines', 'p-mug', 1)).json() as CartBody;
    expect(body.lines.map((l) => [l.productId, l.name, l.unitPrice, l.quantity, l.lineTotal])).toEqual([
      ['p-mug', 'Mug', 1250, 3, 3750],
      ['1001', 'Spoon', 399, 3, 1197],
    ]);
    expect(body).toMatchObject({ customerId: 'c-lines', currency: 'EUR', subtotal: 4947, total: 4947, itemCount: 6, discount: null });
    expect(body.updatedAt).not.toBeNull();

    body = (await send('DELETE', '/cart/c-lines/remove', { productId: 'p-mug', quantity: 2 })).json();
    expect(body.lines[0]).toMatchObject({ productId: 'p-mug', quantity: 1, lineTotal: 1250 });
    expect(body.subtotal).toBe(1250 + 1197);

    body = (await send('PUT', '/cart/c-lines/lines/1001', { quantity: 10 })).json();
    expect(body.lines[1]).toMatchObject({ productId: '1001', quantity: 10, lineTotal: 3990 });
    expect(body).toMatchObject({ subtotal: 5240, total: 5240, itemCount: 11 });

    body = (await send('DELETE', '/cart/c-lines/remove', { productId: 'p-mug', quantity: 1 })).json();
    expect(body.lines.map((l) => l.productId)).toEqual(['1001']);

    body = (await send('PUT', '/cart/c-lines/lines/1001', { quantity: 0 })).json();
    expect(body).toMatchObject({ lines: [], subtotal: 0, total: 0, itemCount: 0 });

    await add('c-lines', 'p-mug', 1);
    body = (await send('DELETE', '/cart/c-lines/remove', { productId: 'p-mug' })).json();
    expect(body.lines).toEqual([]);
  });

  it('when the cart changes, then each answer is the cart a read right after returns', async () => {
    expect((await createCode({ code: 'SAME5', kind: 'percentage', value: 5 })).statusCode).toBe(201);
    await product('p-same-a', 700);
    await product('p-same-b', 1100);
    const steps: Array<() => ReturnType<typeof send>> = [
      () => add('c-same', 'p-same-a', 2),
      () => add('c-same', 'p-same-b', 1),
      () => send('POST', '/cart/c-same/discount', { code: 'same5' }),
      () => add('c-same', 'p-same-a', 1),
      () => send('PUT', '/cart/c-same/lines/p-same-b', { quantity: 4 }),
      () => send('DELETE', '/cart/c-same/remove', { productId: 'p-same-a' }),
      () => send('DELETE', '/cart/c-same/discount'),
      () => send('DELETE', '/cart/c-same'),
    ];
    for (const [i, step] of steps.entries()) {
      const res = await step();
      expect(res.statusCode, `step ${i}`).toBe(200);
      expect(res.json(), `step ${i}`).toEqual(await getCart('c-same'));
    }
  });

  it('when a product is not in the cart, then removing it is a 404 naming productId', async () => {
    await product('p-absent', 100);
    await add('c-absent', 'p-absent', 1);
    const res = await send('DELETE', '/cart/c-absent/remove', { productId: 'p-other' });
    expect(res.statusCode).toBe(404);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.json()).toMatchObject({ code: 'CART.LINE_NOT_FOUND', errors: [{ field: 'productId' }] });
  });

  it('when the cart is emptied, then lines and the discount code are gone', async () => {
    await product('p-empty', 500);
    await add('c-empty', 'p-empty', 2);
    const res = await send('DELETE', '/cart/c-empty');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ lines: [], subtotal: 0, discount: null });
  });

  it('when the catalog changes a price, then the cart shows the new price at the next read', async () => {
    await product('p-price', 1000);
    await add('c-price', 'p-price', 2);
    await publish('price_changed', 'p-price', { productId: 'p-price', oldAmount: 1000, newAmount: 800, currency: 'EUR' });
    const body = await eventually(async () => {
      const c = await getCart('c-price');
      return c.lines[0]?.unitPrice === 800 && c;
    }, 10_000, 'the new price');
    expect(body).toMatchObject({ subtotal: 1600, total: 1600 });
    expect(body.lines[0]?.lineTotal).toBe(1600);
  });

  it('when stock runs out, then the line goes from in stock to out of stock, and an older stock level is ignored', async () => {
    await product('p-stock', 300);
    await add('c-stock', 'p-stock', 1);
    expect((await getCart('c-stock')).lines[0]?.availability).toEqual({ available: null, status: 'unknown' });

    const level = (available: number) => ({ productId: 'p-stock', onHand: available, reserved: 0, available, reason: 'test' });
    await publish('stock_level_changed', 'p-stock', level(40), '2030-01-01T10:00:00.000Z');
    await eventually(async () => (await getCart('c-stock')).lines[0]?.availability.status === 'in_stock', 10_000, 'in_stock');
    expect((await getCart('c-stock')).lines[0]?.availability).toEqual({ available: 40, status: 'in_stock' });

    await publish('stock_level_changed', 'p-stock', level(3), '2030-01-01T10:01:00.000Z');
    await eventually(async () => (await getCart('c-stock')).lines[0]?.availability.status === 'low_stock', 10_000, 'low_stock');

    await publish('stock_level_changed', 'p-stock', level(0), '2030-01-01T10:02:00.000Z');
    await eventually(async () => (await getCart('c-stock')).lines[0]?.availability.status === 'out_of_stock', 10_000, 'out_of_stock');

    // A late delivery of an older level: once handled (inbox), it must not have overwritten the newer one.
    await publish('stock_level_changed', 'p-stock', level(25), '2030-01-01T09:00:00.000Z');
    const handled = async () => (await db().query<{ n: number }>("SELECT count(*)::int AS n FROM inbox WHERE type = 'stock_level_changed'")).rows[0]!.n;
    await eventually(async () => (await handled()) === 4, 10_000, 'the late stock event to be handled');
    expect((await getCart('c-stock')).lines[0]?.availability).toEqual({ available: 0, status: 'out_of_stock' });
  });

  it('when a percentage code is applied, then the discount is that share of the subtotal rounded down', async () => {
    expect((await createCode({ code: 'TENOFF', kind: 'percentage', value: 10 })).statusCode).toBe(201);
    await product('p-pct', 1999);
    await add('c-pct', 'p-pct', 3);
    const res = await send('POST', '/cart/c-pct/discount', { code: 'tenoff' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ subtotal: 5997, discount: { code: 'TENOFF', description: '10% off', amount: 599, reason: null }, total: 5398 });

    const removed = (await send('DELETE', '/cart/c-pct/discount')).json();
    expect(removed).toMatchObject({ discount: null, total: 5997 });
  });

  it('when a fixed code is worth more than the subtotal, then the discount stops at the subtotal', async () => {
    await createCode({ code: 'FIVEEUR', kind: 'fixed', value: 500, currency: 'EUR' });
    await product('p-fixed', 300);
    await add('c-fixed', 'p-fixed', 1);
    let body = (await send('POST', '/cart/c-fixed/discount', { code: 'FIVEEUR' })).json() as CartBody;
    expect(body).toMatchObject({ subtotal: 300, discount: { description: '5.00 EUR off', amount: 300 }, total: 0 });
    body = (await add('c-fixed', 'p-fixed', 2)).json();
    expect(body).toMatchObject({ subtotal: 900, discount: { amount: 500 }, total: 400 });
  });

  it('when a code is unknown, expired or not yet valid, then applying it is refused naming code and the rule', async () => {
    await createCode({ code: 'OLD', kind: 'percentage', value: 5, validUntil: '2030-05-01T00:00:00Z' });
    await createCode({ code: 'SOON', kind: 'percentage', value: 5, validFrom: '2030-07-01T00:00:00Z' });
    await product('p-rules', 1000);
    await add('c-rules', 'p-rules', 1);

    const unknown = await send('POST', '/cart/c-rules/discount', { code: 'NOPE' });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ code: 'CART.DISCOUNT_NOT_FOUND', errors: [{ field: 'code' }] });

    const expired = await send('POST', '/cart/c-rules/discount', { code: 'OLD' });
    expect(expired.statusCode).toBe(422);
    expect(expired.headers['content-type']).toContain('application/problem+json');
    expect(expired.json()).toMatchObject({ code: 'CART.DISCOUNT_EXPIRED', rule: 'expired', errors: [{ field: 'code' }] });
    expect(expired.json().detail).toContain('expired');

    const early = await send('POST', '/cart/c-rules/discount', { code: 'SOON' });
    expect(early.statusCode).toBe(422);
    expect(early.json()).toMatchObject({ code: 'CART.DISCOUNT_NOT_YET_VALID', errors: [{ field: 'code' }] });
    expect((await getCart('c-rules')).discount).toBeNull();
  });

  it('when the subtotal is below the minimum, then the code is refused, and a cart that drops below keeps it at 0 with a reason', async () => {
    await createCode({ code: 'BIG50', kind: 'percentage', value: 20, minSubtotal: 5000 });
    await product('p-min', 2000);
    await add('c-min', 'p-min', 2);

    const below = await send('POST', '/cart/c-min/discount', { code: 'BIG50' });
    expect(below.statusCode).toBe(422);
    expect(below.json()).toMatchObject({ code: 'CART.DISCOUNT_BELOW_MINIMUM', rule: 'min_subtotal', errors: [{ field: 'code' }] });
    expect(below.json().detail).toContain('50.00 EUR');

    await add('c-min', 'p-min', 1);
    const applied = (await send('POST', '/cart/c-min/discount', { code: 'BIG50' })).json() as CartBody;
    expect(applied).toMatchObject({ subtotal: 6000, discount: { code: 'BIG50', amount: 1200, reason: null }, total: 4800 });

    const dropped = (await send('DELETE', '/cart/c-min/remove', { productId: 'p-min', quantity: 2 })).json() as CartBody;
    expect(dropped).toMatchObject({ subtotal: 2000, total: 2000, discount: { code: 'BIG50', amount: 0 } });
    expect(dropped.discount?.reason).toContain('add 30.00 EUR more');

    const back = (await send('PUT', '/cart/c-min/lines/p-min', { quantity: 3 })).json() as CartBody;
    expect(back.discount).toMatchObject({ amount: 1200, reason: null });
  });

  it('when an applied code expires, then the cart shows it at 0 with the reason', async () => {
    await createCode({ code: 'SHORT', kind: 'fixed', value: 100, currency: 'EUR', validUntil: '2030-06-01T13:00:00Z' });
    await product('p-exp', 1000);
    await add('c-exp', 'p-exp', 1);
    expect((await send('POST', '/cart/c-exp/discount', { code: 'SHORT' })).json().discount.amount).toBe(100);
    const before = now;
    now = new Date('2030-06-01T14:00:00Z');
    try {
      const body = await getCart('c-exp');
      expect(body).toMatchObject({ total: 1000, discount: { code: 'SHORT', amount: 0 } });
      expect(body.discount?.reason).toContain('expired');
    } finally {
      now = before;
    }
  });

  it('when an order from the cart is confirmed, then the ordered units and the code leave the cart, and a redelivery changes nothing', async () => {
    await createCode({ code: 'ORDER10', kind: 'percentage', value: 10 });
    await product('p-ord-a', 1000);
    await product('p-ord-b', 500);
    await add('c-order', 'p-ord-a', 2);
    await add('c-order', 'p-ord-b', 1);
    await send('POST', '/cart/c-order/discount', { code: 'ORDER10' });

    const confirmed = (orderId: string, customerId: string, source: 'cart' | 'direct', items: Array<[string, number, number]>) => ({
      orderId,
      customerId,
      items: items.map(([productId, quantity, unitPrice]) => ({ productId, name: productId, quantity, unitPrice, lineTotal: quantity * unitPrice })),
      currency: 'EUR',
      total: 0,
      source,
    });
    // Placing alone leaves the cart as it is: a declined card must not cost the shopper their cart.
    await publish('order_placed', 'o-1', { ...confirmed('o-1', 'c-order', 'cart', [['p-ord-a', 2, 1000], ['p-ord-b', 1, 500]]), subtotal: 0, discount: 0, paymentMethod: 'credit_card', reserveUntil: '2030-06-01T12:15:00Z' });
    // The shopper added one more unit of A after checking out the first two.
    await add('c-order', 'p-ord-a', 1);
    const value = await publish('order_confirmed', 'o-1', confirmed('o-1', 'c-order', 'cart', [['p-ord-a', 2, 1000], ['p-ord-b', 1, 500]]));
    await eventually(async () => (await getCart('c-order')).itemCount === 1, 10_000, 'the ordered units to leave the cart');
    expect(await getCart('c-order')).toMatchObject({ lines: [{ productId: 'p-ord-a', quantity: 1 }], discount: null, subtotal: 1000 });

    // Redeliver the same event, then orders on the same key (so they are handled after it).
    await platform.bus.publish([{ topic: 'order-events', key: 'o-1', value }]);
    await publish('order_confirmed', 'o-1', confirmed('o-1b', 'c-order', 'direct', [['p-ord-a', 1, 1000]]));
    await add('c-order-marker', 'p-ord-b', 1);
    await publish('order_confirmed', 'o-1', confirmed('o-1c', 'c-order-marker', 'cart', [['p-ord-b', 1, 500]]));
    await eventually(async () => (await getCart('c-order-marker')).itemCount === 0, 10_000, 'the marker order');
    expect(await getCart('c-order')).toMatchObject({ lines: [{ productId: 'p-ord-a', quantity: 1 }], itemCount: 1 });
  });

  it('when a guest signs in, then their cart joins the customer cart once, quantities adding up', async () => {
    await product('p-merge-a', 700);
    await product('p-merge-b', 300);
    await add('gst_merge', 'p-merge-a', 2);
    await add('gst_merge', 'p-merge-b', 1);
    await add('cus_merge', 'p-merge-a', 1);

    const value = await publish('customer_signed_in', 'cus_merge', { customerId: 'cus_merge', guestId: 'gst_merge', via: 'sign_in' });
    await eventually(async () => (await getCart('cus_merge')).itemCount === 4, 10_000, 'the guest cart to be merged');
    expect((await getCart('cus_merge')).lines).toMatchObject([{ productId: 'p-merge-a', quantity: 3 }, { productId: 'p-merge-b', quantity: 1 }]);
    expect((await getCart('gst_merge')).itemCount).toBe(0);

    // A redelivery (and a sign-in without a guest) changes nothing.
    await platform.bus.publish([{ topic: 'identity-events', key: 'cus_merge', value }]);
    await add('gst_merge', 'p-merge-b', 5);
    await publish('customer_signed_in', 'cus_merge', { customerId: 'cus_merge', guestId: null, via: 'sign_in' });
    await add('c-merge-marker', 'p-merge-b', 1);
    await publish('customer_signed_in', 'cus_merge', { customerId: 'c-merge-marker', guestId: 'gst_never', via: 'sign_in' });
    await new Promise((r) => setTimeout(r, 300));
    expect((await getCart('cus_merge')).lines).toMatchObject([{ productId: 'p-merge-a', quantity: 3 }, { productId: 'p-merge-b', quantity: 1 }]);
  });

  it('when the product is unknown, withdrawn, or the line would pass 999 units, then adding is refused naming the field', async () => {
    await product('p-gone', 100, { active: false });
    await product('p-cap', 100);

    const unknown = await add('c-refuse', 'p-never-heard', 1);
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ code: 'CART.UNKNOWN_PRODUCT', errors: [{ field: 'productId' }] });

    const withdrawn = await add('c-refuse', 'p-gone', 1);
    expect(withdrawn.statusCode).toBe(422);
    expect(withdrawn.json()).toMatchObject({ code: 'CART.PRODUCT_UNAVAILABLE', errors: [{ field: 'productId' }] });

    expect((await add('c-refuse', 'p-cap', 998)).statusCode).toBe(200);
    const capped = await add('c-refuse', 'p-cap', 2);
    expect(capped.statusCode).toBe(422);
    expect(capped.json()).toMatchObject({ code: 'CART.QUANTITY_LIMIT', errors: [{ field: 'quantity' }] });
    expect((await getCart('c-refuse')).lines).toMatchObject([{ productId: 'p-cap', quantity: 998 }]);
  });

  it('when the catalog withdraws a product already in the cart, then the line stays marked inactive and can only shrink', async () => {
    await product('p-withdraw', 700);
    await add('c-withdraw', 'p-withdraw', 2);
    await publish('product_updated', 'p-withdraw', {
      productId: 'p-withdraw', sku: 'SKU-P-WITHDRAW', name: 'Product p-withdraw', description: '', category: 'test', imageUrl: null,
      price: { amount: 700, currency: 'EUR' }, active: false,
    });
    await eventually(async () => (await getCart('c-withdraw')).lines[0]?.active === false, 10_000, 'the product to be withdrawn');
    expect((await send('PUT', '/cart/c-withdraw/lines/p-withdraw', { quantity: 3 })).statusCode).toBe(422);
    expect((await send('PUT', '/cart/c-withdraw/lines/p-withdraw', { quantity: 1 })).json().lines[0].quantity).toBe(1);
  });

  it.each([
    ['quantity 0', 'quantity', { productId: 'p-bad', quantity: 0 }],
    ['quantity -1', 'quantity', { productId: 'p-bad', quantity: -1 }],
    ['quantity 1.5', 'quantity', { productId: 'p-bad', quantity: 1.5 }],
    ['quantity "2"', 'quantity', { productId: 'p-bad', quantity: '2' }],
    ['quantity 10^9', 'quantity', { productId: 'p-bad', quantity: 1e9 }],
    ['no productId', 'productId', { quantity: 1 }],
    ['an empty productId', 'productId', { productId: '', quantity: 1 }],
    ['an unknown field', 'price', { productId: 'p-bad', quantity: 1, price: 1 }],
  ])('when the add body has %s, then 400 names %s and the cart is unchanged', async (_what, field, payload) => {
    await product('p-bad', 100);
    await add('c-bad', 'p-bad', 1);
    const before = await getCart('c-bad');
    const res = await send('POST', '/cart/c-bad/add', payload);
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.json().code).toBe('REQUEST.INVALID');
    expect(namedFields(res)).toContain(field);
    expect(await getCart('c-bad')).toEqual(before);
  });

  it('when the JSON is malformed, then 400 says so and the cart is unchanged', async () => {
    const before = await getCart('c-bad');
    for (const url of ['/cart/c-bad/add', '/cart/c-bad/discount']) {
      const res = await cart.app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload: '{"productId": ' });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ code: 'REQUEST.MALFORMED_JSON', errors: [{ field: 'body' }] });
    }
    expect(await getCart('c-bad')).toEqual(before);
  });

  it('when other bodies or paths are invalid, then 400 names the field and nothing is written', async () => {
    const cases: Array<[ReturnType<typeof send>, string]> = [
      [send('DELETE', '/cart/c-bad/remove', { productId: 'p-bad', quantity: 0 }), 'quantity'],
      [send('DELETE', '/cart/c-bad/remove', { quantity: 1 }), 'productId'],
      [send('DELETE', '/cart/c-bad/remove'), 'body'],
      [send('PUT', '/cart/c-bad/lines/p-bad', { quantity: -1 }), 'quantity'],
      [send('PUT', '/cart/c-bad/lines/p-bad', { quantity: 1000 }), 'quantity'],
      [send('POST', '/cart/c-bad/discount', { code: 'a!' }), 'code'],
      [send('POST', '/cart/c-bad/discount', { code: 'TENOFF', extra: true }), 'extra'],
      [send('POST', '/cart/bad%20id/add', { productId: 'p-bad', quantity: 1 }), 'params.customerId'],
    ];
    const before = await getCart('c-bad');
    for (const [pending, field] of cases) {
      const res = await pending;
      expect(res.statusCode, `${field}: ${res.body}`).toBe(400);
      expect(namedFields(res)).toContain(field);
    }
    expect(await getCart('c-bad')).toEqual(before);
    expect((await db().query("SELECT 1 FROM carts WHERE customer_id = 'bad id'")).rows).toHaveLength(0);
  });

  it('when staff create discount codes, then invalid ones are refused by field, duplicates conflict, and the list shows them', async () => {
    const invalid: Array<[Record<string, unknown>, string]> = [
      [{ code: 'PCT', kind: 'percentage', value: 101 }, 'value'],
      [{ code: 'FIX', kind: 'fixed', value: 100 }, 'currency'],
      [{ code: 'lower', kind: 'percentage', value: 5 }, 'code'],
      [{ code: 'XY', kind: 'percentage', value: 5 }, 'code'],
      [{ code: 'KIND', kind: 'gift', value: 5 }, 'kind'],
      [{ code: 'WIN', kind: 'percentage', value: 5, validFrom: '2030-02-01T00:00:00Z', validUntil: '2030-01-01T00:00:00Z' }, 'validUntil'],
      [{ code: 'MORE', kind: 'percentage', value: 5, stackable: true }, 'stackable'],
    ];
    for (const [body, field] of invalid) {
      const res = await createCode(body);
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
      expect(namedFields(res)).toContain(field);
    }
    expect((await createCode({ code: 'DUPE1', kind: 'percentage', value: 5 })).statusCode).toBe(201);
    const dupe = await createCode({ code: 'DUPE1', kind: 'percentage', value: 7 });
    expect(dupe.statusCode).toBe(409);
    expect(dupe.json()).toMatchObject({ code: 'CART.DUPLICATE_DISCOUNT_CODE', errors: [{ field: 'code' }] });

    const list = (await cart.app.inject('/discounts')).json().items as Array<{ code: string; value: number }>;
    expect(list.find((d) => d.code === 'DUPE1')?.value).toBe(5);
    expect(list.map((d) => d.code)).not.toContain('PCT');
    expect((await cart.app.inject('/discounts/dupe1')).json()).toMatchObject({ code: 'DUPE1', kind: 'percentage', description: '5% off', active: true });
  });

  it('when health, metrics and docs are asked for, then they answer', async () => {
    expect((await cart.app.inject('/health/ready')).json()).toEqual({ status: 'ok', checks: { database: true, bus: true } });
    expect((await cart.app.inject('/metrics')).body).toContain('http_requests_total');
    const docs = (await cart.app.inject('/docs/json')).json();
    expect(Object.keys(docs.paths)).toEqual(
      expect.arrayContaining(['/cart/{customerId}', '/cart/{customerId}/add', '/cart/{customerId}/remove', '/cart/{customerId}/lines/{productId}', '/discounts']),
    );
  });
});
