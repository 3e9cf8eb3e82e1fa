import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeEnvelope, type EventData, type EventType } from '@emporium/contracts';
import { createTestPlatform, emittedEvents, eventually, type TestPlatform } from '@emporium/platform/testing';
import type { Db, Service } from '@emporium/platform';
import { createShippingService } from '../src/service';
import { luhnCheckDigit, SANDBOX_TRACKING_NUMBER } from '../src/carriers/sandbox';
import type { Carrier } from '../src/carriers/carrier';

const confirmed = (orderId: string): EventData<'order_confirmed'> => ({
  orderId,
  customerId: 'c-1',
  items: [
    { productId: 'p-lamp', name: 'Brass desk lamp', quantity: 2, unitPrice: 4999, lineTotal: 9998 },
    { productId: 'p-chair', name: 'Oak chair', quantity: 1, unitPrice: 12000, lineTotal: 12000 },
  ],
  total: 21998,
  currency: 'EUR',
});

const cancelled = (orderId: string): EventData<'order_cancelled'> => ({
  orderId,
  customerId: 'c-1',
  status: 'cancelled',
  code: 'ORDERS.CANCELLED_BY_CUSTOMER',
  reason: 'customer changed their mind',
  releaseStock: true,
  voidPaymentId: null,
});

/** The order's shipment as `GET /shipments?orderId=` answers it, once there is one. */
const shipmentIn = (shipping: Service, orderId: string) =>
  eventually(async () => {
    const res = await shipping.app.inject(`/shipments?orderId=${orderId}`);
    return res.statusCode === 200 ? res.json() : undefined;
  }, 10_000, `shipment of ${orderId}`);

