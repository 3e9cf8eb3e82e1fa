import { expect } from 'vitest';

/**
 * What the saga tests assert about an ended order, through the public HTTP of each service only:
 * every undo ran exactly once, in reverse order of the steps, each requested only after the one
 * before it was confirmed.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read loosely typed JSON
export type Json = any;
export type Call = (method: string, path: string, body?: unknown) => Promise<{ status: number; body: Json }>;

export interface Compensation {
  step: 'shipment' | 'payment' | 'stock';
  action: string;
  status: 'planned' | 'requested' | 'confirmed';
  requestedAt: string | null;
  confirmedAt: string | null;
}

export async function until<T>(probe: () => Promise<T | undefined | null | false>, what: string, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export const getOrder = async (call: Call, id: string): Promise<Json> => (await call('GET', `/api/orders/${id}`)).body;

export const orderIn = (call: Call, id: string, status: string, ms?: number): Promise<Json> =>
  until(async () => {
    const order = await getOrder(call, id);
    return order.status === status ? order : undefined;
  }, `order ${id} to be ${status}`, ms);

/** Waits until the ended order's compensations are all confirmed and returns the order. */
export const compensated = (call: Call, id: string, steps: Array<Compensation['step']>, ms?: number): Promise<Json> =>
  until(async () => {
    const order = await getOrder(call, id);
    const list = order.compensations as Compensation[];
    return order.terminal && list.length === steps.length && list.every((c) => c.status === 'confirmed') ? order : undefined;
  }, `order ${id} to have ${steps.join(', ') || 'no'} compensations confirmed`, ms);

/**
 * Asserts that `order` ended with exactly `steps` undone (in this order), each once: orders' own
 * record, and what shipping, payments and inventory show for the order.
 */
export async function expectUndoneOnceInReverse(call: Call, order: Json, steps: Array<Compensation['step']>, productId: string): Promise<void> {
  const list = order.compensations as Compensation[];
  expect(list.map((c) => c.step)).toEqual(steps);
  const sequenced = (['shipment', 'payment', 'stock'] as const).filter((s) => steps.includes(s));
  expect(steps).toEqual(sequenced);
  for (let i = 1; i < list.length; i++) {
    // Each undo is requested only once the one before it is confirmed.
    expect(Date.parse(list[i]!.requestedAt!)).toBeGreaterThanOrEqual(Date.parse(list[i - 1]!.confirmedAt!));
  }
  const at: number[] = [];
  if (steps.includes('shipment')) {
    const shipment = (await call('GET', `/shipments?orderId=${order.id}`)).body;
    const cancellations = (shipment.history as Array<{ status: string; at: string }>).filter((h) => h.status === 'cancelled');
    expect(cancellations).toHaveLength(1);
    expect(shipment.status).toBe('cancelled');
    at.push(Date.parse(cancellations[0]!.at));
  }
  if (steps.includes('payment')) {
    const payment = (await call('GET', `/api/payments?orderId=${order.id}`)).body;
    const releases = (payment.transactions as Array<{ kind: string; outcome: string; createdAt: string }>).filter((t) => (t.kind === 'void' || t.kind === 'refund') && t.outcome === 'succeeded');
    expect(releases).toHaveLength(1);
    expect(['voided', 'refunded']).toContain(payment.status);
    at.push(Date.parse(releases[0]!.createdAt));
  }
  const movements = (await call('GET', `/inventory/${productId}/movements?limit=200`)).body.items as Array<{ kind: string; orderId: string | null; createdAt: string }>;
  const released = movements.filter((m) => m.orderId === order.id && m.kind === 'released');
  if (steps.includes('stock')) {
    expect(released).toHaveLength(1);
    at.push(Date.parse(released[0]!.createdAt));
  } else {
    expect(released).toHaveLength(0);
  }
  // The services' own clocks agree: shipment cancelled, then payment released, then stock released.
  expect(at).toEqual([...at].sort((a, b) => a - b));
}
