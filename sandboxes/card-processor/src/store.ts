import { randomBytes } from 'node:crypto';
import { deferWrite, type Db, type Sql } from '@emporium/platform';
import type { Outcome } from './cards';
import type { StripeErrorBody } from './errors';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
/** Stripe-style ids: a type prefix and 24 random alphanumerics (`pi_3Nx…`). */
export const newId = (prefix: string): string => `${prefix}_${[...randomBytes(24)].map((b) => ALPHABET[b % ALPHABET.length]).join('')}`;

export interface TokenRow {
  id: string;
  card_id: string;
  brand: string;
  last4: string;
  exp_month: number;
  exp_year: number;
  outcome: Outcome;
  created_at: Date;
}

export type IntentStatus = 'requires_payment_method' | 'requires_capture' | 'succeeded' | 'canceled';

export interface IntentRow {
  id: string;
  amount: number;
  currency: string;
  capture_method: 'automatic' | 'manual';
  status: IntentStatus;
  amount_capturable: number;
  amount_received: number;
  amount_refunded: number;
  outcome: Outcome;
  payment_method: string;
  latest_charge: string | null;
  client_secret: string;
  metadata: Record<string, string>;
  last_payment_error: StripeErrorBody | null;
  cancellation_reason: string | null;
  canceled_at: Date | null;
  created_at: Date;
}

export interface RefundRow {
  id: string;
  payment_intent: string;
  charge: string;
  amount: number;
  currency: string;
  reason: string | null;
  created_at: Date;
}

const INTENT_COLUMNS =
  'id, amount, currency, capture_method, status, amount_capturable, amount_received, amount_refunded, outcome, payment_method, latest_charge, client_secret, metadata, last_payment_error, cancellation_reason, canceled_at, created_at';

export function createProcessorStore(db: Db) {
  return {
    db,
    // Writes go through `deferWrite`: they travel with the transaction's next statement or its COMMIT,
    // and the row they return is the one written (every column is given here).
    async insertToken(sql: Sql, token: Omit<TokenRow, 'created_at'>, now: Date): Promise<TokenRow> {
      await deferWrite(sql, 'INSERT INTO tokens (id, card_id, brand, last4, exp_month, exp_year, outcome, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)', [
        token.id, token.card_id, token.brand, token.last4, token.exp_month, token.exp_year, token.outcome, now,
      ]);
      return { ...token, created_at: now };
    },

    async token(sql: Sql, id: string): Promise<TokenRow | undefined> {
      return (await sql.query<TokenRow>('SELECT * FROM tokens WHERE id = $1', [id])).rows[0];
    },

    async insertIntent(sql: Sql, intent: Omit<IntentRow, 'amount_refunded' | 'cancellation_reason' | 'canceled_at'>): Promise<IntentRow> {
      await deferWrite(
        sql,
        `INSERT INTO payment_intents (id, amount, currency, capture_method, status, amount_capturable, amount_received, outcome, payment_method, latest_charge, client_secret, metadata, last_payment_error, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::jsonb, $13::jsonb, $14)`,
        [
          intent.id,
          intent.amount,
          intent.currency,
          intent.capture_method,
          intent.status,
          intent.amount_capturable,
          intent.amount_received,
          intent.outcome,
          intent.payment_method,
          intent.latest_charge,
          intent.client_secret,
          JSON.stringify(intent.metadata),
          intent.last_payment_error ? JSON.stringify(intent.last_payment_error) : null,
          intent.created_at,
        ],
      );
      return { ...intent, amount_refunded: 0, cancellation_reason: null, canceled_at: null };
    },

    async intent(sql: Sql, id: string, lock = false): Promise<IntentRow | undefined> {
      return (await sql.query<IntentRow>(`SELECT ${INTENT_COLUMNS} FROM payment_intents WHERE id = $1${lock ? ' FOR UPDATE' : ''}`, [id])).rows[0];
    },

    /** Changes an intent read (and locked) in the same transaction; answers it as changed. */
    async updateIntent(sql: Sql, pi: IntentRow, changes: Partial<Pick<IntentRow, 'status' | 'amount_capturable' | 'amount_received' | 'amount_refunded' | 'cancellation_reason' | 'canceled_at'>>): Promise<IntentRow> {
      const keys = Object.keys(changes) as Array<keyof typeof changes>;
      await deferWrite(sql, `UPDATE payment_intents SET ${keys.map((k, i) => `${k} = $${i + 2}`).join(', ')} WHERE id = $1`, [pi.id, ...keys.map((k) => changes[k])]);
      return { ...pi, ...changes };
    },

    async insertRefund(sql: Sql, refund: RefundRow): Promise<RefundRow> {
      await deferWrite(sql, 'INSERT INTO refunds (id, payment_intent, charge, amount, currency, reason, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)', [
        refund.id, refund.payment_intent, refund.charge, refund.amount, refund.currency, refund.reason, refund.created_at,
      ]);
      return refund;
    },

    /**
     * Claims an Idempotency-Key inside the transaction that does the request's work, so the key and
     * the work commit (or vanish) together. A transaction-level advisory lock on the key tells a
     * request still running elsewhere ('busy', which Stripe answers with 409) from one that finished
     * (its stored answer). A row without an answer can only be a claim of a request that crashed
     * under an older version (claims were committed before the work then): the lock proves nobody
     * runs it, so it is taken over.
     */
    async claimKey(sql: Sql, key: string, requestHash: string): Promise<'claimed' | 'busy' | { request_hash: string; status: number; body: unknown }> {
      const { rows } = await sql.query<{ free: boolean; claimed: boolean }>(
        `WITH lock AS (SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0)) AS free),
              claim AS (INSERT INTO idempotency_keys (key, request_hash) SELECT $1, $2 FROM lock WHERE free ON CONFLICT (key) DO NOTHING RETURNING 1)
         SELECT (SELECT free FROM lock) AS free, EXISTS (SELECT 1 FROM claim) AS claimed`,
        [key, requestHash],
      );
      if (!rows[0]!.free) return 'busy';
      if (rows[0]!.claimed) return 'claimed';
      const row = (await sql.query<{ request_hash: string; status: number | null; body: unknown }>('SELECT request_hash, status, body FROM idempotency_keys WHERE key = $1', [key])).rows[0]!;
      if (row.status !== null) return { request_hash: row.request_hash, status: row.status, body: row.body };
      await sql.query('UPDATE idempotency_keys SET request_hash = $2, created_at = now() WHERE key = $1', [key, requestHash]);
      return 'claimed';
    },

    /** Stores the answer to a claimed key; it commits with the request's work. */
    async recordKey(sql: Sql, key: string, status: number, body: unknown): Promise<void> {
      await deferWrite(sql, 'UPDATE idempotency_keys SET status = $2, body = $3::jsonb WHERE key = $1', [key, status, JSON.stringify(body)]);
    },

    /** Stripe keeps keys for at least 24 hours. */
    async forgetKeysBefore(before: Date): Promise<void> {
      await db.query('DELETE FROM idempotency_keys WHERE created_at < $1', [before]);
    },
  };
}

export type ProcessorStore = ReturnType<typeof createProcessorStore>;
