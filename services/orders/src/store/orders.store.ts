import type { EventData, OrderStatus, ShippingAddress } from '@emporium/contracts';
import { writeChain, type Db, type PendingEvent, type Sql } from '@emporium/platform';
import { assertTransition, deadlineFor, DEFAULT_STEP_TIMEOUTS, isTerminal, type Compensation, type HistoryEntry, type Order, type OrderLine, type StepTimeouts } from '../domain/order';
import type { Reaction } from '../saga/checkout.saga';

interface OrderRow {
  id: string;
  customer_id: string;
  status: OrderStatus;
  status_reason: string | null;
  failure_code: string | null;
  currency: string;
  subtotal: number;
  discount: number;
  discount_code: string | null;
  total: number;
  payment_method: 'credit_card';
  payment_token: string | null;
  payment_id: string | null;
  shipping_address: ShippingAddress | null;
  shipment_id: string | null;
  carrier: string | null;
  tracking_number: string | null;
  source: 'direct' | 'cart';
  stock_reserved: boolean;
  reserve_until: Date;
  step_deadline: Date | null;
  cancellation_emitted: boolean;
  created_at: Date;
  updated_at: Date;
  version: number;
}

/** A line, a compensation and a history entry as the load query's json_agg gives them (timestamps as text). */
type JsonLine = OrderLine;
interface JsonCompensation {
  step: Compensation['step'];
  action: Compensation['action'];
  requestedAt: string | null;
  confirmedAt: string | null;
}
interface JsonHistory {
  status: OrderStatus;
  reason: string | null;
  at: string;
}
const toDate = (value: string | null): Date | null => (value === null ? null : new Date(value));

/** The history column of the order's load query: its statuses, oldest first. */
const HISTORY_COLUMN = `COALESCE((SELECT json_agg(json_build_object('status', h.status, 'reason', h.reason, 'at', h.at) ORDER BY h.id)
                   FROM order_status_history h WHERE h.order_id = o.id), '[]') AS history`;

export interface CatalogProduct {
  productId: string;
  name: string;
  priceAmount: number;
  currency: string;
  active: boolean;
}

