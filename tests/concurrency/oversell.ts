import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import { signInStaff, signUpCustomer, type Session } from '../support/auth';

/**
 * The oversell storm, through the gateway only: two scarce products (A: 60 units, B: 40) and one
 * plentiful (C) are ordered by at least a thousand concurrent checkouts whose product lists overlap
 * in every order (A+B, B+A, A+C, B+C+A …). Whatever the interleaving, exactly the units that
 * existed are sold, every other order is rejected naming what was short, nothing is left reserved,
 * and the stock ledger still reconciles — while staff adjust C's stock on the same rows. Both modes
 * run the same scenario.
 */
export interface StormOptions {
  mode: string;
  url: string;
  /** Orders fired at once (bounded by `concurrency`). Default 1,000. */
  orders?: number;
  /** Requests in flight at a time. Default 64. */
  concurrency?: number;
  /** How long every order gets to reach a final status. */
  terminalTimeoutMs: number;
  /** Seed of the order mix; printed, so a failing mix can be replayed (CONCURRENCY_SEED). */
  seed?: number;
  /** Staff lanes adjusting C (+1, −1, … netting to zero) for as long as orders are being placed. Default 2. */
  staffLanes?: number;
}

export interface StormFigures {
  mode: string;
  seed: number;
  sent: number;
  accepted: number;
  completed: number;
  rejected: number;
  otherStatuses: Record<string, number>;
  soldPerProduct: Record<'A' | 'B' | 'C', number>;
  stock: Record<'A' | 'B' | 'C', { onHand: number; reserved: number }>;
  staffAdjustments: number;
  serverErrors: number;
  placingMs: number;
  settlingMs: number;
}

type Key = 'A' | 'B' | 'C';
const INITIAL: Record<Key, number> = { A: 60, B: 40, C: 5000 };
/** Product lists in the order a shopper wrote them: the lock order must not depend on it. */
const MIXES: Key[][] = [['A'], ['B'], ['C'], ['A', 'B'], ['B', 'A'], ['A', 'C'], ['C', 'A'], ['B', 'C'], ['C', 'B'], ['B', 'C', 'A'], ['A', 'C', 'B'], ['C', 'A', 'B']];

interface PlannedOrder {
  lines: Array<{ key: Key; quantity: number }>;
}

interface OrderBody {
  id: string;
  status: string;
  statusReason: string | null;
  terminal: boolean;
  items: Array<{ productId: string; quantity: number }>;
}