describe('shipping on the embedded database and bus', () => {
  let platform: TestPlatform;
  let shipping: Service;
  let db: Db;
  let orderSeq = 0;
  const nextOrderId = () => `o-ship-${++orderSeq}`;

  beforeAll(async () => {
    platform = await createTestPlatform();
    shipping = await createShippingService(platform.deps('shipping'));
    await shipping.start();
    db = platform.deps('shipping').db;
  });
  afterAll(async () => {
    await shipping.stop();
    await platform.close();
  });

  /** Publishes envelopes on order-events as the orders service would; returns their ids. */
  const publish = async (...envelopes: ReturnType<typeof makeEnvelope>[]) => {
    await platform.bus.publish(envelopes.map((e) => ({ topic: 'order-events', key: e.key, value: JSON.stringify(e) })));
    return envelopes.map((e) => e.id);
  };
  const envelope = <T extends EventType>(type: T, data: EventData<T> & { orderId: string }) =>
    makeEnvelope({ type, source: 'test', key: data.orderId, data });

  const handled = (eventId: string) =>
    eventually(async () => (await db.query('SELECT 1 FROM inbox WHERE consumer = $1 AND event_id = $2', ['shipping', eventId])).rows.length > 0, 10_000, `event ${eventId} handled`);
  const shipmentOf = (orderId: string) => shipmentIn(shipping, orderId);
  const outbox = async (orderId: string) =>
    (await db.query<{ type: string; topic: string; payload: { data: Record<string, unknown> } }>(`SELECT type, topic, payload FROM ${emittedEvents('shipping')} WHERE key = $1 ORDER BY seq`, [orderId])).rows;
  const setStatus = (shipmentId: string, payload: unknown) =>
    shipping.app.inject({ method: 'POST', url: `/shipments/${shipmentId}/status`, payload: payload as object });

  it('when an order is confirmed, then one shipment is created with a well-formed tracking number and shipment_created is in the outbox', async () => {
    const orderId = nextOrderId();
    await publish(envelope('order_confirmed', confirmed(orderId)));
    const shipment = await shipmentOf(orderId);
    expect(shipment).toMatchObject({
      orderId,
      customerId: 'c-1',
      carrier: 'sandbox-post',
      status: 'created',
      labelUrl: null,
      items: [
        { productId: 'p-lamp', name: 'Brass desk lamp', quantity: 2 },
        { productId: 'p-chair', name: 'Oak chair', quantity: 1 },
      ],
      history: [{ status: 'created', note: null }],
    });
    expect(shipment.trackingNumber).toMatch(SANDBOX_TRACKING_NUMBER);
    const digits = shipment.trackingNumber.slice(2, 12);
    expect(luhnCheckDigit(digits.slice(0, 9))).toBe(Number(digits[9]));

    const events = await outbox(orderId);
    expect(events.map((e) => [e.topic, e.type])).toEqual([['shipment-events', 'shipment_created']]);
    expect(events[0]!.payload.data).toEqual({ orderId, shipmentId: shipment.id, carrier: 'sandbox-post', trackingNumber: shipment.trackingNumber });

    const byId = await shipping.app.inject(`/shipments/${shipment.id}`);
    expect(byId.json()).toEqual(shipment);
  });

  it('when the same order_confirmed arrives twice, and again in a new envelope, then there is still one shipment and one event', async () => {
    const orderId = nextOrderId();
    const first = envelope('order_confirmed', confirmed(orderId));
    const again = envelope('order_confirmed', confirmed(orderId));
    const [, , lastId] = await publish(first, first, again);
    // One key keeps its order, so once the last envelope is handled the earlier ones were too.
    await handled(lastId!);
    const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM shipments WHERE order_id = $1', [orderId]);
    expect(rows[0]!.n).toBe(1);
    expect((await outbox(orderId)).map((e) => e.type)).toEqual(['shipment_created']);
    expect((await shipmentOf(orderId)).history).toHaveLength(1);
  });

  it('when an order with a created shipment is cancelled, then the shipment is cancelled and shipment_cancelled is in the outbox', async () => {
    const orderId = nextOrderId();
    await publish(envelope('order_confirmed', confirmed(orderId)));
    const shipment = await shipmentOf(orderId);
    const [cancelId] = await publish(envelope('order_cancelled', cancelled(orderId)));
    await handled(cancelId!);
    const after = (await shipping.app.inject(`/shipments/${shipment.id}`)).json();
    expect(after.status).toBe('cancelled');
    expect(after.history.map((h: { status: string }) => h.status)).toEqual(['created', 'cancelled']);
    expect(after.history[1].note).toBe('customer changed their mind');
    const events = await outbox(orderId);
    expect(events.map((e) => e.type)).toEqual(['shipment_created', 'shipment_cancelled']);
    expect(events[1]!.payload.data).toEqual({ orderId, shipmentId: shipment.id, reason: 'customer changed their mind' });
  });

  it('when an order without a shipment is cancelled, then nothing is written and nothing is emitted', async () => {
    const orderId = nextOrderId();
    const [cancelId] = await publish(envelope('order_cancelled', cancelled(orderId)));
    await handled(cancelId!);
    expect((await shipping.app.inject(`/shipments?orderId=${orderId}`)).statusCode).toBe(404);
    expect(await outbox(orderId)).toEqual([]);
  });

  it('when an order whose shipment is already in transit is cancelled, then the shipment keeps going', async () => {
    const orderId = nextOrderId();
    await publish(envelope('order_confirmed', confirmed(orderId)));
    const shipment = await shipmentOf(orderId);
    expect((await setStatus(shipment.id, { status: 'in_transit' })).statusCode).toBe(200);
    const [cancelId] = await publish(envelope('order_cancelled', cancelled(orderId)));
    await handled(cancelId!);
    expect((await shipmentOf(orderId)).status).toBe('in_transit');
    expect((await outbox(orderId)).map((e) => e.type)).toEqual(['shipment_created']);
  });

  it('when staff move a shipment to in transit and then delivered, then each step is in its history', async () => {
    const orderId = nextOrderId();
    await publish(envelope('order_confirmed', confirmed(orderId)));
    const shipment = await shipmentOf(orderId);
    const inTransit = await setStatus(shipment.id, { status: 'in_transit', note: 'picked up at the warehouse' });
    expect(inTransit.statusCode).toBe(200);
    expect(inTransit.json()).toMatchObject({ status: 'in_transit' });
    const delivered = (await setStatus(shipment.id, { status: 'delivered' })).json();
    expect(delivered.status).toBe('delivered');
    expect(delivered.history).toMatchObject([
      { status: 'created', note: null },
      { status: 'in_transit', note: 'picked up at the warehouse' },
      { status: 'delivered', note: null },
    ]);
    expect((await shipping.app.inject(`/shipments/${shipment.id}`)).json()).toEqual(delivered);
  });

  it('when staff skip or reverse a step, or touch a cancelled shipment, then 409 SHIPPING.INVALID_TRANSITION and nothing changes', async () => {
    const skipping = await shipmentOf(await publishConfirmed());
    const skip = await setStatus(skipping.id, { status: 'delivered' });
    expect(skip.statusCode).toBe(409);
    expect(skip.headers['content-type']).toContain('application/problem+json');
    expect(skip.json()).toMatchObject({ status: 409, code: 'SHIPPING.INVALID_TRANSITION', from: 'created', to: 'delivered' });

    await setStatus(skipping.id, { status: 'in_transit' });
    const repeat = await setStatus(skipping.id, { status: 'in_transit' });
    expect(repeat.statusCode).toBe(409);
    await setStatus(skipping.id, { status: 'delivered' });
    expect((await setStatus(skipping.id, { status: 'in_transit' })).json().code).toBe('SHIPPING.INVALID_TRANSITION');

    const orderId = await publishConfirmed();
    const cancelledShipment = await shipmentOf(orderId);
    const [cancelId] = await publish(envelope('order_cancelled', cancelled(orderId)));
    await handled(cancelId!);
    const refused = await setStatus(cancelledShipment.id, { status: 'in_transit' });
    expect(refused.statusCode).toBe(409);
    expect(refused.json()).toMatchObject({ code: 'SHIPPING.INVALID_TRANSITION', from: 'cancelled' });
    expect((await shipmentOf(orderId)).history.map((h: { status: string }) => h.status)).toEqual(['created', 'cancelled']);
    expect((await shipmentOf(skipping.orderId)).history).toHaveLength(3);
  });

  it('when the status body is invalid, then 400 names each field and nothing changes', async () => {
    const shipment = await shipmentOf(await publishConfirmed());
    const badStatus = await setStatus(shipment.id, { status: 'cancelled' });
    expect(badStatus.statusCode).toBe(400);
    expect(badStatus.headers['content-type']).toContain('application/problem+json');
    expect(badStatus.json().errors.map((e: { field: string }) => e.field)).toEqual(['status']);

    const unknownField = await setStatus(shipment.id, { status: 'in_transit', carrier: 'other' });
    expect(unknownField.statusCode).toBe(400);
    expect(unknownField.json().errors).toEqual([{ field: 'carrier', message: 'is not a known field' }]);

    const badNote = await setStatus(shipment.id, { status: 'in_transit', note: '' });
    expect(badNote.json().errors.map((e: { field: string }) => e.field)).toEqual(['note']);

    const malformed = await shipping.app.inject({ method: 'POST', url: `/shipments/${shipment.id}/status`, headers: { 'content-type': 'application/json' }, payload: '{"status": ' });
    expect(malformed.json()).toMatchObject({ status: 400, code: 'REQUEST.MALFORMED_JSON' });

    expect((await shipmentOf(shipment.orderId)).history).toHaveLength(1);
  });

  it('when a shipment or an order is unknown, or the query is wrong, then a problem document says which', async () => {
    const unknown = await shipping.app.inject('/shipments/shp_nope');
    expect(unknown.statusCode).toBe(404);
    expect(unknown.headers['content-type']).toContain('application/problem+json');
    expect(unknown.json()).toMatchObject({ status: 404, code: 'SHIPPING.SHIPMENT_NOT_FOUND' });

    expect((await setStatus('shp_nope', { status: 'in_transit' })).json()).toMatchObject({ status: 404, code: 'SHIPPING.SHIPMENT_NOT_FOUND' });
    expect((await shipping.app.inject('/shipments?orderId=o-never')).json()).toMatchObject({ status: 404, code: 'SHIPPING.SHIPMENT_NOT_FOUND' });

    const noOrder = await shipping.app.inject('/shipments');
    expect(noOrder.statusCode).toBe(400);
    expect(noOrder.json().errors.map((e: { field: string }) => e.field)).toEqual(['query.orderId']);

    const extra = await shipping.app.inject('/shipments?orderId=o-1&status=created');
    expect(extra.statusCode).toBe(400);

    const badId = await shipping.app.inject('/shipments/not%20an%20id');
    expect(badId.statusCode).toBe(400);
    expect(badId.json().errors.map((e: { field: string }) => e.field)).toEqual(['params.shipmentId']);
  });

  it('when health, metrics and docs are asked for, then they answer', async () => {
    expect((await shipping.app.inject('/health/ready')).json()).toEqual({ status: 'ok', checks: { database: true, bus: true } });
    expect((await shipping.app.inject('/metrics')).body).toContain('events_handled_total');
    const docs = (await shipping.app.inject('/docs/json')).json();
    expect(Object.keys(docs.paths)).toEqual(expect.arrayContaining(['/shipments', '/shipments/{shipmentId}', '/shipments/{shipmentId}/status']));
  });

  async function publishConfirmed(): Promise<string> {
    const orderId = nextOrderId();
    await publish(envelope('order_confirmed', confirmed(orderId)));
    return orderId;
  }
});

