import { event } from '@emporium/platform';
import type { PaymentProvider } from '../providers/provider';
import { transition, unchanged, type Payment, type PaymentOutcome } from './payment';

const ALREADY_CAPTURED = new Set<Payment['status']>(['captured', 'partially_refunded', 'refunded']);

/**
 * Takes the money held by the authorization. Capturing twice changes nothing; a payment that
 * is not authorized, or an amount beyond the authorization, is answered with capture_failed.
 */
export async function capturePayment(payment: Payment, requested: { amount: number; currency: string }, provider: PaymentProvider, now: Date): Promise<PaymentOutcome> {
  if (ALREADY_CAPTURED.has(payment.status)) return unchanged(payment);
  const fail = (code: string, reason: string, outcome: Omit<PaymentOutcome, 'events'> = unchanged(payment)): PaymentOutcome => ({
    ...outcome,
    events: [event('payment_capture_failed', payment.orderId, { orderId: payment.orderId, paymentId: payment.id, code, reason })],
    failure: { code, message: reason },
  });
  if (payment.status !== 'authorized' || !payment.providerRef) {
    return fail('not_authorized', `Payment ${payment.id} is ${payment.status}; only an authorized payment can be captured.`);
  }
  if (requested.currency !== payment.currency || requested.amount <= 0 || requested.amount > payment.amount) {
    return fail('invalid_amount', `Cannot capture ${requested.amount} ${requested.currency}; ${payment.amount} ${payment.currency} is authorized.`);
  }
  const result = await provider.capture({ providerRef: payment.providerRef, amount: requested.amount, idempotencyKey: `${payment.id}:capture` });
  if (result.status === 'failed') {
    return fail(result.code, result.message, {
      payment,
      transactions: [{ kind: 'capture', amount: requested.amount, outcome: 'failed', code: result.code, providerRef: payment.providerRef }],
    });
  }
  return {
    payment: transition(payment, 'captured', { capturedAmount: result.amount }, now),
    transactions: [{ kind: 'capture', amount: result.amount, outcome: 'succeeded', code: null, providerRef: payment.providerRef }],
    events: [event('payment_captured', payment.orderId, { orderId: payment.orderId, paymentId: payment.id, amount: result.amount, currency: payment.currency })],
  };
}
