import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS, deliveriesOf, makeEnvelope, type EventData, type EventType } from '@emporium/contracts';
import { createOutboxRelay, migrate, writeOutbox, event, type Db, type Service } from '@emporium/platform';
import { createTestPlatform, emittedEvents, eventually, type TestPlatform } from '@emporium/platform/testing';
import { createInventoryService } from '../src/service';

describe('inventory on the embedded database', () => {
  let platform: TestPlatform;
  let inventory: Service;
  let db: Db;

  beforeAll(async () => {
    platform = await createTestPlatform();
    inventory = await createInventoryService(platform.deps('inventory'), { expiryIntervalMs: 100 });
    await inventory.start();
    db = platform.deps('inventory').db;
  });
  afterAll(async () => {
    await inventory.stop();
    await platform.close();
  });

  /** Publishes an event the way its producer's relay would; returns the envelope (to redeliver it). */
  const publish = async <T extends EventType>(type: T, key: string, data: EventData<T>, envelope = makeEnvelope({ type, source: 'test', key, data })) => {
    await platform.bus.publish([{ topic: EVENTS[type].topic, key, value: JSON.stringify(envelope) }]);
    return envelope;
  };
  const handled = (...ids: string[]) =>
    eventually(async () => (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM inbox WHERE event_id = ANY($1::uuid[])', [ids])).rows[0]!.n === ids.length, 10_000, `events ${ids.join(', ')} handled`);

  const productCreated = (productId: string) => ({
    productId,
    sku: `SKU-${productId}`.toUpperCase().replace(/[^A-Z0-9-]/g, '-'),
    name: `Product ${productId}`,
    description: '',
    category: 'test',
    imageUrl: null,
    price: { amount: 1000, currency: 'EUR' },
    active: true,
  });
  const knownProduct = async (productId: string, onHand = 0) => {
    const { id } = await publish('product_created', productId, productCreated(productId));
    await handled(id);
    if (onHand > 0) expect((await update(productId, { set: onHand, reason: 'opening stock' })).statusCode).toBe(200);
  };
  const orderPlaced = (orderId: string, items: Array<{ productId: string; quantity: number }>, reserveUntil = new Date(Date.now() + 60_000).toISOString()) => ({
    orderId,
    customerId: 'c-1',
    items: items.map((i) => ({ ...i, name: i.productId, unitPrice: 1000, lineTotal: 1000 * i.quantity })),
    currency: 'EUR',
    subtotal: 0,
    discount: 0,
    total: 0,
    paymentMethod: 'credit_card' as const,
    source: 'direct' as const,
    reserveUntil,
  });
  const cancelled = (orderId: string, releaseStock = true) => ({
    orderId,
    customerId: 'c-1',
    status: 'cancelled' as const,
    code: 'ORDERS.CANCELLED',
    reason: 'customer asked',
    releaseStock,
    voidPaymentId: null,
  });

  const update = (productId: string, payload: unknown, headers: Record<string, string> = {}) =>
    inventory.app.inject({ method: 'POST', url: `/inventory/${productId}/update`, payload: payload as object, headers });
  const level = async (productId: string) => (await inventory.app.inject(`/inventory/${productId}`)).json();
  const movements = async (productId: string) => (await inventory.app.inject(`/inventory/${productId}/movements`)).json().items;
  const outbox = async (key: string, type?: string) =>
    (await db.query<{ type: string; payload: { data: Record<string, unknown> } }>(
      `SELECT type, payload FROM ${emittedEvents('inventory')} WHERE key = $1 AND ($2::text IS NULL OR type = $2) ORDER BY seq`,
      [key, type ?? null],
    )).rows;
  const reservations = async (orderId: string) =>
    (await db.query<{ product_id: string; quantity: number; status: string }>('SELECT product_id, quantity, status FROM reservations WHERE order_id = $1 ORDER BY product_id', [orderId])).rows;

  it('when product_created arrives, then a zero stock row exists and a second delivery changes nothing', async () => {
    const first = await publish('product_created', 'p-new', productCreated('p-new'));
    const again = await publish('product_created', 'p-new', productCreated('p-new'));
    await handled(first.id, again.id);
    expect(await level('p-new')).toMatchObject({ productId: 'p-new', onHand: 0, reserved: 0, available: 0 });
    expect((await outbox('p-new', 'stock_level_changed')).map((r) => r.payload.data.reason)).toEqual(['product_created']);
  });

  it('when inventory never heard of a product, then reading, updating and listing its ledger are 404 problems', async () => {
    const read = await inventory.app.inject('/inventory/p-ghost');
    expect(read.statusCode).toBe(404);
    expect(read.headers['content-type']).toContain('application/problem+json');
    expect(read.json()).toMatchObject({ code: 'INVENTORY.PRODUCT_NOT_FOUND' });
    expect((await update('p-ghost', { set: 5, reason: 'count' })).statusCode).toBe(404);
    expect((await inventory.app.inject('/inventory/p-ghost/movements')).statusCode).toBe(404);
    expect((await db.query("SELECT 1 FROM stock WHERE product_id = 'p-ghost'")).rows).toHaveLength(0);
  });

  it('when staff set and adjust stock, then the level, the ledger and stock_level_changed follow', async () => {
    await knownProduct('p-set');
    const set = await update('p-set', { set: 10, reason: 'stock take' });
    expect(set.statusCode).toBe(200);
    expect(set.json()).toMatchObject({ productId: 'p-set', onHand: 10, reserved: 0, available: 10 });
    expect((await update('p-set', { adjust: 20, reason: 'delivery from supplier' })).json()).toMatchObject({ onHand: 30, available: 30 });
    expect((await update('p-set', { adjust: -1, reason: 'damaged' })).json()).toMatchObject({ onHand: 29 });
    expect(await level('p-set')).toMatchObject({ onHand: 29, reserved: 0, available: 29 });
    const ledger = await movements('p-set');
    expect(ledger.map((m: { kind: string; quantity: number; reason: string }) => [m.kind, m.quantity, m.reason])).toEqual([
      ['adjusted', -1, 'damaged'],
      ['received', 20, 'delivery from supplier'],
      ['adjusted', 10, 'stock take'],
    ]);
    const changes = (await outbox('p-set', 'stock_level_changed')).map((r) => r.payload.data);
    expect(changes.slice(1)).toEqual([
      { productId: 'p-set', onHand: 10, reserved: 0, available: 10, reason: 'stock take', delta: { onHand: 10, reserved: 0 } },
      { productId: 'p-set', onHand: 30, reserved: 0, available: 30, reason: 'delivery from supplier', delta: { onHand: 20, reserved: 0 } },
      { productId: 'p-set', onHand: 29, reserved: 0, available: 29, reason: 'damaged', delta: { onHand: -1, reserved: 0 } },
    ]);
  });

  it('when the body is invalid, then 400 names the field and nothing is written', async () => {
    await knownProduct('p-bad', 5);
    const cases: Array<[unknown, string]> = [
      [{ set: -1, reason: 'x' }, 'set'],
      [{ adjust: 0, reason: 'x' }, 'adjust'],
      [{ set: 5, adjust: 1, reason: 'x' }, 'adjust'],
      [{ reason: 'x' }, 'set'],
      [{ set: 5 }, 'reason'],
      [{ set: 5, reason: '   ' }, 'reason'],
      [{ set: 5, reason: 'x'.repeat(201) }, 'reason'],
      [{ set: '5', reason: 'x' }, 'set'],
      [{ adjust: '+3', reason: 'x' }, 'adjust'],
      [{ set: 1e12, reason: 'x' }, 'set'],
      [{ adjust: -1_000_001, reason: 'x' }, 'adjust'],
      [{ set: 2.5, reason: 'x' }, 'set'],
      [{ set: 5, reason: 'x', productId: 'p-other' }, 'productId'],
    ];
    for (const [payload, field] of cases) {
      const res = await update('p-bad', payload);
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
      expect(res.json().errors.map((e: { field: string }) => e.field), JSON.stringify(payload)).toContain(field);
    }
    expect((await update('p%20bad', { set: 1, reason: 'x' })).statusCode).toBe(400);
    expect(await level('p-bad')).toMatchObject({ onHand: 5 });
    expect(await movements('p-bad')).toHaveLength(1);
    expect(await outbox('p-bad', 'stock_level_changed')).toHaveLength(2);
  });

  it('when an adjustment would go below zero or below what is reserved, then 409 and nothing is written', async () => {
    await knownProduct('p-low', 3);
    const negative = await update('p-low', { adjust: -4, reason: 'lost' });
    expect(negative.statusCode).toBe(409);
    expect(negative.json()).toMatchObject({ code: 'INVENTORY.WOULD_GO_NEGATIVE', errors: [{ field: 'adjust' }] });
    const { id } = await publish('order_placed', 'o-low', orderPlaced('o-low', [{ productId: 'p-low', quantity: 2 }]));
    await handled(id);
    const belowReserved = await update('p-low', { set: 1, reason: 'recount' });
    expect(belowReserved.statusCode).toBe(409);
    expect(belowReserved.json()).toMatchObject({ code: 'INVENTORY.WOULD_GO_NEGATIVE', errors: [{ field: 'set' }], reserved: 2 });
    expect((await update('p-low', { adjust: -2, reason: 'lost' })).statusCode).toBe(409);
    expect(await level('p-low')).toMatchObject({ onHand: 3, reserved: 2, available: 1 });
    expect((await movements('p-low')).map((m: { kind: string }) => m.kind)).toEqual(['reserved', 'adjusted']);
  });

  it('when an update is retried with the same Idempotency-Key, then it is applied once', async () => {
    await knownProduct('p-idem', 1);
    const headers = { 'idempotency-key': 'delivery-42' };
    const first = await update('p-idem', { adjust: 5, reason: 'delivery 42' }, headers);
    const retry = await update('p-idem', { adjust: 5, reason: 'delivery 42' }, headers);
    expect(retry.statusCode).toBe(200);
    expect(retry.json()).toEqual(first.json());
    expect(await level('p-idem')).toMatchObject({ onHand: 6 });
    const reused = await update('p-idem', { adjust: 7, reason: 'another' }, headers);
    expect(reused.statusCode).toBe(422);
    expect(await level('p-idem')).toMatchObject({ onHand: 6 });
  });

  it('when an order fits the stock, then every line is reserved and stock_reserved is emitted', async () => {
    await knownProduct('p-a', 5);
    await knownProduct('p-b', 5);
    const { id } = await publish('order_placed', 'o-fit', orderPlaced('o-fit', [{ productId: 'p-b', quantity: 2 }, { productId: 'p-a', quantity: 1 }, { productId: 'p-b', quantity: 1 }]));
    await handled(id);
    expect(await level('p-a')).toMatchObject({ onHand: 5, reserved: 1, available: 4 });
    expect(await level('p-b')).toMatchObject({ onHand: 5, reserved: 3, available: 2 });
    const [reserved] = await outbox('o-fit', 'stock_reserved');
    expect(reserved?.payload.data).toMatchObject({ orderId: 'o-fit', items: [{ productId: 'p-a', quantity: 1 }, { productId: 'p-b', quantity: 3 }] });
    expect((await outbox('p-b', 'stock_level_changed')).at(-1)?.payload.data).toMatchObject({ reserved: 3, available: 2, reason: 'stock_reserved' });
    expect(await reservations('o-fit')).toEqual([
      { product_id: 'p-a', quantity: 1, status: 'active' },
      { product_id: 'p-b', quantity: 3, status: 'active' },
    ]);
  });

  it('when one line of an order is short, then stock_insufficient names it and nothing at all is reserved', async () => {
    await knownProduct('p-plenty', 10);
    await knownProduct('p-scarce', 1);
    const { id } = await publish(
      'order_placed',
      'o-short',
      orderPlaced('o-short', [{ productId: 'p-plenty', quantity: 2 }, { productId: 'p-scarce', quantity: 2 }, { productId: 'p-unknown', quantity: 1 }]),
    );
    await handled(id);
    const [insufficient] = await outbox('o-short', 'stock_insufficient');
    expect(insufficient?.payload.data).toEqual({
      orderId: 'o-short',
      shortages: [
        { productId: 'p-scarce', requested: 2, available: 1 },
        { productId: 'p-unknown', requested: 1, available: 0 },
      ],
    });
    expect(await outbox('o-short', 'stock_reserved')).toHaveLength(0);
    expect(await reservations('o-short')).toEqual([]);
    expect(await level('p-plenty')).toMatchObject({ onHand: 10, reserved: 0 });
    expect((await movements('p-plenty')).map((m: { kind: string }) => m.kind)).toEqual(['adjusted']);
  });

  it('when the same order_placed is delivered twice, even as a new event, then stock is reserved once', async () => {
    await knownProduct('p-twice', 5);
    const data = orderPlaced('o-twice', [{ productId: 'p-twice', quantity: 2 }]);
    const first = await publish('order_placed', 'o-twice', data);
    const redelivered = await publish('order_placed', 'o-twice', data, first);
    const reissued = await publish('order_placed', 'o-twice', data);
    await handled(first.id, reissued.id);
    expect(redelivered.id).toBe(first.id);
    expect(await level('p-twice')).toMatchObject({ reserved: 2, available: 3 });
    expect(await outbox('o-twice', 'stock_reserved')).toHaveLength(1);
    expect((await movements('p-twice')).filter((m: { kind: string }) => m.kind === 'reserved')).toHaveLength(1);
  });

  it('when an order produced through an outbox is cancelled, then its stock is released once', async () => {
    await knownProduct('p-cancel', 4);
    const orders = platform.pglite.forSchema('orders_fake');
    await migrate(orders);
    const relay = createOutboxRelay({ db: orders, bus: platform.bus, logger: platform.deps('orders_fake').logger });
    await orders.transaction((tx) => writeOutbox(tx, [event('order_placed', 'o-cancel', orderPlaced('o-cancel', [{ productId: 'p-cancel', quantity: 3 }]))], { source: 'orders' }));
    await relay.flush();
    await eventually(async () => (await outbox('o-cancel', 'stock_reserved')).length === 1, 10_000, 'stock_reserved');
    expect(await level('p-cancel')).toMatchObject({ reserved: 3, available: 1 });

    await orders.transaction((tx) => writeOutbox(tx, [event('order_cancelled', 'o-cancel', cancelled('o-cancel'))], { source: 'orders' }));
    await relay.flush();
    await eventually(async () => (await outbox('o-cancel', 'stock_released')).length === 1, 10_000, 'stock_released');
    expect(await level('p-cancel')).toMatchObject({ onHand: 4, reserved: 0, available: 4 });
    expect(await reservations('o-cancel')).toEqual([{ product_id: 'p-cancel', quantity: 3, status: 'released' }]);
    expect((await outbox('o-cancel', 'stock_released'))[0]?.payload.data).toMatchObject({ items: [{ productId: 'p-cancel', quantity: 3 }], reason: 'order_cancelled' });

    const again = await publish('order_cancelled', 'o-cancel', cancelled('o-cancel'));
    await handled(again.id);
    expect(await outbox('o-cancel', 'stock_released')).toHaveLength(1);
    expect(await level('p-cancel')).toMatchObject({ reserved: 0 });
  });

  it('when an order is completed, then its reserved units are sold and leave on hand', async () => {
    await knownProduct('p-sold', 5);
    const placed = await publish('order_placed', 'o-sold', orderPlaced('o-sold', [{ productId: 'p-sold', quantity: 2 }]));
    const confirmed = await publish('order_confirmed', 'o-sold', { orderId: 'o-sold', customerId: 'c-1', items: [], total: 2000, currency: 'EUR' });
    const completed = await publish('order_completed', 'o-sold', { orderId: 'o-sold', customerId: 'c-1', items: [{ productId: 'p-sold', quantity: 2 }] });
    await handled(placed.id, confirmed.id, completed.id);
    expect(await level('p-sold')).toMatchObject({ onHand: 3, reserved: 0, available: 3 });
    expect(await reservations('o-sold')).toEqual([{ product_id: 'p-sold', quantity: 2, status: 'committed' }]);
    expect((await outbox('o-sold', 'stock_committed'))[0]?.payload.data).toEqual({ orderId: 'o-sold', items: [{ productId: 'p-sold', quantity: 2 }] });
    expect((await movements('p-sold'))[0]).toMatchObject({ kind: 'sold', quantity: -2, orderId: 'o-sold' });
    // The sale moves on hand and reserved alike, so what is available stays: the cart is not sent it.
    const levels = (await outbox('p-sold', 'stock_level_changed')).map((r) => r.payload.data);
    expect(levels.slice(-2)).toEqual([
      { productId: 'p-sold', onHand: 5, reserved: 2, available: 3, reason: 'stock_reserved', delta: { onHand: 0, reserved: 2 } },
      { productId: 'p-sold', onHand: 3, reserved: 0, available: 3, reason: 'stock_committed', delta: { onHand: -2, reserved: -2 } },
    ]);
    expect(levels.slice(-2).map((data) => deliveriesOf('stock_level_changed', data as EventData<'stock_level_changed'>))).toEqual([['cart'], []]);

    const lateCancel = await publish('order_cancelled', 'o-sold', cancelled('o-sold'));
    await handled(lateCancel.id);
    expect(await level('p-sold')).toMatchObject({ onHand: 3, reserved: 0 });
  });

  it('when a reservation expires, then the background task releases it, unless the order was confirmed', async () => {
    await knownProduct('p-expire', 5);
    const soon = new Date(Date.now() + 300).toISOString();
    const a = await publish('order_placed', 'o-expire', orderPlaced('o-expire', [{ productId: 'p-expire', quantity: 2 }], soon));
    const b = await publish('order_placed', 'o-paid', orderPlaced('o-paid', [{ productId: 'p-expire', quantity: 1 }], soon));
    const paid = await publish('order_confirmed', 'o-paid', { orderId: 'o-paid', customerId: 'c-1', items: [], total: 1000, currency: 'EUR' });
    await handled(a.id, b.id, paid.id);
    await eventually(async () => (await outbox('o-expire', 'stock_released')).length === 1, 10_000, 'expiry');
    expect((await outbox('o-expire', 'stock_released'))[0]?.payload.data).toMatchObject({ reason: 'reservation_expired' });
    expect(await reservations('o-expire')).toEqual([{ product_id: 'p-expire', quantity: 2, status: 'expired' }]);
    await new Promise((r) => setTimeout(r, 300));
    expect(await reservations('o-paid')).toEqual([{ product_id: 'p-expire', quantity: 1, status: 'active' }]);
    expect(await level('p-expire')).toMatchObject({ onHand: 5, reserved: 1, available: 4 });
  });

  it('when many orders compete for scarce stock while staff recount, then stock is never over-reserved', async () => {
    await knownProduct('p-rush', 10);
    await knownProduct('p-side', 100);
    const orders = Array.from({ length: 8 }, (_, i) => `o-rush-${i}`);
    const envelopes = await Promise.all(
      orders.map((o, i) => publish('order_placed', o, orderPlaced(o, i % 2 ? [{ productId: 'p-side', quantity: 1 }, { productId: 'p-rush', quantity: 3 }] : [{ productId: 'p-rush', quantity: 3 }, { productId: 'p-side', quantity: 1 }]))),
    );
    const recounts = await Promise.all([update('p-rush', { adjust: -1, reason: 'damaged' }), update('p-side', { adjust: 5, reason: 'found' })]);
    await handled(...envelopes.map((e) => e.id));
    expect(recounts.map((r) => r.statusCode)).toEqual([200, 200]);
    const outcomes = await Promise.all(orders.map(async (o) => (await outbox(o)).map((r) => r.type).filter((t) => t.startsWith('stock_'))));
    const reservedCount = outcomes.filter((t) => t.includes('stock_reserved')).length;
    expect(outcomes.every((t) => t.length === 1)).toBe(true);
    expect(reservedCount).toBe(3);
    expect(await level('p-rush')).toMatchObject({ onHand: 9, reserved: 9, available: 0 });
    expect(await level('p-side')).toMatchObject({ onHand: 105, reserved: 3 });
  });

  it('when everything above has happened, then reconciliation finds levels, ledger and reservations in agreement', async () => {
    const res = await inventory.app.inject('/inventory/reconciliation');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ ok: true, mismatches: [] });
  });

  it('when health and docs are asked for, then they answer with the inventory paths', async () => {
    expect((await inventory.app.inject('/health/ready')).json()).toEqual({ status: 'ok', checks: { database: true, bus: true } });
    const docs = (await inventory.app.inject('/docs/json')).json();
    expect(Object.keys(docs.paths)).toEqual(
      expect.arrayContaining(['/inventory/reconciliation', '/inventory/{productId}', '/inventory/{productId}/update', '/inventory/{productId}/movements']),
    );
  });

  it('when a stock row is tampered with behind the ledger, then reconciliation reports it', async () => {
    await knownProduct('p-tamper', 2);
    await db.query("UPDATE stock SET on_hand = 7 WHERE product_id = 'p-tamper'");
    const res = (await inventory.app.inject('/inventory/reconciliation')).json();
    expect(res.ok).toBe(false);
    expect(res.mismatches).toEqual([{ productId: 'p-tamper', onHand: 7, onHandFromLedger: 2, reserved: 0, reservedFromReservations: 0, reservedFromLedger: 0 }]);
  });
});
