import { event } from '@emporium/platform';
import { transition, unchanged, type Payment, type PaymentOutcome } from './payment';

export const AUTHORIZATION_EXPIRED = 'authorization_expired';

/**
 * An authorization not captured within its lifetime lapses at the processor: the payment can no
 * longer be captured, so it is marked released (voided, code `authorization_expired`) and orders
 * is told, which cancels the order and releases its stock.
 */
export function expireAuthorization(payment: Payment, lifetimeMs: number, now: Date): PaymentOutcome {
  const authorizedAt = new Date(payment.updatedAt);
  if (payment.status !== 'authorized' || now.getTime() - authorizedAt.getTime() < lifetimeMs) return unchanged(payment);
  return {
    payment: transition(payment, 'voided', { declineCode: AUTHORIZATION_EXPIRED, failureReason: 'The authorization expired before it was captured.' }, now),
    transactions: [{ kind: 'void', amount: payment.amount, outcome: 'succeeded', code: AUTHORIZATION_EXPIRED, providerRef: payment.providerRef }],
    events: [
      event('payment_authorization_expired', payment.orderId, {
        orderId: payment.orderId,
        paymentId: payment.id,
        authorizedAt: authorizedAt.toISOString(),
        expiredAt: now.toISOString(),
      }),
    ],
  };
}
