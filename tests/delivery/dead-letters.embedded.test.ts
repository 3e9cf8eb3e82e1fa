import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeEnvelope } from '@emporium/contracts';
import { partitionFor } from '@emporium/platform';
import { startEmbedded, type EmbeddedPlatform } from '@emporium/launcher/embedded';
import { signInStaff, TEST_ADMIN, type Session } from '../support/auth';
import { call as callAs, counter, until } from './support';

/**
 * A poison event — one no retry can fix — must not block its partition: it is retried a bounded
 * number of times, parked on the dead-letter topic, logged, counted, listed for staff, and can
 * be replayed (with corrected data) exactly once.
 */
describe('poison events and the dead-letter operations (embedded)', () => {
  let platform: EmbeddedPlatform;
  const run = randomBytes(3).toString('hex');
  const product = `poison-${run}`;

  let staff: Session;
  const call = (base: string, method: string, path: string, body?: unknown) => callAs(base, method, path, body, staff);

  beforeAll(async () => {
    platform = await startEmbedded({ port: 0, logLevel: 'silent', admin: TEST_ADMIN });
    staff = await signInStaff(platform.url);
    expect((await call(platform.url, 'POST', '/products', { id: product, sku: `PSN-${run.toUpperCase()}`, name: 'Poison test', category: 'delivery', price: { amount: 100, currency: 'EUR' } })).status).toBe(201);
    await until(async () => ((await call(platform.url, 'POST', `/inventory/${product}/update`, { set: 10, reason: 'stock' })).status === 200 ? true : undefined), 'inventory to know the product');
  }, 120_000);
  afterAll(async () => {
    await platform?.stop();
  }, 60_000);

  const orderPlaced = (orderId: string, quantity: number) =>
    makeEnvelope({
      type: 'order_placed',
      source: 'delivery-test',
      key: orderId,
      data: {
        orderId,
        customerId: `c-${run}`,
        items: [{ productId: product, name: 'Poison test', quantity, unitPrice: 100, lineTotal: 100 * quantity }],
        currency: 'EUR',
        subtotal: 100 * quantity,
        discount: 0,
        total: 100 * quantity,
        paymentMethod: 'credit_card',
        source: 'direct',
        reserveUntil: new Date(Date.now() + 3_600_000).toISOString(),
      },
    });

  const publish = (envelope: ReturnType<typeof orderPlaced>) =>
    platform.bus.publish([{ topic: 'order-events', key: envelope.key, value: JSON.stringify(envelope), headers: { 'event-id': envelope.id, 'event-type': envelope.type } }]);

  it('when an event fails its schema, then it is parked after maxAttempts, listed, counted, the partition moves on, and a corrected replay applies it once (a second replay is 409)', async () => {
    const inventoryUrl = platform.services.inventory!.url;
    const parkedBefore = await counter(inventoryUrl, 'events_dead_lettered_total', { group: 'inventory', topic: 'order-events' });

    // A poison order_placed (quantity 0 breaks the contract), then a good one on the same partition.
    const poisonId = `ord_poison_${run}`;
    const poison = orderPlaced(poisonId, 0);
    let followerId = '';
    for (let i = 0; partitionFor(followerId, 4) !== partitionFor(poisonId, 4) || !followerId; i++) followerId = `ord_after_${run}_${i}`;
    await publish(poison);
    await publish(orderPlaced(followerId, 2));

    // The partition moved on: the later order's stock is reserved.
    await until(async () => ((await call(platform.url, 'GET', `/inventory/${product}`)).body.reserved === 2 ? true : undefined), 'the later event on the same partition to be handled');

    const parked = await until(async () => {
      const list = await call(platform.url, 'GET', '/ops/inventory/dead-letters?status=parked');
      expect(list.status).toBe(200);
      return list.body.items.find((d: { eventId: string }) => d.eventId === poison.id);
    }, 'the poison event to be listed');
    expect(parked).toMatchObject({ status: 'parked', topic: 'order-events', key: poisonId, type: 'order_placed', attempts: 5, replayedAt: null });
    expect(parked.error).toMatch(/quantity/);
    expect(Number(parked.offset)).toBeGreaterThan(0);
    expect(await counter(inventoryUrl, 'events_dead_lettered_total', { group: 'inventory', topic: 'order-events' })).toBe(parkedBefore + 1);
    // Only inventory handles order_placed: the groups that ignore the type park nothing.
    expect((await call(platform.url, 'GET', '/ops/cart/dead-letters')).body.items).toEqual([]);
    expect((await call(platform.url, 'GET', '/ops/payments/dead-letters')).body.items).toEqual([]);

    // Unchanged, it still fails: 422 and it stays parked with the error.
    const unfixed = await call(platform.url, 'POST', `/ops/inventory/dead-letters/${parked.id}/replay`);
    expect(unfixed.status, JSON.stringify(unfixed.body)).toBe(422);
    expect(unfixed.body.code).toBe('OPS.REPLAY_FAILED');
    const stillParked = (await call(platform.url, 'GET', '/ops/inventory/dead-letters?status=parked')).body.items.find((d: { id: string }) => d.id === parked.id);
    expect(stillParked.lastReplayError).toMatch(/quantity/);

    // Corrected data: handled once through the inbox; stock reserved for it.
    const fixed = await call(platform.url, 'POST', `/ops/inventory/dead-letters/${parked.id}/replay`, { data: orderPlaced(poisonId, 1).data });
    expect(fixed.status).toBe(200);
    expect(fixed.body).toMatchObject({ id: parked.id, status: 'replayed', replayOutcome: 'handled' });
    expect((await call(platform.url, 'GET', `/inventory/${product}`)).body.reserved).toBe(3);

    const again = await call(platform.url, 'POST', `/ops/inventory/dead-letters/${parked.id}/replay`, { data: orderPlaced(poisonId, 1).data });
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('OPS.ALREADY_REPLAYED');
    expect((await call(platform.url, 'GET', `/inventory/${product}`)).body.reserved).toBe(3);
    expect((await call(platform.url, 'GET', '/ops/inventory/dead-letters?status=replayed')).body.items.map((d: { id: string }) => d.id)).toContain(parked.id);
    expect((await call(platform.url, 'POST', '/ops/inventory/dead-letters/999999/replay')).status).toBe(404);
    expect((await call(platform.url, 'GET', '/ops/nowhere/dead-letters')).status).toBe(404);
  }, 120_000);
});
