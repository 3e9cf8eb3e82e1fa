import { event } from '@emporium/platform';
import type { PaymentProvider } from '../providers/provider';
import { refundableAmount, refundKey, transition, unchanged, type Payment, type PaymentOutcome } from './payment';

/**
 * The compensation for a cancelled order: an authorization is voided; money already captured
 * is refunded in full when `refundCaptured`. Anything already released changes nothing.
 */
export async function releasePayment(payment: Payment, provider: PaymentProvider, now: Date, options: { refundCaptured: boolean }): Promise<PaymentOutcome> {
  const providerRef = payment.providerRef;
  if (!providerRef) return unchanged(payment);

  if (payment.status === 'authorized') {
    const result = await provider.void({ providerRef, idempotencyKey: `${payment.id}:void` });
    if (result.status === 'failed') {
      return { ...unchanged(payment), transactions: [{ kind: 'void', amount: payment.amount, outcome: 'failed', code: result.code, providerRef }], failure: result };
    }
    return {
      payment: transition(payment, 'voided', {}, now),
      transactions: [{ kind: 'void', amount: payment.amount, outcome: 'succeeded', code: null, providerRef }],
      events: [event('payment_voided', payment.orderId, { orderId: payment.orderId, paymentId: payment.id })],
    };
  }

  const remaining = refundableAmount(payment);
  if (options.refundCaptured && (payment.status === 'captured' || payment.status === 'partially_refunded') && remaining > 0) {
    const reason = 'order cancelled';
    const result = await provider.refund({ providerRef, amount: remaining, idempotencyKey: refundKey(payment) });
    if (result.status === 'failed') {
      return { ...unchanged(payment), transactions: [{ kind: 'refund', amount: remaining, outcome: 'failed', code: result.code, providerRef, reason }], failure: result };
    }
    return {
      payment: transition(payment, 'refunded', { refundedAmount: payment.capturedAmount }, now),
      transactions: [{ kind: 'refund', amount: remaining, outcome: 'succeeded', code: null, providerRef: result.refundRef, reason }],
      events: [event('payment_refunded', payment.orderId, { orderId: payment.orderId, paymentId: payment.id, amount: remaining, currency: payment.currency })],
    };
  }
  return unchanged(payment);
}
