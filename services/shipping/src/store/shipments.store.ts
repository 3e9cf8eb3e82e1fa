import type { Shipment, ShipmentHistoryEntry, ShipmentItem, ShipmentStatus } from '@emporium/contracts';
import { deferWrite, type Db, type Sql } from '@emporium/platform';

interface ShipmentRow {
  id: string;
  order_id: string;
  customer_id: string;
  carrier: string;
  tracking_number: string;
  label_url: string | null;
  status: ShipmentStatus;
  items: ShipmentItem[];
  created_at: Date;
  updated_at: Date;
}

interface HistoryRow {
  status: ShipmentStatus;
  at: Date;
  note: string | null;
}

const COLUMNS = 'id, order_id, customer_id, carrier, tracking_number, label_url, status, items, created_at, updated_at';

const toShipment = (r: ShipmentRow, history: HistoryRow[]): Shipment => ({
  id: r.id,
  orderId: r.order_id,
  customerId: r.customer_id,
  carrier: r.carrier,
  trackingNumber: r.tracking_number,
  labelUrl: r.label_url,
  status: r.status,
  items: r.items,
  history: history.map((h) => ({ status: h.status, at: h.at.toISOString(), note: h.note })),
  createdAt: r.created_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
});

/** Reads one shipment (optionally locking its row) with its history. */
async function find(tx: Sql, column: 'id' | 'order_id', value: string, lock: boolean): Promise<Shipment | undefined> {
  const { rows } = await tx.query<ShipmentRow>(`SELECT ${COLUMNS} FROM shipments WHERE ${column} = $1${lock ? ' FOR UPDATE' : ''}`, [value]);
  const row = rows[0];
  if (!row) return undefined;
  const history = await tx.query<HistoryRow>('SELECT status, at, note FROM shipment_events WHERE shipment_id = $1 ORDER BY id', [row.id]);
  return toShipment(row, history.rows);
}

// Writes nobody reads back: in a transaction they travel with its next statement or its COMMIT.
const appendHistory = (tx: Sql, shipmentId: string, entry: ShipmentHistoryEntry) =>
  deferWrite(tx, 'INSERT INTO shipment_events (shipment_id, status, at, note) VALUES ($1, $2, $3, $4)', [shipmentId, entry.status, entry.at, entry.note]);

/** Stores a new status and its history entry. */
async function saveStatus(tx: Sql, shipment: Shipment, entry: ShipmentHistoryEntry): Promise<void> {
  await deferWrite(tx, 'UPDATE shipments SET status = $2, updated_at = $3 WHERE id = $1', [shipment.id, shipment.status, shipment.updatedAt]);
  await appendHistory(tx, shipment.id, entry);
}

/**
 * SQL only. Event handlers pass their transaction (`tx`), so the shipment, the inbox row and the
 * outbox rows they emit commit together; HTTP changes open their own transaction.
 */
export function createShipmentsStore(db: Db) {
  return {
    get: (id: string, tx: Sql = db) => find(tx, 'id', id, false),

    getByOrder: (orderId: string, tx: Sql = db) => find(tx, 'order_id', orderId, false),

    /** The order's shipment with its row locked until `tx` ends. */
    lockByOrder: (tx: Sql, orderId: string) => find(tx, 'order_id', orderId, true),

    /** Inserts the shipment and its history; false when the order already has a shipment. */
    async insert(tx: Sql, shipment: Shipment): Promise<boolean> {
      const inserted = await tx.query(
        `INSERT INTO shipments (id, order_id, customer_id, carrier, tracking_number, label_url, status, items, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10) ON CONFLICT (order_id) DO NOTHING`,
        [shipment.id, shipment.orderId, shipment.customerId, shipment.carrier, shipment.trackingNumber, shipment.labelUrl, shipment.status, JSON.stringify(shipment.items), shipment.createdAt, shipment.updatedAt],
      );
      if (inserted.rowCount === 0) return false;
      for (const entry of shipment.history) await appendHistory(tx, shipment.id, entry);
      return true;
    },

    saveStatus,

    /** Applies `change` to the locked shipment; undefined when it does not exist. */
    async update(id: string, change: (current: Shipment) => { shipment: Shipment; entry: ShipmentHistoryEntry }): Promise<Shipment | undefined> {
      return db.transaction(async (tx) => {
        const current = await find(tx, 'id', id, true);
        if (!current) return undefined;
        const { shipment, entry } = change(current);
        await saveStatus(tx, shipment, entry);
        return shipment;
      });
    },
  };
}

export type ShipmentsStore = ReturnType<typeof createShipmentsStore>;
