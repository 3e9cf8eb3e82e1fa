import { randomBytes } from 'node:crypto';
import type { CardToken, DeclineCode, TokenizeCardRequest } from '@emporium/contracts';
import { invalid, type Sql } from '@emporium/platform';
import { brandOf, isExpired, isLuhnValid } from './card';
import type { AuthorizeResult, CaptureResult, PaymentProvider, RefundResult, VoidResult } from './provider';

/**
 * The sandbox card processor: stands in for a real one inside the project, with documented
 * test cards (README) whose outcome is fixed by their number.
 */
export const SANDBOX = 'sandbox';

export type SandboxOutcome = 'success' | Exclude<DeclineCode, 'invalid_token'>;

/** Test card numbers and what authorizing them does; any other Luhn-valid number succeeds. */
export const TEST_CARDS: Readonly<Record<string, SandboxOutcome>> = {
  '4242424242424242': 'success',
  '4000000000000002': 'card_declined',
  '4000000000009995': 'insufficient_funds',
  '4000000000000069': 'expired_card',
};

/** Authorizes like `tok_success`, but the issuer refuses to capture: the saga's capture step fails. */
export const CAPTURE_FAILS_TOKEN = 'tok_capture_fails';
const CAPTURE_FAILS_PREFIX = 'ch_capfail';

/** How long the sandbox holds an authorization before it lapses (card networks: about 7 days). */
export const DEFAULT_AUTHORIZATION_LIFETIME_MS = 7 * 24 * 60 * 60_000;

/** Ready-made tokens that need no tokenization call (handy for API users and tests). */
export const TEST_TOKENS: Readonly<Record<string, SandboxOutcome>> = {
  tok_success: 'success',
  tok_declined: 'card_declined',
  tok_insufficient_funds: 'insufficient_funds',
  tok_expired_card: 'expired_card',
};

export const outcomeOfCard = (digits: string): SandboxOutcome => TEST_CARDS[digits] ?? 'success';

const DECLINE_MESSAGES: Record<DeclineCode, string> = {
  card_declined: 'The card was declined.',
  insufficient_funds: 'The card has insufficient funds.',
  expired_card: 'The card has expired.',
  invalid_token: 'The card token is unknown.',
};

const ref = (prefix: string) => `${prefix}_${randomBytes(12).toString('hex')}`;

/**
 * The processor's tokenization endpoint. Keeps only the token, brand, last 4 digits, expiry and
 * the outcome class: the number and CVC leave this function in no form but `last4`.
 */
export async function tokenizeCard(sql: Sql, card: TokenizeCardRequest, now: Date): Promise<CardToken> {
  if (!isLuhnValid(card.number)) {
    throw invalid('PAYMENTS.INVALID_CARD_NUMBER', 'The card number is not valid.', [{ field: 'number', message: 'is not a valid card number (Luhn check failed)' }]);
  }
  if (isExpired(card.expMonth, card.expYear, now)) {
    throw invalid('PAYMENTS.CARD_EXPIRED', 'The card has expired.', [
      { field: 'expMonth', message: 'with expYear lies in the past' },
      { field: 'expYear', message: 'with expMonth lies in the past' },
    ]);
  }
  const token: CardToken = {
    token: ref('tok'),
    brand: brandOf(card.number),
    last4: card.number.slice(-4),
    expMonth: card.expMonth,
    expYear: card.expYear,
  };
  await sql.query('INSERT INTO sandbox_tokens (token, brand, last4, exp_month, exp_year, outcome) VALUES ($1, $2, $3, $4, $5, $6)', [
    token.token,
    token.brand,
    token.last4,
    token.expMonth,
    token.expYear,
    outcomeOfCard(card.number),
  ]);
  return token;
}

interface ChargeRow {
  provider_ref: string;
  amount: number;
  status: 'authorized' | 'captured' | 'voided';
  captured_amount: number;
  refunded_amount: number;
  created_at: Date;
}

const failed = (code: string, message: string) => ({ status: 'failed' as const, code, message });

