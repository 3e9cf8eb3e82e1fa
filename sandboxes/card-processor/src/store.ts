import { randomBytes } from 'node:crypto';
import type { Db, Sql } from '@emporium/platform';
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
    async insertToken(token: Omit<TokenRow, 'created_at'>, now: Date): Promise<TokenRow> {
      const { rows } = await db.query<TokenRow>(
        'INSERT INTO tokens (id, card_id, brand, last4, exp_month, exp_year, outcome, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *',
        [token.id, token.card_id, token.brand, token.last4, token.exp_month, token.exp_year, token.outcome, now],
      );
      return rows[0]!;
    },

    async token(id: string): Promise<TokenRow | undefined> {
      return (await db.query<TokenRow>('SELECT * FROM tokens WHERE id = $1', [id])).rows[0];
    },

    async insertIntent(intent: Omit<IntentRow, 'amount_refunded' | 'cancellation_reason' | 'canceled_at'>): Promise<IntentRow> {
      const { rows } = await db.query<IntentRow>(
        `INSERT INTO payment_intents (id, amount, currency, capture_method, status, amount_capturable, amount_received, outcome, payment_method, latest_charge, client_secret, metadata, last_payment_error, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::jsonb, $13::jsonb, $14) RETURNING ${INTENT_COLUMNS}`,
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
      return rows[0]!;
    },

    async intent(sql: Sql, id: string, lock = false): Promise<IntentRow | undefined> {
      return (await sql.query<IntentRow>(`SELECT ${INTENT_COLUMNS} FROM payment_intents WHERE id = $1${lock ? ' FOR UPDATE' : ''}`, [id])).rows[0];
    },

    async updateIntent(sql: Sql, id: string, changes: Partial<Pick<IntentRow, 'status' | 'amount_capturable' | 'amount_received' | 'amount_refunded' | 'cancellation_reason' | 'canceled_at'>>): Promise<IntentRow> {
      const keys = Object.keys(changes) as Array<keyof typeof changes>;
      const { rows } = await sql.query<IntentRow>(
        `UPDATE payment_intents SET ${keys.map((k, i) => `${k} = $${i + 2}`).join(', ')} WHERE id = $1 RETURNING ${INTENT_COLUMNS}`,
        [id, ...keys.map((k) => changes[k])],
      );
      return rows[0]!;
    },

    async insertRefund(sql: Sql, refund: RefundRow): Promise<RefundRow> {
      const { rows } = await sql.query<RefundRow>(
        'INSERT INTO refunds (id, payment_intent, charge, amount, currency, reason, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *',
        [refund.id, refund.payment_intent, refund.charge, refund.amount, refund.currency, refund.reason, refund.created_at],
      );
      return rows[0]!;
    },

    /** Claims an Idempotency-Key; a claim left by a crashed request is taken over after 30 s. */
    async claimKey(key: string, requestHash: string): Promise<'claimed' | { request_hash: string; status: number | null; body: unknown }> {
      const claimed = await db.query('INSERT INTO idempotency_keys (key, request_hash) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING', [key, requestHash]);
      if (claimed.rowCount > 0) return 'claimed';
      const stale = await db.query(
        "UPDATE idempotency_keys SET created_at = now() WHERE key = $1 AND request_hash = $2 AND status IS NULL AND created_at < now() - interval '30 seconds'",
        [key, requestHash],
      );
      if (stale.rowCount > 0) return 'claimed';
      const row = (await db.query<{ request_hash: string; status: number | null; body: unknown }>('SELECT request_hash, status, body FROM idempotency_keys WHERE key = $1', [key])).rows[0];
      return row ?? { request_hash: requestHash, status: null, body: null };
    },

    async recordKey(key: string, status: number, body: unknown): Promise<void> {
      await db.query('UPDATE idempotency_keys SET status = $2, body = $3::jsonb WHERE key = $1', [key, status, JSON.stringify(body)]);
    },

    async releaseKey(key: string): Promise<void> {
      await db.query('DELETE FROM idempotency_keys WHERE key = $1 AND status IS NULL', [key]);
    },

    /** Stripe keeps keys for at least 24 hours. */
    async forgetKeysBefore(before: Date): Promise<void> {
      await db.query('DELETE FROM idempotency_keys WHERE created_at < $1', [before]);
    },
  };
}

export type ProcessorStore = ReturnType<typeof createProcessorStore>;