const toOrder = (r: OrderRow, items: OrderLine[], compensations: Compensation[] = []): Order => ({
  id: r.id,
  customerId: r.customer_id,
  status: r.status,
  statusReason: r.status_reason,
  failureCode: r.failure_code,
  currency: r.currency,
  subtotal: r.subtotal,
  discount: r.discount,
  discountCode: r.discount_code,
  total: r.total,
  paymentMethod: r.payment_method,
  paymentToken: r.payment_token,
  paymentId: r.payment_id,
  shippingAddress: r.shipping_address,
  shipmentId: r.shipment_id,
  carrier: r.carrier,
  trackingNumber: r.tracking_number,
  source: r.source,
  stockReserved: r.stock_reserved,
  reserveUntil: r.reserve_until,
  stepDeadline: r.step_deadline,
  cancellationEmitted: r.cancellation_emitted,
  compensations,
  items,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

/** An order as this instance last read or wrote it, with the version it had then. */
interface Copy {
  order: Order;
  version: number;
}

/** How many orders in flight the saga keeps copies of (a copy is a few kB; a saga lasts seconds). */
const MAX_COPIES = 10_000;

/** The statuses the timeout sweep looks at. */
const WAITING = ['placed', 'awaiting_payment', 'payment_pending', 'confirmed', 'fulfilling'];

/** NOTIFY channel that carries the id of each order that changed (live order pages listen). */
export const ordersChangedChannel = (schema: string): string => `orders_changed_${schema}`;

export function createOrdersStore(db: Db, source: string, timeouts: StepTimeouts = DEFAULT_STEP_TIMEOUTS) {
  const changesChannel = ordersChangedChannel(db.schema);
  const loadCompensations = async (tx: Sql, ids: string[]): Promise<Map<string, Compensation[]>> => {
    const byOrder = new Map<string, Compensation[]>();
    if (ids.length === 0) return byOrder;
    const { rows } = await tx.query<{ order_id: string; step: Compensation['step']; action: Compensation['action']; requested_at: Date | null; confirmed_at: Date | null }>(
      'SELECT order_id, step, action, requested_at, confirmed_at FROM order_compensations WHERE order_id = ANY($1) ORDER BY order_id, position',
      [ids],
    );
    for (const r of rows) {
      const list = byOrder.get(r.order_id) ?? [];
      list.push({ step: r.step, action: r.action, requestedAt: r.requested_at, confirmedAt: r.confirmed_at });
      byOrder.set(r.order_id, list);
    }
    return byOrder;
  };


  const loadLines = async (tx: Sql, ids: string[]): Promise<Map<string, OrderLine[]>> => {
    const byOrder = new Map<string, OrderLine[]>();
    if (ids.length === 0) return byOrder;
    const { rows } = await tx.query<{ order_id: string; product_id: string; name: string; quantity: number; unit_price: number; line_total: number }>(
      'SELECT order_id, product_id, name, quantity, unit_price, line_total FROM order_lines WHERE order_id = ANY($1) ORDER BY order_id, product_id',
      [ids],
    );
    for (const r of rows) {
      const lines = byOrder.get(r.order_id) ?? [];
      lines.push({ productId: r.product_id, name: r.name, quantity: r.quantity, unitPrice: r.unit_price, lineTotal: r.line_total });
      byOrder.set(r.order_id, lines);
    }
    return byOrder;
  };

  /** The order with its lines, compensations and version (and, if asked, its history), in one query. */
  const load = async (tx: Sql, id: string, options: { lock?: boolean; history?: boolean }): Promise<(Copy & { history?: HistoryEntry[] }) | undefined> => {
    const { rows } = await tx.query<OrderRow & { lines: JsonLine[]; compensations: JsonCompensation[]; history?: JsonHistory[] }>(
      `SELECT o.*,
         COALESCE((SELECT json_agg(json_build_object('productId', l.product_id, 'name', l.name, 'quantity', l.quantity, 'unitPrice', l.unit_price, 'lineTotal', l.line_total)
                   ORDER BY l.product_id) FROM order_lines l WHERE l.order_id = o.id), '[]') AS lines,
         COALESCE((SELECT json_agg(json_build_object('step', c.step, 'action', c.action, 'requestedAt', c.requested_at, 'confirmedAt', c.confirmed_at)
                   ORDER BY c.position) FROM order_compensations c WHERE c.order_id = o.id), '[]') AS compensations${options.history ? `,
         ${HISTORY_COLUMN}` : ''}
       FROM orders o WHERE o.id = $1${options.lock ? ' FOR UPDATE OF o' : ''}`,
      [id],
    );
    const row = rows[0];
    if (!row) return undefined;
    const compensations = row.compensations.map((c) => ({ ...c, requestedAt: toDate(c.requestedAt), confirmedAt: toDate(c.confirmedAt) }));
    const history = row.history?.map((h) => ({ status: h.status, reason: h.reason, at: new Date(h.at) }));
    return { order: toOrder(row, row.lines, compensations), version: row.version, ...(history ? { history } : {}) };
  };

  /**
   * The saga's copies of orders in flight (ADR 0012, session 19 amendment): each event of an order
   * after its first is decided on the copy its last event left, not on a read of the row. The copy is
   * written back only if the row still has the copy's version (`assert_held`, else SQLSTATE 40001
   * and the event is handled again, from a read). A copy is taken out while an event uses it and put
   * back once that event's transaction has committed, so a rollback leaves none behind; an ended order
   * keeps none.
   */
  const copies = new Map<string, Copy>();
  const takeCopy = (id: string): Copy | undefined => {
    const copy = copies.get(id);
    copies.delete(id);
    return copy;
  };
  const keepCopy = (copy: Copy): void => {
    const held = copies.get(copy.order.id);
    if (held && held.version > copy.version) return;
    copies.delete(copy.order.id);
    if (isTerminal(copy.order.status)) return;
    copies.set(copy.order.id, copy);
    if (copies.size > MAX_COPIES) copies.delete(copies.keys().next().value!);
  };

  /**
   * Stores a reaction: compensations (rare) first, then status history, the order row, its events
   * and the live-page notification together in one statement (a saga event costs its load and this).
   */
  const apply = async (tx: Sql, { order, version }: Copy, reaction: Reaction, options: { correlationId?: string; copied: boolean }): Promise<Copy> => {
    const next: Order = { ...order, ...reaction.patch };
    const chain = writeChain();
    const now = new Date();
    if (reaction.to) {
      assertTransition(order.status, reaction.to);
      next.status = reaction.to;
      next.statusReason = reaction.reason ?? null;
      next.failureCode = reaction.failureCode ?? null;
      next.stepDeadline = deadlineFor(reaction.to, now, order.reserveUntil, timeouts);
      chain.write(($) => `INSERT INTO order_status_history (order_id, status, reason, at) VALUES (${$(order.id)}, ${$(reaction.to)}, ${$(reaction.reason ?? null)}, ${$(now)})`);
    }
    const changed = Boolean(reaction.to || reaction.patch || reaction.compensations);
    let updated: string | undefined;
    if (changed) {
      next.updatedAt = now;
      updated = chain.write(
        ($) => `UPDATE orders SET status = ${$(next.status)}, status_reason = ${$(next.statusReason)}, failure_code = ${$(next.failureCode)},
           payment_token = ${$(next.paymentToken)}, payment_id = ${$(next.paymentId)}, shipment_id = ${$(next.shipmentId)}, carrier = ${$(next.carrier)},
           tracking_number = ${$(next.trackingNumber)}, stock_reserved = ${$(next.stockReserved)}, step_deadline = ${$(next.stepDeadline)},
           cancellation_emitted = ${$(next.cancellationEmitted)}, updated_at = ${$(now)}, version = version + 1
           WHERE id = ${$(next.id)} AND version = ${$(version)} RETURNING 1`,
      );
    }
    if (reaction.compensations) {
      next.compensations = reaction.compensations;
      await tx.query('DELETE FROM order_compensations WHERE order_id = $1', [order.id]);
      for (const [position, c] of reaction.compensations.entries()) {
        await tx.query('INSERT INTO order_compensations (order_id, step, action, position, requested_at, confirmed_at) VALUES ($1, $2, $3, $4, $5, $6)', [
          order.id, c.step, c.action, position, c.requestedAt, c.confirmedAt,
        ]);
      }
    }
    chain.outbox(reaction.events, { source, correlationId: options.correlationId });
    await chain.defer(
      tx,
      changed || options.copied
        ? ($) => {
            const columns = changed ? [`pg_notify(${$(changesChannel)}, ${$(order.id)})`] : [];
            // A copy is checked against the row: by the UPDATE's version condition, or (nothing written) by a read.
            const current = updated ? `EXISTS (SELECT 1 FROM ${updated})` : `EXISTS (SELECT 1 FROM orders WHERE id = ${$(order.id)} AND version = ${$(version)})`;
            if (options.copied) columns.push(`assert_held(${current}, ${$(`order ${order.id} changed since this copy of it was read`)}, '40001')`);
            return `SELECT ${columns.join(', ')}`;
          }
        : undefined,
    );
    return { order: next, version: changed ? version + 1 : version };
  };

  return {
    async upsertProduct(tx: Sql, p: EventData<'product_created'>, occurredAt: string): Promise<void> {
      await tx.query(
        `INSERT INTO products (product_id, name, price_amount, currency, active, updated_at) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (product_id) DO UPDATE SET name = EXCLUDED.name, price_amount = EXCLUDED.price_amount,
           currency = EXCLUDED.currency, active = EXCLUDED.active, updated_at = EXCLUDED.updated_at
         WHERE products.updated_at <= EXCLUDED.updated_at`,
        [p.productId, p.name, p.price.amount, p.price.currency, p.active, occurredAt],
      );
    },

    async updatePrice(tx: Sql, productId: string, amount: number, occurredAt: string): Promise<void> {
      await tx.query('UPDATE products SET price_amount = $2, updated_at = $3 WHERE product_id = $1 AND updated_at <= $3', [productId, amount, occurredAt]);
    },

    async products(ids: string[], tx: Sql = db): Promise<Map<string, CatalogProduct>> {
      const { rows } = await tx.query<{ product_id: string; name: string; price_amount: number; currency: string; active: boolean }>(
        'SELECT product_id, name, price_amount, currency, active FROM products WHERE product_id = ANY($1)',
        [ids],
      );
      return new Map(rows.map((r) => [r.product_id, { productId: r.product_id, name: r.name, priceAmount: r.price_amount, currency: r.currency, active: r.active }]));
    },

    /**
     * Writes the order, its lines, first history entry and events together; `record` stores the
     * answer to an Idempotency-Key in the same transaction (it throws, rolling back, if the key was lost).
     */
    async insert(order: Order, events: PendingEvent[], options: { correlationId?: string; record?: (tx: Sql) => Promise<void> } = {}): Promise<void> {
      await db.transaction(async (tx) => {
        // One statement: the order, its lines, its first history entry and its events.
        const chain = writeChain();
        chain.write(
          ($) => `INSERT INTO orders (id, customer_id, status, status_reason, currency, subtotal, discount, discount_code, total, payment_method,
             payment_token, source, reserve_until, step_deadline, created_at, updated_at, shipping_address)
           VALUES (${[order.id, order.customerId, order.status, order.statusReason, order.currency, order.subtotal, order.discount, order.discountCode, order.total,
             order.paymentMethod, order.paymentToken, order.source, order.reserveUntil, deadlineFor(order.status, order.createdAt, order.reserveUntil, timeouts),
             order.createdAt, order.createdAt, order.shippingAddress === null ? null : JSON.stringify(order.shippingAddress)].map($).join(', ')})`,
        );
        if (order.items.length > 0) {
          chain.write(
            ($) => `INSERT INTO order_lines (order_id, product_id, name, quantity, unit_price, line_total) VALUES ${order.items
              .map((line) => `(${[order.id, line.productId, line.name, line.quantity, line.unitPrice, line.lineTotal].map($).join(', ')})`)
              .join(', ')}`,
          );
        }
        chain.write(($) => `INSERT INTO order_status_history (order_id, status, reason, at) VALUES (${$(order.id)}, ${$(order.status)}, ${$(order.statusReason)}, ${$(order.createdAt)})`);
        chain.outbox(events, { source, correlationId: options.correlationId });
        await chain.defer(tx);
        await options.record?.(tx);
      });
    },

    /** The order and its status history, in one query (an order page, its live stream). */
    async withHistory(id: string): Promise<{ order: Order; history: HistoryEntry[] } | undefined> {
      const loaded = await load(db, id, { history: true });
      return loaded && { order: loaded.order, history: loaded.history ?? [] };
    },

    /** The status histories of several orders, oldest first, in one query (an order list). */
    async histories(ids: string[]): Promise<Map<string, HistoryEntry[]>> {
      const byOrder = new Map<string, HistoryEntry[]>(ids.map((id) => [id, []]));
      if (ids.length === 0) return byOrder;
      const { rows } = await db.query<{ order_id: string; status: OrderStatus; reason: string | null; at: Date }>(
        'SELECT order_id, status, reason, at FROM order_status_history WHERE order_id = ANY($1) ORDER BY order_id, id',
        [ids],
      );
      for (const { order_id, ...entry } of rows) byOrder.get(order_id)?.push(entry);
      return byOrder;
    },

    /** The customer an order belongs to (ownership checks), without loading it. */
    async ownerOf(id: string): Promise<string | undefined> {
      const { rows } = await db.query<{ customer_id: string }>('SELECT customer_id FROM orders WHERE id = $1', [id]);
      return rows[0]?.customer_id;
    },

    async listByCustomer(customerId: string, limit: number): Promise<Order[]> {
      const { rows } = await db.query<OrderRow>('SELECT * FROM orders WHERE customer_id = $1 ORDER BY created_at DESC LIMIT $2', [customerId, limit]);
      const ids = rows.map((r) => r.id);
      const [lines, compensations] = await Promise.all([loadLines(db, ids), loadCompensations(db, ids)]);
      return rows.map((r) => toOrder(r, lines.get(r.id) ?? [], compensations.get(r.id) ?? []));
    },

    /**
     * Lets `react` decide on the order and stores the outcome with its events. In an event's transaction
     * (`tx` and its `afterCommit`) it decides on this instance's copy of the order when it has one, and
     * keeps the outcome as the copy once the transaction has committed; otherwise (requests, the timeout
     * sweep) it reads and locks the row, in a transaction of its own.
     */
    async react(id: string, react: (order: Order) => Reaction, options: { tx?: Sql; afterCommit?: (task: () => void) => void; correlationId?: string } = {}): Promise<Order | undefined> {
      const copy = takeCopy(id);
      const run = async (tx: Sql, copied: Copy | undefined) => {
        const current = copied ?? (await load(tx, id, { lock: true }));
        if (!current) return undefined;
        return apply(tx, current, react(current.order), { correlationId: options.correlationId, copied: copied !== undefined });
      };
      if (options.tx && options.afterCommit) {
        const next = await run(options.tx, copy);
        if (next) options.afterCommit(() => keepCopy(next));
        return next?.order;
      }
      const next = options.tx ? await run(options.tx, undefined) : await db.transaction((tx) => run(tx, undefined));
      if (next && !options.tx) keepCopy(next);
      return next?.order;
    },

    /** Orders whose current step ran past its deadline, oldest deadline first. */
    async dueForTimeout(now: Date, limit = 100): Promise<string[]> {
      const { rows } = await db.query<{ id: string }>(
        'SELECT id FROM orders WHERE step_deadline <= $1 AND status = ANY($2) ORDER BY step_deadline LIMIT $3',
        [now, WAITING, limit],
      );
      return rows.map((r) => r.id);
    },
  };
}

export type OrdersStore = ReturnType<typeof createOrdersStore>;