export function createSandboxProvider(
  sql: Sql,
  clock: () => Date = () => new Date(),
  options: { authorizationLifetimeMs?: number } = {},
): PaymentProvider {
  const lifetimeMs = options.authorizationLifetimeMs ?? DEFAULT_AUTHORIZATION_LIFETIME_MS;
  const outcomeOfToken = async (token: string): Promise<SandboxOutcome | 'invalid_token'> => {
    const fixed = TEST_TOKENS[token];
    if (fixed) return fixed;
    const { rows } = await sql.query<{ outcome: SandboxOutcome; exp_month: number; exp_year: number }>(
      'SELECT outcome, exp_month, exp_year FROM sandbox_tokens WHERE token = $1',
      [token],
    );
    const row = rows[0];
    if (!row) return 'invalid_token';
    return isExpired(row.exp_month, row.exp_year, clock()) ? 'expired_card' : row.outcome;
  };

  const lockCharge = async (providerRef: string): Promise<ChargeRow | undefined> =>
    (await sql.query<ChargeRow>('SELECT provider_ref, amount, status, captured_amount, refunded_amount, created_at FROM sandbox_charges WHERE provider_ref = $1 FOR UPDATE', [providerRef])).rows[0];

  const unknownCharge = (providerRef: string) => failed('unknown_charge', `No charge ${providerRef}.`);

  return {
    name: SANDBOX,

    async authorize({ amount, currency, token, idempotencyKey }): Promise<AuthorizeResult> {
      const earlier = await sql.query<{ provider_ref: string }>('SELECT provider_ref FROM sandbox_charges WHERE idempotency_key = $1', [idempotencyKey]);
      if (earlier.rows[0]) return { status: 'authorized', providerRef: earlier.rows[0].provider_ref };
      const outcome = token === CAPTURE_FAILS_TOKEN ? 'success' : await outcomeOfToken(token);
      if (outcome !== 'success') return { status: 'declined', code: outcome, message: DECLINE_MESSAGES[outcome] };
      const providerRef = ref(token === CAPTURE_FAILS_TOKEN ? CAPTURE_FAILS_PREFIX : 'ch');
      await sql.query('INSERT INTO sandbox_charges (provider_ref, idempotency_key, amount, currency, status) VALUES ($1, $2, $3, $4, $5)', [
        providerRef,
        idempotencyKey,
        amount,
        currency,
        'authorized',
      ]);
      return { status: 'authorized', providerRef };
    },

    async capture({ providerRef, amount }): Promise<CaptureResult> {
      const charge = await lockCharge(providerRef);
      if (!charge) return unknownCharge(providerRef);
      if (charge.status === 'captured') return { status: 'captured', amount: charge.captured_amount };
      if (charge.status === 'voided') return failed('charge_voided', 'The authorization was voided.');
      if (amount > charge.amount) return failed('amount_too_large', `Cannot capture ${amount}; ${charge.amount} was authorized.`);
      if (clock().getTime() - charge.created_at.getTime() > lifetimeMs) return failed('authorization_expired', 'The authorization has expired.');
      if (providerRef.startsWith(CAPTURE_FAILS_PREFIX)) return failed('capture_declined', 'The card issuer declined the capture.');
      await sql.query("UPDATE sandbox_charges SET status = 'captured', captured_amount = $2 WHERE provider_ref = $1", [providerRef, amount]);
      return { status: 'captured', amount };
    },

    async void({ providerRef }): Promise<VoidResult> {
      const charge = await lockCharge(providerRef);
      if (!charge) return unknownCharge(providerRef);
      if (charge.status === 'captured') return failed('charge_captured', 'A captured charge cannot be voided; refund it.');
      await sql.query("UPDATE sandbox_charges SET status = 'voided' WHERE provider_ref = $1", [providerRef]);
      return { status: 'voided' };
    },

    async refund({ providerRef, amount }): Promise<RefundResult> {
      const charge = await lockCharge(providerRef);
      if (!charge) return unknownCharge(providerRef);
      if (charge.status !== 'captured') return failed('charge_not_captured', 'Only a captured charge can be refunded.');
      const refundable = charge.captured_amount - charge.refunded_amount;
      if (amount > refundable) return failed('amount_too_large', `Cannot refund ${amount}; ${refundable} is refundable.`);
      await sql.query('UPDATE sandbox_charges SET refunded_amount = refunded_amount + $2 WHERE provider_ref = $1', [providerRef, amount]);
      return { status: 'refunded', amount, refundRef: ref('re') };
    },
  };
}
