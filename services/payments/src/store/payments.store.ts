import type { Payment as PaymentView, PaymentTransaction } from '@emporium/contracts';
import { deferWrite, writeChain, type Db, type EventContext, type PendingEvent, type Sql } from '@emporium/platform';
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

/** A processor call an event asked for, waiting to be made (see `providers/provider-calls.ts`). */
export interface ProviderCall {
  id: number;
  paymentId: string;
  kind: 'authorize' | 'capture' | 'release' | 'cancel';
  request: Record<string, unknown>;
  correlationId: string | null;
  attempts: number;
}

/** A due call with its payment as it was when the call was read (unlocked: the call runs on it first), and that payment's version. */
export interface DueCall extends ProviderCall {
  payment: Payment | undefined;
  paymentVersion?: number;
}

interface CallRow {
  id: number;
  payment_id: string;
  kind: ProviderCall['kind'];
  request: Record<string, unknown>;
  correlation_id: string | null;
  attempts: number;
  /** The payment's row (null when it is gone). */
  payment: Record<keyof PaymentRow, unknown> | null;
  payment_version: number | null;
}

/** A payment row read as JSON (to_jsonb): timestamps arrive as text. */
const fromJson = (r: Record<keyof PaymentRow, unknown>): Payment =>
  toPayment({ ...(r as unknown as PaymentRow), created_at: new Date(r.created_at as string), updated_at: new Date(r.updated_at as string) });

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

  /**
   * Persists what a use case decided (payment row and audit log) and, when given, its events: one
   * statement for all of them.
   */
  const apply = async (
    tx: Sql,
    outcome: Pick<PaymentOutcome, 'payment' | 'transactions'>,
    outbox?: { events: readonly PendingEvent[]; context: EventContext },
    /** Records a call's answer on the payment the call read: only if it still has `version` and the call is still queued. */
    asRead?: { version: number; callId: number },
  ): Promise<void> => {
    const p = outcome.payment;
    const chain = writeChain();
    const updated = chain.write(
      ($) => `UPDATE payments SET provider_ref = ${$(p.providerRef)}, status = ${$(p.status)}, decline_code = ${$(p.declineCode)}, failure_reason = ${$(p.failureReason)},
         captured_amount = ${$(p.capturedAmount)}, refunded_amount = ${$(p.refundedAmount)}, updated_at = ${$(p.updatedAt)}, version = version + 1
         WHERE id = ${$(p.id)}${asRead ? ` AND version = ${$(asRead.version)} RETURNING 1` : ''}`,
    );
    const removed = asRead ? chain.write(($) => `DELETE FROM provider_calls WHERE id = ${$(asRead.callId)} RETURNING 1`) : undefined;
    if (outcome.transactions.length > 0) {
      chain.write(
        ($) => `INSERT INTO payment_transactions (payment_id, kind, amount, outcome, code, provider_ref, reason) VALUES ${outcome.transactions
          .map((t) => `(${[p.id, t.kind, t.amount, t.outcome, t.code, t.providerRef, t.reason ?? null].map($).join(', ')})`)
          .join(', ')}`,
      );
    }
    if (outbox) chain.outbox(outbox.events, outbox.context);
    await chain.defer(
      tx,
      asRead && removed
        ? ($) => `SELECT assert_held(EXISTS (SELECT 1 FROM ${updated}) AND EXISTS (SELECT 1 FROM ${removed}), ${$(`provider call ${asRead.callId}: its payment changed, or the call was recorded, since it was read`)}, '40001')`
        : undefined,
    );
  };

  return {
    get: async (id: string) => view(db, await selectOne(db, 'id', id, false)),

    /** The payment without its transactions, read outside any transaction. */
    find: (id: string) => selectOne(db, 'id', id, false),

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

    /** Queues a processor call in the event's transaction; it is made once that commits (see provider-calls.ts). */
    async queueCall(tx: Sql, call: Omit<ProviderCall, 'id' | 'attempts'>): Promise<void> {
      await deferWrite(tx, 'INSERT INTO provider_calls (payment_id, kind, request, correlation_id) VALUES ($1, $2, $3::jsonb, $4)', [
        call.paymentId,
        call.kind,
        JSON.stringify(call.request),
        call.correlationId,
      ]);
    },

    /**
     * Calls due now, the oldest of each payment only, so one payment's calls run in order; each with
     * its payment. `excluding` names calls already being made: a caller that is behind asks for as
     * many as it can start, rather than reading again, with their payments, all those under way.
     * "Now" is the database's clock, which set `due_at`: against the caller's `new Date()` (whole
     * milliseconds) a call queued within the same millisecond (a transaction of deferred writes
     * that commits in well under one) was not yet due, and waited for the next look: at 5
     * checkouts/s, 1–2% of authorizations and captures waited about 200 ms.
     */
    async dueCalls(limit = 50, excluding: readonly number[] = []): Promise<DueCall[]> {
      const { rows } = await db.query<CallRow>(
        `SELECT c.id, c.payment_id, c.kind, c.request, c.correlation_id, c.attempts, to_jsonb(p) - 'version' AS payment, p.version AS payment_version FROM provider_calls c
         LEFT JOIN (SELECT ${COLUMNS}, version FROM payments) p ON p.id = c.payment_id
         WHERE c.due_at <= now() AND c.id <> ALL($2::bigint[]) AND NOT EXISTS (SELECT 1 FROM provider_calls e WHERE e.payment_id = c.payment_id AND e.id < c.id)
         ORDER BY c.id LIMIT $1`,
        [limit, excluding],
      );
      return rows.map((r) => ({
        id: r.id,
        paymentId: r.payment_id,
        kind: r.kind,
        request: r.request,
        correlationId: r.correlation_id,
        attempts: r.attempts,
        payment: r.payment ? fromJson(r.payment) : undefined,
        paymentVersion: r.payment_version ?? undefined,
      }));
    },

    /** Frees the rows of calls made (see createProviderCalls). A VACUUM runs outside any transaction. */
    async vacuumCalls(): Promise<void> {
      await db.query('VACUUM provider_calls');
    },

    async postponeCall(id: number, delayMs: number, attempts: number, error: string): Promise<void> {
      // On the database's clock, as dueCalls reads it.
      await db.query("UPDATE provider_calls SET due_at = now() + $2 * interval '1 millisecond', attempts = $3, last_error = $4 WHERE id = $1", [id, delayMs, attempts, error.slice(0, 1000)]);
    },

    /**
     * Records what a processor call decided, with its events, and removes the call, in one
     * transaction; undefined when another instance already recorded it. First on the payment as the
     * call read it, in one round trip (the writes and their check travel with the COMMIT); when the
     * payment changed since, or the call is gone, that transaction fails (40001) and the answer is
     * recorded on the payment read again under its lock.
     */
    async completeCall(call: DueCall, change: (payment: Payment) => Promise<PaymentOutcome>): Promise<PaymentOutcome | undefined> {
      const { payment: read, paymentVersion: version } = call;
      if (read && version !== undefined) {
        try {
          return await db.transaction(async (tx) => {
            const outcome = await change(read);
            await apply(tx, outcome, { events: outcome.events, context: { source, correlationId: call.correlationId ?? undefined } }, { version, callId: call.id });
            return outcome;
          });
        } catch (error) {
          if ((error as { code?: string }).code !== '40001') throw error;
        }
      }
      return db.transaction(async (tx) => {
        // Removing the call and locking its payment in one statement: no row when another
        // instance removed the call first (or the payment is gone).
        const { rows } = await tx.query<PaymentRow>(
          `WITH removed AS (DELETE FROM provider_calls WHERE id = $1 RETURNING payment_id)
           SELECT ${COLUMNS} FROM payments WHERE id = (SELECT payment_id FROM removed) FOR UPDATE`,
          [call.id],
        );
        if (!rows[0]) return undefined;
        const current = toPayment(rows[0]);
        const outcome = await change(current);
        await apply(tx, outcome, { events: outcome.events, context: { source, correlationId: call.correlationId ?? undefined } });
        return outcome;
      });
    },

    /** Runs `change` on the locked payment and stores its outcome and events in one transaction. */
    async change(id: string, change: (payment: Payment) => PaymentOutcome): Promise<PaymentOutcome | undefined> {
      return db.transaction(async (tx) => {
        const current = await selectOne(tx, 'id', id, true);
        if (!current) return undefined;
        const outcome = change(current);
        await apply(tx, outcome, { events: outcome.events, context: { source } });
        return outcome;
      });
    },

    /**
     * Runs `change` on the locked payment and stores its outcome and events in one transaction;
     * `record` stores the answer to an Idempotency-Key in it too (see the platform's idempotency).
     */
    async refund(
      id: string,
      change: (payment: Payment) => Promise<PaymentOutcome>,
      correlationId?: string,
      record?: (tx: Sql, result: { payment: PaymentView; failure?: PaymentOutcome['failure'] }) => Promise<void>,
    ): Promise<{ payment: PaymentView; failure?: PaymentOutcome['failure'] } | undefined> {
      return db.transaction(async (tx) => {
        const current = await selectOne(tx, 'id', id, true);
        if (!current) return undefined;
        const outcome = await change(current);
        await apply(tx, outcome, { events: outcome.events, context: { source, correlationId } });
        const result = { payment: (await view(tx, outcome.payment))!, failure: outcome.failure };
        await record?.(tx, result);
        return result;
      });
    },
  };
}

export type PaymentsStore = ReturnType<typeof createPaymentsStore>;