describe('shipping with a carrier that repeats tracking numbers', () => {
  let platform: TestPlatform;
  let shipping: Service;
  // Real carriers reuse tracking numbers after a while; this one gives every parcel the same.
  const recycling: Carrier = {
    code: 'recycling-post',
    name: 'Recycling Post',
    createShipment: async () => ({ carrier: 'recycling-post', trackingNumber: 'RP000000001XX' }),
    cancelShipment: async () => undefined,
  };

  beforeAll(async () => {
    platform = await createTestPlatform();
    shipping = await createShippingService(platform.deps('shipping'), { carriers: [recycling] });
    await shipping.start();
  });
  afterAll(async () => {
    await shipping.stop();
    await platform.close();
  });

  it('when two orders are booked under one tracking number, then each order still gets its shipment and its shipment_created', async () => {
    const orders = ['o-recycled-1', 'o-recycled-2'];
    for (const orderId of orders) {
      const confirmedEvent = makeEnvelope({ type: 'order_confirmed', source: 'test', key: orderId, data: confirmed(orderId) });
      await platform.bus.publish([{ topic: 'order-events', key: orderId, value: JSON.stringify(confirmedEvent) }]);
    }
    const db = platform.deps('shipping').db;
    for (const orderId of orders) {
      const shipment = await shipmentIn(shipping, orderId);
      expect(shipment).toMatchObject({ orderId, carrier: 'recycling-post', trackingNumber: 'RP000000001XX', status: 'created' });
      const emitted = await db.query<{ type: string }>(`SELECT type FROM ${emittedEvents('shipping')} WHERE key = $1`, [orderId]);
      expect(emitted.rows.map((r) => r.type)).toEqual(['shipment_created']);
    }
  });
});
