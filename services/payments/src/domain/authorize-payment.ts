import type { EventData } from '@emporium/contracts';
import { event } from '@emporium/platform';
import type { PaymentProvider } from '../providers/provider';
import { reasonFor, transition, type Payment, type PaymentOutcome } from './payment';

export function newPayment(request: EventData<'order_payment_requested'>, id: string, provider: string, now: Date): Payment {
  return {
    id,
    orderId: request.orderId,
    customerId: request.customerId,
    amount: request.amount,
    currency: request.currency,
    method: request.paymentMethod,
    provider,
    providerRef: null,
    status: 'authorizing',
    declineCode: null,
    failureReason: null,
    capturedAmount: 0,
    refundedAmount: 0,
    createdAt: now.toISOString(),
    updatedAt: now.toISOString(),
  };
}

/** Asks the provider to hold the order's amount on the card behind `token`. */
export async function authorizePayment(payment: Payment, token: string, provider: PaymentProvider, now: Date): Promise<PaymentOutcome> {
  if (payment.amount <= 0) return declined(payment, 'invalid_amount', now, []);
  const result = await provider.authorize({
    paymentId: payment.id,
    amount: payment.amount,
    currency: payment.currency,
    token,
    idempotencyKey: `${payment.id}:authorize`,
  });
  if (result.status === 'declined') {
    return {
      ...declined(payment, result.code, now, [{ kind: 'authorize', amount: payment.amount, outcome: 'declined', code: result.code, providerRef: null }]),
      failure: { code: result.code, message: result.message },
    };
  }
  const authorized = transition(payment, 'authorized', { providerRef: result.providerRef }, now);
  return {
    payment: authorized,
    transactions: [{ kind: 'authorize', amount: payment.amount, outcome: 'succeeded', code: null, providerRef: result.providerRef }],
    events: [
      event('payment_authorized', payment.orderId, {
        orderId: payment.orderId,
        paymentId: payment.id,
        amount: payment.amount,
        currency: payment.currency,
        provider: payment.provider,
      }),
    ],
  };
}

function declined(payment: Payment, code: string, now: Date, transactions: PaymentOutcome['transactions']): PaymentOutcome {
  const reason = reasonFor(code);
  return {
    payment: transition(payment, 'declined', { declineCode: code, failureReason: reason }, now),
    transactions,
    events: [event('payment_failed', payment.orderId, { orderId: payment.orderId, paymentId: payment.id, code, reason })],
  };
}
