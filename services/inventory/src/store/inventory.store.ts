import type { ListMovementsQuery, StockLevel, StockMismatch, StockMovement } from '@emporium/contracts';
import { writeOutbox, type Db, type PendingEvent, type Sql } from '@emporium/platform';
import type { ReservationStatus, StockLine } from '../domain/reservation';
import { level, type Level, type StockChange } from '../domain/stock';

interface StockRow {
  product_id: string;
  on_hand: number;
  reserved: number;
  updated_at: Date;
}

interface MovementRow {
  id: number;
  product_id: string;
  kind: StockMovement['kind'];
  quantity: number;
  order_id: string | null;
  reason: string;
  created_at: Date;
}

const toStockLevel = (r: StockRow): StockLevel => ({ ...level(r.product_id, r.on_hand, r.reserved), updatedAt: r.updated_at.toISOString() });

const toMovement = (r: MovementRow): StockMovement => ({
  id: r.id,
  productId: r.product_id,
  kind: r.kind,
  quantity: r.quantity,
  orderId: r.order_id,
  reason: r.reason,
  createdAt: r.created_at.toISOString(),
});

export function createInventoryStore(db: Db, source: string) {
  const store = {
    async get(productId: string): Promise<StockLevel | undefined> {
      const { rows } = await db.query<StockRow>('SELECT product_id, on_hand, reserved, updated_at FROM stock WHERE product_id = $1', [productId]);
      return rows[0] ? toStockLevel(rows[0]) : undefined;
    },

    /** Latest first; undefined when inventory has never heard of the product. */
    async movements(productId: string, query: ListMovementsQuery): Promise<StockMovement[] | undefined> {
      if (!(await store.get(productId))) return undefined;
      const { rows } = await db.query<MovementRow>(
        `SELECT id, product_id, kind, quantity, order_id, reason, created_at FROM stock_movements
         WHERE product_id = $1 AND ($2::bigint IS NULL OR id < $2) ORDER BY id DESC LIMIT $3`,
        [productId, query.before ?? null, query.limit],
      );
      return rows.map(toMovement);
    },

    /** Creates the zero stock row of a product; resolves to its level when it is new. */
    async ensureStock(tx: Sql, productId: string): Promise<Level | undefined> {
      const { rows } = await tx.query<StockRow>(
        'INSERT INTO stock (product_id) VALUES ($1) ON CONFLICT (product_id) DO NOTHING RETURNING product_id, on_hand, reserved, updated_at',
        [productId],
      );
      return rows[0] ? level(rows[0].product_id, rows[0].on_hand, rows[0].reserved) : undefined;
    },

    /** Locks the stock rows in product id order (so concurrent orders never deadlock); unknown ids are absent. */
    async lock(tx: Sql, productIds: readonly string[]): Promise<Map<string, Level>> {
      const { rows } = await tx.query<StockRow>(
        'SELECT product_id, on_hand, reserved, updated_at FROM stock WHERE product_id = ANY($1::text[]) ORDER BY product_id FOR UPDATE',
        [productIds],
      );
      return new Map(rows.map((r) => [r.product_id, level(r.product_id, r.on_hand, r.reserved)]));
    },

    /** Applies each change as a delta and writes its ledger line; the CHECK constraints are the last guard. */
    async apply(tx: Sql, changes: readonly StockChange[]): Promise<StockLevel[]> {
      const after: StockLevel[] = [];
      for (const c of changes) {
        const { rows } = await tx.query<StockRow>(
          `UPDATE stock SET on_hand = on_hand + $2, reserved = reserved + $3, updated_at = now()
           WHERE product_id = $1 RETURNING product_id, on_hand, reserved, updated_at`,
          [c.productId, c.onHandDelta, c.reservedDelta],
        );
        if (!rows[0]) throw new Error(`stock row ${c.productId} vanished while locked`);
        await tx.query('INSERT INTO stock_movements (product_id, kind, quantity, order_id, reason) VALUES ($1, $2, $3, $4, $5)', [
          c.productId,
          c.movement.kind,
          c.movement.quantity,
          c.movement.orderId,
          c.movement.reason,
        ]);
        after.push(toStockLevel(rows[0]));
      }
      return after;
    },

    async outcomeOf(tx: Sql, orderId: string): Promise<'reserved' | 'insufficient' | undefined> {
      const { rows } = await tx.query<{ outcome: 'reserved' | 'insufficient' }>('SELECT outcome FROM reservation_outcomes WHERE order_id = $1', [orderId]);
      return rows[0]?.outcome;
    },

    async recordOutcome(tx: Sql, orderId: string, outcome: 'reserved' | 'insufficient'): Promise<void> {
      await tx.query('INSERT INTO reservation_outcomes (order_id, outcome) VALUES ($1, $2)', [orderId, outcome]);
    },

    async insertReservations(tx: Sql, orderId: string, lines: readonly StockLine[], expiresAt: Date): Promise<void> {
      for (const line of lines) {
        await tx.query("INSERT INTO reservations (order_id, product_id, quantity, status, expires_at) VALUES ($1, $2, $3, 'active', $4)", [
          orderId,
          line.productId,
          line.quantity,
          expiresAt,
        ]);
      }
    },

    /** Locks the order's active reservations (those due by `dueBy` only, when given). */
    async lockActiveReservations(tx: Sql, orderId: string, dueBy?: 'now'): Promise<StockLine[]> {
      const due = dueBy === 'now' ? 'AND expires_at <= now()' : '';
      const { rows } = await tx.query<{ product_id: string; quantity: number }>(
        `SELECT product_id, quantity FROM reservations WHERE order_id = $1 AND status = 'active' ${due} ORDER BY product_id FOR UPDATE`,
        [orderId],
      );
      return rows.map((r) => ({ productId: r.product_id, quantity: r.quantity }));
    },

    async hasReservations(tx: Sql, orderId: string): Promise<boolean> {
      const { rows } = await tx.query('SELECT 1 FROM reservations WHERE order_id = $1 LIMIT 1', [orderId]);
      return rows.length > 0;
    },

    async closeReservations(tx: Sql, orderId: string, lines: readonly StockLine[], status: Exclude<ReservationStatus, 'active'>): Promise<void> {
      const { rowCount } = await tx.query(
        "UPDATE reservations SET status = $3, updated_at = now() WHERE order_id = $1 AND product_id = ANY($2::text[]) AND status = 'active'",
        [orderId, lines.map((l) => l.productId), status],
      );
      if (rowCount !== lines.length) throw new Error(`reservations of order ${orderId} changed while locked`);
    },

    /** A paid order keeps its stock until it is completed or cancelled. */
    async holdUntilSettled(tx: Sql, orderId: string): Promise<number> {
      const { rowCount } = await tx.query("UPDATE reservations SET expires_at = NULL, updated_at = now() WHERE order_id = $1 AND status = 'active'", [orderId]);
      return rowCount;
    },

    async ordersWithDueReservations(limit: number): Promise<string[]> {
      const { rows } = await db.query<{ order_id: string }>(
        `SELECT order_id FROM reservations WHERE status = 'active' AND expires_at <= now()
         GROUP BY order_id ORDER BY min(expires_at) LIMIT $1`,
        [limit],
      );
      return rows.map((r) => r.order_id);
    },

    /** Runs `work` in one transaction and writes the events it returns to the outbox in it. */
    async withEvents<T>(work: (tx: Sql) => Promise<{ result: T; events: PendingEvent[] }>, correlationId?: string): Promise<T> {
      return db.transaction(async (tx) => {
        const { result, events } = await work(tx);
        await writeOutbox(tx, events, { source, correlationId });
        return result;
      });
    },

    /** Applies a staff change to the locked row; `plan` decides it (or throws). */
    async update(
      productId: string,
      plan: (current: Level) => { change: StockChange; events: PendingEvent[] },
      options: { correlationId?: string },
    ): Promise<StockLevel | undefined> {
      return store.withEvents(async (tx) => {
        const locked = await store.lock(tx, [productId]);
        const current = locked.get(productId);
        if (!current) return { result: undefined, events: [] };
        const { change, events } = plan(current);
        const [after] = await store.apply(tx, [change]);
        return { result: after, events };
      }, options.correlationId);
    },

    /**
     * Products whose on hand differs from their ledger, or whose reserved differs from their
     * active reservations or their ledger. One statement, so one consistent snapshot.
     */
    async reconcile(): Promise<StockMismatch[]> {
      const { rows } = await db.query<{
        product_id: string;
        on_hand: number;
        reserved: number;
        ledger_on_hand: number;
        ledger_reserved: number;
        active_reserved: number;
      }>(
        `SELECT s.product_id, s.on_hand, s.reserved,
                COALESCE(m.on_hand, 0)::bigint AS ledger_on_hand,
                COALESCE(m.reserved, 0)::bigint AS ledger_reserved,
                COALESCE(r.active, 0)::bigint AS active_reserved
         FROM stock s
         LEFT JOIN (
           SELECT product_id,
                  sum(quantity) FILTER (WHERE kind IN ('received', 'adjusted', 'sold')) AS on_hand,
                  sum(quantity) FILTER (WHERE kind IN ('reserved', 'released', 'sold')) AS reserved
           FROM stock_movements GROUP BY product_id
         ) m ON m.product_id = s.product_id
         LEFT JOIN (
           SELECT product_id, sum(quantity) AS active FROM reservations WHERE status = 'active' GROUP BY product_id
         ) r ON r.product_id = s.product_id
         WHERE s.on_hand <> COALESCE(m.on_hand, 0)
            OR s.reserved <> COALESCE(r.active, 0)
            OR s.reserved <> COALESCE(m.reserved, 0)
         ORDER BY s.product_id`,
      );
      return rows.map((r) => ({
        productId: r.product_id,
        onHand: r.on_hand,
        onHandFromLedger: r.ledger_on_hand,
        reserved: r.reserved,
        reservedFromReservations: r.active_reserved,
        reservedFromLedger: r.ledger_reserved,
      }));
    },
  };
  return store;
}

export type InventoryStore = ReturnType<typeof createInventoryStore>;
