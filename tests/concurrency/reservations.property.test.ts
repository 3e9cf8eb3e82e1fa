import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS, makeEnvelope, type EventData, type EventType } from '@emporium/contracts';
import type { Db, Service } from '@emporium/platform';
import { createTestPlatform, emittedEvents, eventually, type TestPlatform } from '@emporium/platform/testing';
import { createInventoryService } from '@emporium/inventory';

/**
 * Random lives of orders over three products — placed, confirmed, cancelled, completed, left to
 * expire — interleaved at random with staff counts and adjustments, all racing the inventory
 * service's consumers (one loop per partition) and its expiry sweep. Whatever happened, the stock
 * must still add up.
 */
type Fate = 'open' | 'cancel' | 'complete' | 'confirm_complete' | 'confirm_cancel' | 'expire' | 'confirm_expire';

interface OrderPlan {
  lines: Array<{ product: number; quantity: number }>;
  fate: Fate;
  /** For the expiring fates: how soon the reservation runs out. */
  holdMs: number;
}

type StaffOp = { product: number; set: number } | { product: number; adjust: number };

type Step =
  | { kind: 'event'; order: number; type: 'order_placed' | 'order_confirmed' | 'order_cancelled' | 'order_completed' }
  | { kind: 'staff'; op: StaffOp };

const PRODUCTS = 3;

const orderPlan: fc.Arbitrary<OrderPlan> = fc.record({
  lines: fc.array(fc.record({ product: fc.integer({ min: 0, max: PRODUCTS - 1 }), quantity: fc.integer({ min: 1, max: 4 }) }), { minLength: 1, maxLength: 4 }),
  fate: fc.constantFrom<Fate>('open', 'cancel', 'complete', 'confirm_complete', 'confirm_cancel', 'expire', 'confirm_expire'),
  holdMs: fc.integer({ min: 0, max: 150 }),
});

const staffOp: fc.Arbitrary<StaffOp> = fc.oneof(
  fc.record({ product: fc.integer({ min: 0, max: PRODUCTS - 1 }), set: fc.integer({ min: 0, max: 12 }) }),
  fc.record({ product: fc.integer({ min: 0, max: PRODUCTS - 1 }), adjust: fc.integer({ min: -6, max: 6 }).filter((n) => n !== 0) }),
);

const scenario = fc.record({
  opening: fc.array(fc.integer({ min: 0, max: 10 }), { minLength: PRODUCTS, maxLength: PRODUCTS }),
  orders: fc.array(orderPlan, { minLength: 1, maxLength: 10 }),
  staff: fc.array(staffOp, { maxLength: 6 }),
  /** Which lane moves next, and how many steps run at once. */
  picks: fc.array(fc.nat(), { maxLength: 60 }),
  batches: fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 20 }),
});

const STEPS: Record<Fate, Array<Extract<Step, { kind: 'event' }>['type']>> = {
  open: ['order_placed'],
  cancel: ['order_placed', 'order_cancelled'],
  complete: ['order_placed', 'order_completed'],
  confirm_complete: ['order_placed', 'order_confirmed', 'order_completed'],
  confirm_cancel: ['order_placed', 'order_confirmed', 'order_cancelled'],
  expire: ['order_placed'],
  confirm_expire: ['order_placed', 'order_confirmed'],
};

/** Reservation statuses each fate may end in, once everything has been handled. */
const FINAL: Record<Fate, string[]> = {
  open: ['active'],
  cancel: ['released'],
  complete: ['committed'],
  confirm_complete: ['committed'],
  confirm_cancel: ['released'],
  expire: ['expired'],
  // Confirmation and expiry race: either the stock is held for the paid order, or it ran out first.
  confirm_expire: ['active', 'expired'],
};

/** Merges each order's lanes in the order `picks` says; a step of an order never overtakes an earlier one of it. */
function interleave(orders: OrderPlan[], staff: StaffOp[], picks: number[]): Step[] {
  const lanes: Step[][] = [
    ...orders.map((o, order) => STEPS[o.fate].map((type): Step => ({ kind: 'event', order, type }))),
    ...staff.map((op): Step[] => [{ kind: 'staff', op }]),
  ];
  const steps: Step[] = [];
  let i = 0;
  for (;;) {
    const open = lanes.filter((l) => l.length > 0);
    if (open.length === 0) return steps;
    steps.push(open[(picks[i++] ?? 0) % open.length]!.shift()!);
  }
}

