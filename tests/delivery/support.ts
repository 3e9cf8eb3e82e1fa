/**
 * Shared by the delivery suites: public HTTP calls, polling with deadlines, a few checkouts of
 * every outcome, state snapshots of service schemas and counters read from /metrics.
 */
import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import type { Sql } from '@emporium/platform';
import { signInStaff, signUpCustomer, type Session } from '../support/auth';

export const HANDLING_SERVICES = ['cart', 'inventory', 'orders', 'payments', 'shipping', 'catalog'] as const;

export interface Reply {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read loosely typed JSON
  body: any;
}

/** A public call through the gateway, signed in as `as` when given. */
export async function call(base: string, method: string, path: string, body?: unknown, as?: Session): Promise<Reply> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...as?.headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // not JSON (e.g. /metrics)
  }
  return { status: res.status, body: parsed };
}

export async function until<T>(probe: () => Promise<T | undefined>, what: string, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Waits until `isQuiet` has held on several consecutive polls (nothing in flight anywhere). */
export async function untilQuiet(isQuiet: () => Promise<boolean>, what: string, ms = 60_000): Promise<void> {
  let streak = 0;
  await until(async () => {
    streak = (await isQuiet()) ? streak + 1 : 0;
    return streak >= 3 ? true : undefined;
  }, what, ms);
}

/**
 * A few checkouts of every outcome through the gateway: completed, completed from a cart with a
 * discount, payment_failed (declined), rejected (out of stock) and cancelled by the customer.
 * Resolves with the orders' final statuses.
 */
export async function runCheckouts(gateway: string): Promise<Record<string, string>> {
  const run = randomBytes(3).toString('hex');
  const staff = await signInStaff(gateway);
  const shopper = await signUpCustomer(gateway);
  const plenty = `dlv-${run}-a`;
  const scarce = `dlv-${run}-b`;
  for (const [id, price, stock] of [[plenty, 2500, 100], [scarce, 999, 1]] as const) {
    const created = await call(gateway, 'POST', '/products', {
      id,
      sku: `DLV-${id.toUpperCase().replace(/[^A-Z0-9]/g, '')}`.slice(0, 40),
      name: `Delivery ${id}`,
      category: 'delivery',
      price: { amount: price, currency: 'EUR' },
    }, staff);
    expect(created.status).toBe(201);
    await until(async () => ((await call(gateway, 'POST', `/inventory/${id}/update`, { set: stock, reason: 'delivery test stock' }, staff)).status === 200 ? true : undefined), `inventory to know ${id}`);
  }
  const place = async (items: Array<[string, number]>, token?: string) => {
    const placed = await call(gateway, 'POST', '/api/orders', {
      items: items.map(([product_id, quantity]) => ({ product_id, quantity })),
      payment_method: 'credit_card',
      ...(token ? { payment_token: token } : {}),
    }, shopper);
    expect(placed.status, JSON.stringify(placed.body)).toBe(201);
    return placed.body.id as string;
  };
  const ids: string[] = [];
  ids.push(await place([[plenty, 2]], 'tok_success'));
  ids.push(await place([[plenty, 1]], 'tok_declined'));
  ids.push(await place([[plenty, 1], [scarce, 2]], 'tok_success'));
  const toCancel = await place([[plenty, 3]]);
  await until(async () => ((await call(gateway, 'GET', `/api/orders/${toCancel}`, undefined, shopper)).body.status === 'awaiting_payment' ? true : undefined), 'awaiting_payment');
  expect((await call(gateway, 'POST', `/api/orders/${toCancel}/cancel`, { reason: 'changed my mind' }, shopper)).status).toBe(200);
  ids.push(toCancel);
  expect((await call(gateway, 'POST', `/cart/${shopper.id}/add`, { productId: plenty, quantity: 2 }, shopper)).status).toBe(200);
  expect((await call(gateway, 'POST', '/discounts', { code: `DLV${run.toUpperCase()}`, kind: 'percentage', value: 10 }, staff)).status).toBe(201);
  expect((await call(gateway, 'POST', `/cart/${shopper.id}/discount`, { code: `DLV${run.toUpperCase()}` }, shopper)).status).toBe(200);
  const fromCart = await call(gateway, 'POST', '/api/orders', { from_cart: true, payment_method: 'credit_card', payment_token: 'tok_success' }, shopper);
  expect(fromCart.status).toBe(201);
  ids.push(fromCart.body.id as string);
  const statuses: Record<string, string> = {};
  for (const id of ids) {
    statuses[id] = await until(async () => {
      const order = (await call(gateway, 'GET', `/api/orders/${id}`, undefined, shopper)).body;
      return order.terminal ? (order.status as string) : undefined;
    }, `order ${id} to finish`);
  }
  expect(Object.values(statuses).sort()).toEqual(['cancelled', 'completed', 'completed', 'payment_failed', 'rejected']);
  return statuses;
}

/** Tables that record delivery itself, not the service's state. */
const BOOKKEEPING = new Set(['outbox', 'inbox', 'schema_migrations']);

/** Every row of every table of `schema` (bookkeeping left out), in a stable order. */
export async function snapshotSchema(sql: Sql, schema: string): Promise<Record<string, string[]>> {
  const { rows: tables } = await sql.query<{ table_name: string }>(
    "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE' ORDER BY table_name",
    [schema],
  );
  const snapshot: Record<string, string[]> = {};
  for (const { table_name: table } of tables) {
    if (BOOKKEEPING.has(table)) continue;
    const { rows } = await sql.query(`SELECT * FROM ${schema}.${table}`);
    snapshot[table] = rows.map((r) => JSON.stringify(r)).sort();
  }
  return snapshot;
}

/** Events a service committed that its relay has not sent yet (the relay deletes what it sent). */
export async function unsentEvents(sql: Sql, schema: string): Promise<number> {
  const { rows } = await sql.query<{ n: number }>(`SELECT count(*) AS n FROM ${schema}.outbox`);
  return Number(rows[0]!.n);
}

/** Sum of a Prometheus counter on a service's /metrics, over series whose labels include `match`. */
export async function counter(serviceUrl: string, name: string, match: Record<string, string> = {}): Promise<number> {
  const res = await fetch(`${serviceUrl}/metrics`);
  const text = await res.text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(match).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/** Handled, duplicate, ignored and failed deliveries counted by each service's consumers. */
export async function handledCounts(urls: Record<string, string>): Promise<Record<'handled' | 'duplicate' | 'ignored' | 'failed', number>> {
  const totals = { handled: 0, duplicate: 0, ignored: 0, failed: 0 };
  for (const url of Object.values(urls)) {
    for (const outcome of Object.keys(totals) as Array<keyof typeof totals>) totals[outcome] += await counter(url, 'events_handled_total', { outcome });
  }
  return totals;
}
