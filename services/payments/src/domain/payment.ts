import type { Payment as PaymentView, PaymentStatus, PaymentTransaction } from '@emporium/contracts';
import { AppError, type PendingEvent } from '@emporium/platform';

/** A payment as the domain handles it; the view adds its transactions. */
export type Payment = Omit<PaymentView, 'transactions'>;

/** One call to the provider, written to the audit log. */
export interface TransactionRecord {
  kind: PaymentTransaction['kind'];
  amount: number;
  outcome: PaymentTransaction['outcome'];
  code: string | null;
  providerRef: string | null;
  reason?: string;
}

/** What a use case decided: the payment after it, the provider calls made, the facts to publish. */
export interface PaymentOutcome {
  payment: Payment;
  transactions: TransactionRecord[];
  events: PendingEvent[];
  /** Set when the provider refused; callers log it or turn it into an HTTP error. */
  failure?: { code: string; message: string };
}

export const TRANSITIONS: Readonly<Record<PaymentStatus, readonly PaymentStatus[]>> = {
  authorizing: ['authorized', 'declined'],
  authorized: ['captured', 'voided'],
  declined: [],
  captured: ['partially_refunded', 'refunded'],
  partially_refunded: ['partially_refunded', 'refunded'],
  voided: [],
  refunded: [],
};

export function transition(payment: Payment, to: PaymentStatus, changes: Partial<Payment>, now: Date): Payment {
  if (!TRANSITIONS[payment.status].includes(to)) {
    throw new AppError('PAYMENTS.INVALID_TRANSITION', `Payment ${payment.id} cannot go from ${payment.status} to ${to}.`, { status: 409 });
  }
  return { ...payment, ...changes, status: to, updatedAt: now.toISOString() };
}

/** Customer-facing reasons carried by `payment_failed`, by decline code. */
export const FAILURE_REASONS: Readonly<Record<string, string>> = {
  card_declined: 'Your card was declined.',
  insufficient_funds: 'Insufficient funds.',
  expired_card: 'Your card has expired.',
  invalid_token: 'Your card details could not be used. Please enter them again.',
  invalid_amount: 'The amount to pay is not valid.',
};

export const reasonFor = (code: string): string => FAILURE_REASONS[code] ?? 'The payment could not be completed.';

export const refundableAmount = (payment: Payment): number => payment.capturedAmount - payment.refundedAmount;

/**
 * The processor's idempotency key of the payment's next refund: one per amount already refunded, so a
 * retry of the same refund is answered once, and a concurrent different one is refused by the processor.
 */
export const refundKey = (payment: Payment): string => `${payment.id}:refund:${payment.refundedAmount}`;

export const unchanged = (payment: Payment): PaymentOutcome => ({ payment, transactions: [], events: [] });