/** Consecutive steps in batches of the given sizes; a batch never holds two steps of one order. */
function toBatches(steps: Step[], sizes: number[]): Step[][] {
  const batches: Step[][] = [];
  let current: Step[] = [];
  let s = 0;
  for (const step of steps) {
    const clash = step.kind === 'event' && current.some((c) => c.kind === 'event' && c.order === step.order);
    if (clash || current.length >= (sizes[s % sizes.length] ?? 1)) {
      batches.push(current);
      current = [];
      s++;
    }
    current.push(step);
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

describe('reservations under random concurrent interleavings (embedded database, inventory service)', () => {
  let platform: TestPlatform;
  let inventory: Service;
  let db: Db;
  let bus: Db;
  let run = 0;

  beforeAll(async () => {
    platform = await createTestPlatform();
    inventory = await createInventoryService(platform.deps('inventory'), { expiryIntervalMs: 25 });
    await inventory.start();
    db = platform.deps('inventory').db;
    bus = platform.pglite.forSchema('bus');
  });
  afterAll(async () => {
    await inventory?.stop();
    await platform?.close();
  });

  const publish = async <T extends EventType>(type: T, key: string, data: EventData<T>): Promise<string> => {
    const envelope = makeEnvelope({ type, source: 'property-test', key, data });
    await platform.bus.publish([{ topic: EVENTS[type].topic, key, value: JSON.stringify(envelope) }]);
    return envelope.id;
  };
  const handled = (ids: string[]) =>
    eventually(async () => (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM inbox WHERE event_id = ANY($1::uuid[])', [ids])).rows[0]!.n === ids.length, 15_000, `${ids.length} events handled`);
  const update = (productId: string, body: unknown) => inventory.app.inject({ method: 'POST', url: `/inventory/${productId}/update`, payload: body as object });

  it('when orders are placed, confirmed, cancelled, completed and expire while staff recount, in any interleaving, then stock never goes negative, never exceeds what is on hand, and always matches its ledger and reservations', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async ({ opening, orders, staff, picks, batches }) => {
        run++;
        const products = Array.from({ length: PRODUCTS }, (_, p) => `prop-${run}-${p}`);
        const orderId = (i: number) => `prop-${run}-o${i}`;
        const created = await Promise.all(
          products.map((productId) =>
            publish('product_created', productId, {
              productId,
              sku: `PROP-${productId.toUpperCase()}`,
              name: productId,
              description: '',
              category: 'test',
              imageUrl: null,
              price: { amount: 100, currency: 'EUR' },
              active: true,
            }),
          ),
        );
        await handled(created);
        for (const [p, units] of opening.entries()) expect((await update(products[p]!, { set: units, reason: 'opening stock' })).statusCode).toBe(200);

        const events: string[] = [];
        const staffAnswers: Array<{ status: number; code?: string }> = [];
        const perform = async (step: Step): Promise<void> => {
          if (step.kind === 'staff') {
            const { product, ...body } = step.op;
            const res = await update(products[product]!, { ...body, reason: 'stock take' });
            staffAnswers.push({ status: res.statusCode, code: res.statusCode === 200 ? undefined : res.json().code });
            return;
          }
          const plan = orders[step.order]!;
          const id = orderId(step.order);
          const items = plan.lines.map((l) => ({ productId: products[l.product]!, name: 'x', quantity: l.quantity, unitPrice: 100, lineTotal: 100 * l.quantity }));
          if (step.type === 'order_placed') {
            const expiring = plan.fate === 'expire' || plan.fate === 'confirm_expire';
            const reserveUntil = new Date(Date.now() + (expiring ? plan.holdMs : 60_000)).toISOString();
            events.push(await publish('order_placed', id, { orderId: id, customerId: 'c', items, currency: 'EUR', subtotal: 0, discount: 0, total: 0, paymentMethod: 'credit_card', source: 'direct', reserveUntil }));
          } else if (step.type === 'order_confirmed') {
            events.push(await publish('order_confirmed', id, { orderId: id, customerId: 'c', items, total: 0, currency: 'EUR' }));
          } else if (step.type === 'order_cancelled') {
            events.push(await publish('order_cancelled', id, { orderId: id, customerId: 'c', status: 'cancelled', code: 'ORDER.CANCELLED_BY_CUSTOMER', reason: 'changed my mind', releaseStock: true, voidPaymentId: null }));
          } else {
            events.push(await publish('order_completed', id, { orderId: id, customerId: 'c', items: items.map((i) => ({ productId: i.productId, quantity: i.quantity })) }));
          }
        };
        for (const batch of toBatches(interleave(orders, staff, picks), batches)) await Promise.all(batch.map(perform));

        // Quiet: every event handled, and every short hold (≤ 150 ms; open orders hold for a minute)
        // swept — including those not yet due when the last event was handled.
        await handled(events);
        await eventually(
          async () => (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM reservations WHERE status = 'active' AND expires_at < now() + interval '10 seconds'")).rows[0]!.n === 0,
          15_000,
          'short holds to expire',
        );

        expect(staffAnswers.filter((a) => a.status !== 200 && !(a.status === 409 && a.code === 'INVENTORY.WOULD_GO_NEGATIVE'))).toEqual([]);

        // Levels: never negative, never more reserved than on hand, equal to the ledger and to the active reservations.
        const { rows: levels } = await db.query<{ product_id: string; on_hand: number; reserved: number; ledger_on_hand: number; ledger_reserved: number; active: number }>(
          `SELECT s.product_id, s.on_hand, s.reserved,
                  (SELECT COALESCE(sum(quantity), 0)::int FROM stock_movements m WHERE m.product_id = s.product_id AND kind IN ('received', 'adjusted', 'sold')) AS ledger_on_hand,
                  (SELECT COALESCE(sum(quantity), 0)::int FROM stock_movements m WHERE m.product_id = s.product_id AND kind IN ('reserved', 'released', 'sold')) AS ledger_reserved,
                  (SELECT COALESCE(sum(quantity), 0)::int FROM reservations r WHERE r.product_id = s.product_id AND status = 'active') AS active
           FROM stock s WHERE s.product_id = ANY($1::text[]) ORDER BY s.product_id`,
          [products],
        );
        expect(levels).toHaveLength(PRODUCTS);
        for (const l of levels) {
          expect(l.on_hand, l.product_id).toBeGreaterThanOrEqual(0);
          expect(l.reserved, l.product_id).toBeGreaterThanOrEqual(0);
          expect(l.reserved, l.product_id).toBeLessThanOrEqual(l.on_hand);
          expect({ onHand: l.on_hand, reserved: l.reserved, reservedByReservations: l.reserved }).toEqual({ onHand: l.ledger_on_hand, reserved: l.ledger_reserved, reservedByReservations: l.active });
        }

        // Orders: exactly one answer each; reserved in full or not at all; reservations ended as the order's life says.
        for (const [i, plan] of orders.entries()) {
          const id = orderId(i);
          const answers = (await db.query<{ type: string }>(`SELECT type FROM ${emittedEvents('inventory')} WHERE key = $1 AND type IN ('stock_reserved', 'stock_insufficient')`, [id])).rows.map((r) => r.type);
          const { rows: outcome } = await db.query<{ outcome: string }>('SELECT outcome FROM reservation_outcomes WHERE order_id = $1', [id]);
          const { rows: held } = await db.query<{ product_id: string; quantity: number; status: string; expires_at: Date | null }>(
            'SELECT product_id, quantity, status, expires_at FROM reservations WHERE order_id = $1 ORDER BY product_id',
            [id],
          );
          expect(answers, id).toHaveLength(1);
          expect(outcome.map((o) => o.outcome), id).toEqual([answers[0] === 'stock_reserved' ? 'reserved' : 'insufficient']);
          if (answers[0] === 'stock_insufficient') {
            expect(held, `${id} was short yet holds reservations`).toEqual([]);
            continue;
          }
          const wanted = new Map<string, number>();
          for (const l of plan.lines) wanted.set(products[l.product]!, (wanted.get(products[l.product]!) ?? 0) + l.quantity);
          expect(held.map((h) => [h.product_id, h.quantity]), id).toEqual([...wanted].sort(([a], [b]) => (a < b ? -1 : 1)));
          const statuses = [...new Set(held.map((h) => h.status))];
          expect(statuses, `${id} (${plan.fate})`).toHaveLength(1);
          expect(FINAL[plan.fate], `${id} (${plan.fate}) ended ${statuses[0]}`).toContain(statuses[0]);
          if (plan.fate === 'confirm_expire' && statuses[0] === 'active') expect(held.every((h) => h.expires_at === null), `${id} is held without expiry`).toBe(true);
        }

        // No handler gave up on an event, and the service's own reconciliation agrees (on this run's
        // products, so a shrunk counterexample is not blamed for an earlier run's damage).
        expect((await bus.query<{ n: number }>("SELECT count(*)::int AS n FROM messages WHERE topic LIKE '%.dlq'")).rows[0]!.n).toBe(0);
        const reconciliation = (await inventory.app.inject('/inventory/reconciliation')).json() as { mismatches: Array<{ productId: string }> };
        expect(reconciliation.mismatches.filter((m) => products.includes(m.productId))).toEqual([]);
      }),
      { numRuns: 20 },
    );
    expect((await inventory.app.inject('/inventory/reconciliation')).json()).toEqual({ ok: true, mismatches: [] });
  }, 120_000);
});
