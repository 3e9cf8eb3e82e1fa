import type { Payment as PaymentView, PaymentTransaction } from '@emporium/contracts';
import { writeOutbox, type Db, type Sql } from '@emporium/platform';
import type { Payment, PaymentOutcome } from '../domain/payment';

interface PaymentRow {
  id: string;
  order_id: string;
  customer_id: string;
  amount: number;
  currency: string;
  method: Payment['method'];
  provider: string;
  provider_ref: string | null;
  status: Payment['status'];
  decline_code: string | null;
  failure_reason: string | null;
  captured_amount: number;
  refunded_amount: number;
  created_at: Date;
  updated_at: Date;
}

interface TransactionRow {
  id: number;
  kind: PaymentTransaction['kind'];
  amount: number;
  outcome: PaymentTransaction['outcome'];
  code: string | null;
  provider_ref: string | null;
  created_at: Date;
}

const COLUMNS =
  'id, order_id, customer_id, amount, currency, method, provider, provider_ref, status, decline_code, failure_reason, captured_amount, refunded_amount, created_at, updated_at';

const toPayment = (r: PaymentRow): Payment => ({
  id: r.id,
  orderId: r.order_id,
  customerId: r.customer_id,
  amount: r.amount,
  currency: r.currency,
  method: r.method,
  provider: r.provider,
  providerRef: r.provider_ref,
  status: r.status,
  declineCode: r.decline_code,
  failureReason: r.failure_reason,
  capturedAmount: r.captured_amount,
  refundedAmount: r.refunded_amount,
  createdAt: r.created_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
});

const toTransaction = (r: TransactionRow): PaymentTransaction => ({
  id: r.id,
  kind: r.kind,
  amount: r.amount,
  outcome: r.outcome,
  code: r.code,
  providerRef: r.provider_ref,
  createdAt: r.created_at.toISOString(),
});

export function createPaymentsStore(db: Db, source: string) {
  const selectOne = async (sql: Sql, where: string, value: string, lock: boolean): Promise<Payment | undefined> => {
    const { rows } = await sql.query<PaymentRow>(`SELECT ${COLUMNS} FROM payments WHERE ${where} = $1${lock ? ' FOR UPDATE' : ''}`, [value]);
    return rows[0] ? toPayment(rows[0]) : undefined;
  };

  const view = async (sql: Sql, payment: Payment | undefined): Promise<PaymentView | undefined> => {
    if (!payment) return undefined;
    const { rows } = await sql.query<TransactionRow>(
      'SELECT id, kind, amount, outcome, code, provider_ref, created_at FROM payment_transactions WHERE payment_id = $1 ORDER BY id',
      [payment.id],
    );
    return { ...payment, transactions: rows.map(toTransaction) };
  };

  /** Persists what a use case decided (payment row and audit log); events go through the caller's outbox. */
  const apply = async (tx: Sql, outcome: Pick<PaymentOutcome, 'payment' | 'transactions'>): Promise<void> => {
    const p = outcome.payment;
    await tx.query(
      `UPDATE payments SET provider_ref = $2, status = $3, decline_code = $4, failure_reason = $5, captured_amount = $6, refunded_amount = $7, updated_at = $8
       WHERE id = $1`,
      [p.id, p.providerRef, p.status, p.declineCode, p.failureReason, p.capturedAmount, p.refundedAmount, p.updatedAt],
    );
    for (const t of outcome.transactions) {
      await tx.query(
        `INSERT INTO payment_transactions (payment_id, kind, amount, outcome, code, provider_ref, reason)
         VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [p.id, t.kind, t.amount, t.outcome, t.code, t.providerRef, t.reason ?? null],
      );
    }
  };

  return {
    get: async (id: string) => view(db, await selectOne(db, 'id', id, false)),

    getByOrder: async (orderId: string) => view(db, await selectOne(db, 'order_id', orderId, false)),

    lock: (tx: Sql, id: string) => selectOne(tx, 'id', id, true),

    lockByOrder: (tx: Sql, orderId: string) => selectOne(tx, 'order_id', orderId, true),

    /** Resolves to false when the order already has a payment (a repeated request). */
    async insert(tx: Sql, p: Payment): Promise<boolean> {
      const inserted = await tx.query(
        `INSERT INTO payments (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) ON CONFLICT (order_id) DO NOTHING`,
        [p.id, p.orderId, p.customerId, p.amount, p.currency, p.method, p.provider, p.providerRef, p.status, p.declineCode, p.failureReason, p.capturedAmount, p.refundedAmount, p.createdAt, p.updatedAt],
      );
      return inserted.rowCount > 0;
    },

    apply,

    /** Authorized payments whose authorization is older than `authorizedBefore`. */
    async authorizedBefore(authorizedBefore: Date, limit = 100): Promise<string[]> {
      const { rows } = await db.query<{ id: string }>("SELECT id FROM payments WHERE status = 'authorized' AND updated_at <= $1 ORDER BY updated_at LIMIT $2", [
        authorizedBefore,
        limit,
      ]);
      return rows.map((r) => r.id);
    },

    /** Runs `change` on the locked payment and stores its outcome and events in one transaction. */
    async change(id: string, change: (payment: Payment) => PaymentOutcome): Promise<PaymentOutcome | undefined> {
      return db.transaction(async (tx) => {
        const current = await selectOne(tx, 'id', id, true);
        if (!current) return undefined;
        const outcome = change(current);
        await apply(tx, outcome);
        await writeOutbox(tx, outcome.events, { source });
        return outcome;
      });
    },

    /**
     * Runs `change` on the locked payment and stores its outcome and events in one transaction;
     * `record` stores the answer to an Idempotency-Key in it too (see the platform's idempotency).
     */
    async refund(
      id: string,
      change: (payment: Payment, tx: Sql) => Promise<PaymentOutcome>,
      correlationId?: string,
      record?: (tx: Sql, result: { payment: PaymentView; failure?: PaymentOutcome['failure'] }) => Promise<void>,
    ): Promise<{ payment: PaymentView; failure?: PaymentOutcome['failure'] } | undefined> {
      return db.transaction(async (tx) => {
        const current = await selectOne(tx, 'id', id, true);
        if (!current) return undefined;
        const outcome = await change(current, tx);
        await apply(tx, outcome);
        await writeOutbox(tx, outcome.events, { source, correlationId });
        const result = { payment: (await view(tx, outcome.payment))!, failure: outcome.failure };
        await record?.(tx, result);
        return result;
      });
    },
  };
}

export type PaymentsStore = ReturnType<typeof createPaymentsStore>;
