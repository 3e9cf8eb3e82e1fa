import type { EventData, OrderStatus, ShippingAddress } from '@emporium/contracts';
import { writeOutbox, type Db, type PendingEvent, type Sql } from '@emporium/platform';
import { assertTransition, deadlineFor, DEFAULT_STEP_TIMEOUTS, type Compensation, type HistoryEntry, type Order, type OrderLine, type StepTimeouts } from '../domain/order';
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
}

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

  const load = async (tx: Sql, id: string, lock: boolean): Promise<Order | undefined> => {
    const { rows } = await tx.query<OrderRow>(`SELECT * FROM orders WHERE id = $1${lock ? ' FOR UPDATE' : ''}`, [id]);
    if (!rows[0]) return undefined;
    return toOrder(rows[0], (await loadLines(tx, [id])).get(id) ?? [], (await loadCompensations(tx, [id])).get(id) ?? []);
  };

  const apply = async (tx: Sql, order: Order, reaction: Reaction, correlationId?: string): Promise<Order> => {
    const next: Order = { ...order, ...reaction.patch };
    if (reaction.to) {
      assertTransition(order.status, reaction.to);
      const now = new Date();
      next.status = reaction.to;
      next.statusReason = reaction.reason ?? null;
      next.failureCode = reaction.failureCode ?? null;
      next.stepDeadline = deadlineFor(reaction.to, now, order.reserveUntil, timeouts);
      await tx.query('INSERT INTO order_status_history (order_id, status, reason, at) VALUES ($1, $2, $3, $4)', [order.id, reaction.to, reaction.reason ?? null, now]);
    }
    if (reaction.to || reaction.patch) {
      await tx.query(
        `UPDATE orders SET status = $2, status_reason = $3, failure_code = $4, payment_token = $5, payment_id = $6,
           shipment_id = $7, carrier = $8, tracking_number = $9, stock_reserved = $10, step_deadline = $11, cancellation_emitted = $12,
           updated_at = now() WHERE id = $1`,
        [next.id, next.status, next.statusReason, next.failureCode, next.paymentToken, next.paymentId, next.shipmentId, next.carrier, next.trackingNumber,
          next.stockReserved, next.stepDeadline, next.cancellationEmitted],
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
    await writeOutbox(tx, reaction.events, { source, correlationId });
    if (reaction.to || reaction.patch || reaction.compensations) await tx.query('SELECT pg_notify($1, $2)', [changesChannel, order.id]);
    return next;
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
        await tx.query(
          `INSERT INTO orders (id, customer_id, status, status_reason, currency, subtotal, discount, discount_code, total, payment_method,
             payment_token, source, reserve_until, step_deadline, created_at, updated_at, shipping_address)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15, $16)`,
          [order.id, order.customerId, order.status, order.statusReason, order.currency, order.subtotal, order.discount, order.discountCode, order.total,
            order.paymentMethod, order.paymentToken, order.source, order.reserveUntil, deadlineFor(order.status, order.createdAt, order.reserveUntil, timeouts), order.createdAt,
            order.shippingAddress === null ? null : JSON.stringify(order.shippingAddress)],
        );
        for (const line of order.items) {
          await tx.query('INSERT INTO order_lines (order_id, product_id, name, quantity, unit_price, line_total) VALUES ($1, $2, $3, $4, $5, $6)', [
            order.id, line.productId, line.name, line.quantity, line.unitPrice, line.lineTotal,
          ]);
        }
        await tx.query('INSERT INTO order_status_history (order_id, status, reason, at) VALUES ($1, $2, $3, $4)', [order.id, order.status, order.statusReason, order.createdAt]);
        await writeOutbox(tx, events, { source, correlationId: options.correlationId });
        await options.record?.(tx);
      });
    },

    get: (id: string, tx: Sql = db) => load(tx, id, false),

    async history(id: string): Promise<HistoryEntry[]> {
      const { rows } = await db.query<{ status: OrderStatus; reason: string | null; at: Date }>(
        'SELECT status, reason, at FROM order_status_history WHERE order_id = $1 ORDER BY id',
        [id],
      );
      return rows;
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

    /** Locks the order, lets `react` decide, and stores the outcome with its events — in `tx` if given. */
    async react(id: string, react: (order: Order) => Reaction, options: { tx?: Sql; correlationId?: string } = {}): Promise<Order | undefined> {
      const run = async (tx: Sql) => {
        const order = await load(tx, id, true);
        if (!order) return undefined;
        return apply(tx, order, react(order), options.correlationId);
      };
      return options.tx ? run(options.tx) : db.transaction(run);
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