/** mulberry32: a small seeded generator, so the mix of a failing run can be replayed. */
function generator(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The mix: random overlapping lists with 1–3 units per line, and a tail of single-unit orders of
 * A and B, so the scarce stock is drained to the last unit rather than left at one or two that no
 * later order fits.
 */
export function planOrders(count: number, seed: number): PlannedOrder[] {
  const random = generator(seed);
  const tail = Math.floor(count / 10);
  return Array.from({ length: count }, (_, i) => {
    if (i >= count - tail) return { lines: [{ key: i % 2 ? 'A' : 'B', quantity: 1 }] };
    const mix = MIXES[Math.floor(random() * MIXES.length)]!;
    return { lines: mix.map((key) => ({ key, quantity: 1 + Math.floor(random() * 3) })) };
  });
}

/** Runs `work` over `items` with at most `limit` in flight. */
async function pooled<T, R>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

export async function runOversellStorm(options: StormOptions): Promise<StormFigures> {
  const count = options.orders ?? 1000;
  const concurrency = options.concurrency ?? 64;
  const seed = options.seed ?? (Number(process.env.CONCURRENCY_SEED) || randomBytes(4).readUInt32LE(0));
  const run = randomBytes(3).toString('hex');
  const ids: Record<Key, string> = { A: `conc-${run}-a`, B: `conc-${run}-b`, C: `conc-${run}-c` };
  const names: Record<Key, string> = { A: `Storm ${run} A`, B: `Storm ${run} B`, C: `Storm ${run} C` };
  const keyOf = new Map((Object.keys(ids) as Key[]).map((k) => [ids[k], k]));
  const serverErrors: string[] = [];

  // Staff stock the shop, adjust stock and watch every order; ten shoppers place the orders.
  const staff = await signInStaff(options.url);
  const shoppers: Session[] = [];
  for (let i = 0; i < 10; i++) shoppers.push(await signUpCustomer(options.url));

  const call = async (method: string, path: string, body?: unknown, as: Session = staff) => {
    const res = await fetch(`${options.url}${path}`, {
      method,
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...as.headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (res.status >= 500) serverErrors.push(`${method} ${path} → ${res.status} ${text.slice(0, 200)}`);
    return { status: res.status, body: text ? JSON.parse(text) : null };
  };

  const until = async <T>(probe: () => Promise<T | undefined>, what: string, ms = 60_000): Promise<T> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const value = await probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`${options.mode}: timed out after ${ms} ms waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  const level = async (key: Key) => (await call('GET', `/inventory/${ids[key]}`)).body as { onHand: number; reserved: number; available: number };

  // Products through the catalog; stock set once inventory has heard of them.
  for (const key of Object.keys(ids) as Key[]) {
    const created = await call('POST', '/products', {
      id: ids[key],
      sku: `STORM-${run.toUpperCase()}-${key}`,
      name: names[key],
      category: 'concurrency',
      price: { amount: 1000, currency: 'EUR' },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    await until(async () => ((await call('POST', `/inventory/${ids[key]}/update`, { set: INITIAL[key], reason: 'storm opening stock' })).status === 200 ? true : undefined), `inventory to know ${key}`);
  }

  // One warm-up checkout of all three: orders knows the products (422 until it does) and every
  // consumer group is running before the storm. It counts like any other order.
  const warmUp = await until(async () => {
    const res = await call('POST', '/api/orders', {
      items: (['A', 'B', 'C'] as Key[]).map((k) => ({ product_id: ids[k], quantity: 1 })),
      payment_method: 'credit_card',
      payment_token: 'tok_success',
    }, shoppers[0]);
    return res.status === 201 ? (res.body as OrderBody) : undefined;
  }, 'orders to know the storm products');
  const terminal = async (id: string, ms: number) =>
    until(async () => {
      const res = await call('GET', `/api/orders/${id}`);
      return res.body?.terminal ? (res.body as OrderBody) : undefined;
    }, `order ${id} to reach a final status`, ms);
  expect((await terminal(warmUp.id, 60_000)).status).toBe('completed');

  // The storm.
  const plan = planOrders(count, seed);
  const placingStarted = Date.now();
  let placing = true;
  const staffLane = async () => {
    const answers: Array<Awaited<ReturnType<typeof call>>> = [];
    while (placing || answers.length % 2 === 1) {
      const adjust = answers.length % 2 === 0 ? 1 : -1;
      answers.push(await call('POST', `/inventory/${ids.C}/update`, { adjust, reason: adjust > 0 ? 'found in the back' : 'damaged' }));
    }
    return answers;
  };
  const [placed, ...lanes] = await Promise.all([
    pooled(plan, concurrency, async (order, i) =>
      call('POST', '/api/orders', {
        items: order.lines.map((l) => ({ product_id: ids[l.key], quantity: l.quantity })),
        payment_method: 'credit_card',
        payment_token: 'tok_success',
      }, shoppers[i % shoppers.length]),
    ).finally(() => {
      placing = false;
    }),
    ...Array.from({ length: options.staffLanes ?? 2 }, staffLane),
  ]);
  const adjusted = lanes.flat();
  const placingMs = Date.now() - placingStarted;
  const accepted = placed.filter((p) => p.status === 201).map((p) => p.body as OrderBody);

  // Every order reaches a final status within the deadline: none is stuck.
  const settlingStarted = Date.now();
  const deadline = settlingStarted + options.terminalTimeoutMs;
  const finals = new Map<string, OrderBody>([[warmUp.id, await terminal(warmUp.id, 1000)]]);
  let pending = accepted.map((o) => o.id);
  while (pending.length > 0) {
    const seen = await pooled(pending, 16, async (id) => (await call('GET', `/api/orders/${id}`)).body as OrderBody);
    for (const order of seen) if (order?.terminal) finals.set(order.id, order);
    pending = pending.filter((id) => !finals.has(id));
    if (pending.length === 0 || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  const stuck = seenStatuses(await Promise.all(pending.slice(0, 200).map(async (id) => (await call('GET', `/api/orders/${id}`)).body as OrderBody)));
  const settlingMs = Date.now() - settlingStarted;

  const all = [...finals.values()];
  const completed = all.filter((o) => o.status === 'completed');
  const rejected = all.filter((o) => o.status === 'rejected');
  const sold: Record<Key, number> = { A: 0, B: 0, C: 0 };
  for (const order of completed) for (const line of order.items) sold[keyOf.get(line.productId)!] += line.quantity;

  // Inventory turns each completed order's reservation into a sale when order_completed reaches it.
  const stock = await until(async () => {
    const levels = { A: await level('A'), B: await level('B'), C: await level('C') };
    return Object.values(levels).every((l) => l.reserved === 0) ? levels : undefined;
  }, 'every reservation to be sold or released', 60_000).catch(async () => ({ A: await level('A'), B: await level('B'), C: await level('C') }));

  const figures: StormFigures = {
    mode: options.mode,
    seed,
    sent: count,
    accepted: accepted.length,
    completed: completed.length,
    rejected: rejected.length,
    otherStatuses: seenStatuses(all.filter((o) => o.status !== 'completed' && o.status !== 'rejected')),
    soldPerProduct: sold,
    staffAdjustments: adjusted.filter((a) => a.status === 200).length,
    stock: { A: pick(stock.A), B: pick(stock.B), C: pick(stock.C) },
    serverErrors: serverErrors.length,
    placingMs,
    settlingMs,
  };
  console.log(`oversell storm (${options.mode}): ${JSON.stringify(figures)}`);

  expect(serverErrors, 'responses ≥ 500').toEqual([]);
  expect(placed.filter((p) => p.status !== 201).map((p) => `${p.status} ${JSON.stringify(p.body).slice(0, 200)}`), 'orders not accepted').toEqual([]);
  expect(stuck, 'orders still not final at the deadline (status → count)').toEqual({});
  expect(figures.otherStatuses, 'orders ending neither completed nor rejected').toEqual({});
  expect(adjusted.filter((a) => a.status !== 200).map((a) => `${a.status} ${JSON.stringify(a.body)}`), 'staff adjustments refused').toEqual([]);

  // Exactly the units that existed were sold, never more, and nothing is left reserved.
  expect(sold.A).toBe(INITIAL.A);
  expect(sold.B).toBe(INITIAL.B);
  expect(figures.stock.A).toEqual({ onHand: 0, reserved: 0 });
  expect(figures.stock.B).toEqual({ onHand: 0, reserved: 0 });
  // The staff's adjustments net to zero.
  expect(figures.stock.C).toEqual({ onHand: INITIAL.C - sold.C, reserved: 0 });

  // Every rejection names a product of its own order that really ran short (A or B, never C).
  const badReasons = rejected.filter((o) => {
    const reason = o.statusReason ?? '';
    const keys = o.items.map((l) => keyOf.get(l.productId)!);
    const named = (Object.keys(names) as Key[]).filter((k) => reason.includes(`${names[k]} (requested`));
    return !reason.startsWith('Not enough stock:') || named.length === 0 || named.includes('C') || named.some((k) => !keys.includes(k));
  });
  expect(badReasons.slice(0, 5).map((o) => `${o.id}: ${o.statusReason}`), 'rejections that do not name a short product of the order').toEqual([]);

  const reconciliation = await call('GET', '/inventory/reconciliation');
  expect(reconciliation.body).toEqual({ ok: true, mismatches: [] });
  return figures;
}

function seenStatuses(orders: ReadonlyArray<OrderBody | null | undefined>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const order of orders) counts[order?.status ?? 'unreadable'] = (counts[order?.status ?? 'unreadable'] ?? 0) + 1;
  return counts;
}

const pick = (l: { onHand: number; reserved: number }) => ({ onHand: l.onHand, reserved: l.reserved });
