import type { EventData, OrderStatus } from '@emporium/contracts';
import { writeOutbox, type Db, type PendingEvent, type Sql } from '@emporium/platform';
import { assertTransition, type HistoryEntry, type Order, type OrderLine } from '../domain/order';
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
  shipment_id: string | null;
  carrier: string | null;
  tracking_number: string | null;
  source: 'direct' | 'cart';
  stock_reserved: boolean;
  reserve_until: Date;
  created_at: Date;
  updated_at: Date;
}

export interface IdempotentResponse {
  key: string;
  requestHash: string;
  statusCode: number;
  response: unknown;
}

export interface CatalogProduct {
  productId: string;
  name: string;
  priceAmount: number;
  currency: string;
  active: boolean;
}

const toOrder = (r: OrderRow, items: OrderLine[]): Order => ({
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
  shipmentId: r.shipment_id,
  carrier: r.carrier,
  trackingNumber: r.tracking_number,
  source: r.source,
  stockReserved: r.stock_reserved,
  reserveUntil: r.reserve_until,
  items,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

export function createOrdersStore(db: Db, source: string) {
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
    return toOrder(rows[0], (await loadLines(tx, [id])).get(id) ?? []);
  };

  const apply = async (tx: Sql, order: Order, reaction: Reaction, correlationId?: string): Promise<Order> => {
    const next: Order = { ...order, ...reaction.patch };
    if (reaction.to) {
      assertTransition(order.status, reaction.to);
      next.status = reaction.to;
      next.statusReason = reaction.reason ?? null;
      next.failureCode = reaction.failureCode ?? null;
      await tx.query('INSERT INTO order_status_history (order_id, status, reason) VALUES ($1, $2, $3)', [order.id, reaction.to, reaction.reason ?? null]);
    }
    if (reaction.to || reaction.patch) {
      await tx.query(
        `UPDATE orders SET status = $2, status_reason = $3, failure_code = $4, payment_token = $5, payment_id = $6,
           shipment_id = $7, carrier = $8, tracking_number = $9, stock_reserved = $10, updated_at = now() WHERE id = $1`,
        [next.id, next.status, next.statusReason, next.failureCode, next.paymentToken, next.paymentId, next.shipmentId, next.carrier, next.trackingNumber, next.stockReserved],
      );
    }
    await writeOutbox(tx, reaction.events, { source, correlationId });
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

    /** Writes the order, its lines, first history entry, events and (if any) the idempotent response together. */
    async insert(order: Order, events: PendingEvent[], options: { correlationId?: string; idempotency?: IdempotentResponse } = {}): Promise<void> {
      await db.transaction(async (tx) => {
        const { idempotency } = options;
        if (idempotency) {
          await tx.query('INSERT INTO idempotency_keys (key, request_hash, status_code, response) VALUES ($1, $2, $3, $4::jsonb)', [
            idempotency.key, idempotency.requestHash, idempotency.statusCode, JSON.stringify(idempotency.response),
          ]);
        }
        await tx.query(
          `INSERT INTO orders (id, customer_id, status, status_reason, currency, subtotal, discount, discount_code, total, payment_method,
             payment_token, source, reserve_until, created_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14)`,
          [order.id, order.customerId, order.status, order.statusReason, order.currency, order.subtotal, order.discount, order.discountCode, order.total,
            order.paymentMethod, order.paymentToken, order.source, order.reserveUntil, order.createdAt],
        );
        for (const line of order.items) {
          await tx.query('INSERT INTO order_lines (order_id, product_id, name, quantity, unit_price, line_total) VALUES ($1, $2, $3, $4, $5, $6)', [
            order.id, line.productId, line.name, line.quantity, line.unitPrice, line.lineTotal,
          ]);
        }
        await tx.query('INSERT INTO order_status_history (order_id, status, reason, at) VALUES ($1, $2, $3, $4)', [order.id, order.status, order.statusReason, order.createdAt]);
        await writeOutbox(tx, events, { source, correlationId: options.correlationId });
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

    async listByCustomer(customerId: string, limit: number): Promise<Order[]> {
      const { rows } = await db.query<OrderRow>('SELECT * FROM orders WHERE customer_id = $1 ORDER BY created_at DESC LIMIT $2', [customerId, limit]);
      const lines = await loadLines(db, rows.map((r) => r.id));
      return rows.map((r) => toOrder(r, lines.get(r.id) ?? []));
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

    async dueForExpiry(now: Date, limit = 100): Promise<string[]> {
      const { rows } = await db.query<{ id: string }>(
        "SELECT id FROM orders WHERE status IN ('placed', 'awaiting_payment') AND reserve_until < $1 ORDER BY reserve_until LIMIT $2",
        [now, limit],
      );
      return rows.map((r) => r.id);
    },

    async findIdempotent(key: string): Promise<{ requestHash: string; statusCode: number; response: unknown } | undefined> {
      const { rows } = await db.query<{ request_hash: string; status_code: number; response: unknown }>(
        'SELECT request_hash, status_code, response FROM idempotency_keys WHERE key = $1',
        [key],
      );
      return rows[0] ? { requestHash: rows[0].request_hash, statusCode: rows[0].status_code, response: rows[0].response } : undefined;
    },
  };
}

export type OrdersStore = ReturnType<typeof createOrdersStore>;
