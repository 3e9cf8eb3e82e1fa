import type { ListMovementsQuery, StockLevel, StockMismatch, StockMovement } from '@emporium/contracts';
import { deferWrite, writeChain, type Db, type PendingEvent, type Sql } from '@emporium/platform';
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

    /**
     * Whether the order was answered before (its outcome is recorded, in the statement that makes its
     * reservations) and, when it was not, its products' stock rows locked in product id order: one
     * statement. It looks the order up by the outcomes' primary key only: a lookup of the order's
     * reservations (a key they do not hold alone) could be planned, while that table held a few
     * pages and no statistics, as a scan from its start, and a connection keeps that plan.
     */
    async lockForOrder(tx: Sql, orderId: string, productIds: readonly string[]): Promise<{ answered: boolean; levels: Map<string, Level> }> {
      const { rows } = await tx.query<{ answered: boolean; product_id: string | null; on_hand: number; reserved: number }>(
        `SELECT a.answered, s.product_id, s.on_hand, s.reserved
         FROM (SELECT EXISTS (SELECT 1 FROM reservation_outcomes WHERE order_id = $1) AS answered) a
         LEFT JOIN LATERAL (
           SELECT product_id, on_hand, reserved FROM stock WHERE product_id = ANY($2::text[]) AND NOT a.answered ORDER BY product_id FOR UPDATE
         ) s ON true`,
        [orderId, productIds],
      );
      const levels = new Map<string, Level>();
      for (const r of rows) if (r.product_id !== null) levels.set(r.product_id, level(r.product_id, r.on_hand, r.reserved));
      return { answered: rows[0]?.answered === true, levels };
    },

    /**
     * Locks the order's active reservations (those due by `dueBy` only, when given) and their stock
     * rows, in product id order, each reservation before its stock row: one statement. Every path
     * that locks an order's reservations starts with them, so it cannot deadlock with another; paths
     * that lock only stock rows take them in the same product order.
     */
    async lockActive(tx: Sql, orderId: string, dueBy?: 'now'): Promise<{ lines: StockLine[]; levels: Map<string, Level> }> {
      const due = dueBy === 'now' ? 'AND r.expires_at <= now()' : '';
      const { rows } = await tx.query<{ product_id: string; quantity: number; on_hand: number; reserved: number }>(
        `SELECT r.product_id, r.quantity, s.on_hand, s.reserved FROM reservations r JOIN stock s ON s.product_id = r.product_id
         WHERE r.order_id = $1 AND r.status = 'active' ${due} ORDER BY r.product_id FOR UPDATE OF r, s`,
        [orderId],
      );
      return {
        lines: rows.map((r) => ({ productId: r.product_id, quantity: r.quantity })),
        levels: new Map(rows.map((r) => [r.product_id, level(r.product_id, r.on_hand, r.reserved)])),
      };
    },

    /**
     * Takes every lock a run of events will take, so its handlers then lock only rows it holds:
     * first the active reservations of `reservationsOf`, by order and product, then the stock rows
     * of `stockOf.products` and of the active reservations of `stockOf.orders`, in product id order.
     * That is the order of every other path (one order's reservations, by product, before their
     * stock rows; stock rows by product id), so no two of them wait for each other in a cycle. The
     * reservations' statement travels with the stock rows' (or the next one).
     */
    async lockRun(tx: Sql, locks: { reservationsOf: readonly string[]; stockOf: { orders: readonly string[]; products: readonly string[] } }): Promise<void> {
      const { reservationsOf, stockOf } = locks;
      if (reservationsOf.length > 0) {
        await deferWrite(tx, "SELECT 1 FROM reservations WHERE order_id = ANY($1::text[]) AND status = 'active' ORDER BY order_id, product_id FOR UPDATE", [reservationsOf]);
      }
      if (stockOf.orders.length + stockOf.products.length === 0) return;
      await tx.query(
        `SELECT 1 FROM stock WHERE product_id IN (
           SELECT unnest($1::text[]) UNION SELECT product_id FROM reservations WHERE order_id = ANY($2::text[]) AND status = 'active'
         ) ORDER BY product_id FOR UPDATE`,
        [stockOf.products, stockOf.orders],
      );
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

    /** A step's writes, sent with its events as one statement by `commit` (see StockStep). */
    step: (): StockStep => stockStep(source),

    /** Runs `work` in one transaction and commits the step it fills, with the events it returns. */
    async inStep<T>(work: (tx: Sql, step: StockStep) => Promise<{ result: T; events: PendingEvent[] }>, correlationId?: string): Promise<{ result: T; stock: StockLevel[] }> {
      return db.transaction(async (tx) => {
        const step = stockStep(source);
        const { result, events } = await work(tx, step);
        return { result, stock: await step.commit(tx, events, correlationId) };
      });
    },

    /** Applies a staff change to the locked row; `plan` decides it (or throws). */
    async update(
      productId: string,
      plan: (current: Level) => { change: StockChange; events: PendingEvent[] },
      options: { correlationId?: string },
    ): Promise<StockLevel | undefined> {
      const { result, stock } = await store.inStep(async (tx, step) => {
        const current = (await store.lock(tx, [productId])).get(productId);
        if (!current) return { result: false, events: [] };
        const { change, events } = plan(current);
        step.apply([change]);
        return { result: true, events };
      }, options.correlationId);
      return result ? stock[0] : undefined;
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

/**
 * The writes of one change to stock — deltas on stock rows, ledger lines, reservations opened or
 * closed, the answer to an order — and its events, sent as one statement (writeChain) instead of
 * one per row. The rows it writes were locked before (one change per product), so no two of
 * its writes touch the same row.
 */
export interface StockStep {
  /** Each change's delta on its product's row, and its ledger line. */
  apply(changes: readonly StockChange[]): void;
  reserve(orderId: string, lines: readonly StockLine[], expiresAt: Date): void;
  /** Ends the order's active reservations of these lines (all of them must still be active). */
  close(orderId: string, lines: readonly StockLine[], status: Exclude<ReservationStatus, 'active'>): void;
  recordOutcome(orderId: string, outcome: 'reserved' | 'insufficient'): void;
  /** Sends the writes and the events' outbox rows; resolves to the stock rows as changed. */
  commit(tx: Sql, events: readonly PendingEvent[], correlationId?: string): Promise<StockLevel[]>;
  /**
   * The same, for a caller that needs no answer: the statement is deferred (it travels with the
   * COMMIT) and its checks fail the transaction in SQL (the platform's `assert_held`).
   */
  defer(tx: Sql, events: readonly PendingEvent[], correlationId?: string): Promise<void>;
}

function stockStep(source: string): StockStep {
  const chain = writeChain();
  let stockWrite: string | undefined;
  let changed = 0;
  const closes: Array<{ name: string; expected: number; orderId: string }> = [];
  return {
    apply(changes) {
      if (changes.length === 0) return;
      changed += changes.length;
      stockWrite = chain.write(
        ($) => `UPDATE stock s SET on_hand = s.on_hand + d.on_hand, reserved = s.reserved + d.reserved, updated_at = now()
          FROM unnest(${$(changes.map((c) => c.productId))}::text[], ${$(changes.map((c) => c.onHandDelta))}::int[], ${$(changes.map((c) => c.reservedDelta))}::int[]) AS d(product_id, on_hand, reserved)
          WHERE s.product_id = d.product_id RETURNING s.product_id, s.on_hand, s.reserved, s.updated_at`,
      );
      const m = changes.map((c) => c.movement);
      chain.write(
        ($) => `INSERT INTO stock_movements (product_id, kind, quantity, order_id, reason)
          SELECT * FROM unnest(${$(changes.map((c) => c.productId))}::text[], ${$(m.map((x) => x.kind))}::text[], ${$(m.map((x) => x.quantity))}::int[], ${$(m.map((x) => x.orderId))}::text[], ${$(m.map((x) => x.reason))}::text[])`,
      );
    },
    reserve(orderId, lines, expiresAt) {
      chain.write(
        ($) => `INSERT INTO reservations (order_id, product_id, quantity, status, expires_at)
          SELECT ${$(orderId)}, product_id, quantity, 'active', ${$(expiresAt)} FROM unnest(${$(lines.map((l) => l.productId))}::text[], ${$(lines.map((l) => l.quantity))}::int[]) AS l(product_id, quantity)`,
      );
    },
    close(orderId, lines, status) {
      const name = chain.write(
        ($) => `UPDATE reservations SET status = ${$(status)}, updated_at = now()
          WHERE order_id = ${$(orderId)} AND product_id = ANY(${$(lines.map((l) => l.productId))}::text[]) AND status = 'active' RETURNING product_id`,
      );
      closes.push({ name, expected: lines.length, orderId });
    },
    recordOutcome(orderId, outcome) {
      chain.write(($) => `INSERT INTO reservation_outcomes (order_id, outcome) VALUES (${$(orderId)}, ${$(outcome)})`);
    },
    async defer(tx, events, correlationId) {
      chain.outbox(events, { source, correlationId });
      const written = stockWrite;
      if (closes.length === 0 && !written) return chain.defer(tx);
      await chain.defer(tx, ($) => {
        const checks = closes.map((c) => `assert_held((SELECT count(*) FROM ${c.name}) = ${$(c.expected)}, ${$(`reservations of order ${c.orderId} changed while locked`)})`);
        if (written) checks.push(`assert_held((SELECT count(*) FROM ${written}) = ${$(changed)}, ${$('a stock row vanished while locked')})`);
        return `SELECT ${checks.join(', ')}`;
      });
    },
    async commit(tx, events, correlationId) {
      chain.outbox(events, { source, correlationId });
      const stock = stockWrite
        ? `(SELECT json_agg(json_build_object('product_id', product_id, 'on_hand', on_hand, 'reserved', reserved, 'updated_at', updated_at)) FROM ${stockWrite})`
        : 'NULL::json';
      const closed = closes.map((c) => `(SELECT count(*)::int FROM ${c.name})`);
      const rows = await chain.run<{ stock: Array<Omit<StockRow, 'updated_at'> & { updated_at: string }> | null; closed: number[] }>(
        tx,
        () => `SELECT ${stock} AS stock, ARRAY[${closed.join(', ')}]::int[] AS closed`,
      );
      const [row] = rows;
      closes.forEach((c, i) => {
        if (row?.closed[i] !== c.expected) throw new Error(`reservations of order ${c.orderId} changed while locked`);
      });
      const after = (row?.stock ?? []).map((r) => toStockLevel({ ...r, updated_at: new Date(r.updated_at) }));
      if (after.length !== changed) throw new Error('a stock row vanished while locked');
      return after;
    },
  };
}
