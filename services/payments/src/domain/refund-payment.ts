import type { RefundPaymentRequest } from '@emporium/contracts';
import { AppError, conflict, event, invalid } from '@emporium/platform';
import { ProcessorConflict, type PaymentProvider } from '../providers/provider';
import { refundableAmount, refundKey, transition, unchanged, type Payment, type PaymentOutcome } from './payment';

/** Another refund of the same payment got there first: nothing was refunded twice; retry to refund on top of it. */
export const refundInProgress = (paymentId: string, cause?: unknown): AppError =>
  new AppError('PAYMENTS.REFUND_IN_PROGRESS', `Another refund of payment ${paymentId} is being made; retry in a moment.`, { status: 409, cause, extensions: { retryAfterSeconds: 1 } });

/** A staff refund of part or all of what was captured and not yet refunded. */
export async function refundPayment(
  payment: Payment,
  request: RefundPaymentRequest,
  provider: PaymentProvider,
  now: Date,
): Promise<PaymentOutcome> {
  if (payment.status === 'refunded') throw conflict('PAYMENTS.ALREADY_REFUNDED', `Payment ${payment.id} is already fully refunded.`);
  if ((payment.status !== 'captured' && payment.status !== 'partially_refunded') || !payment.providerRef) {
    throw conflict('PAYMENTS.NOT_CAPTURED', `Payment ${payment.id} is ${payment.status}; only captured money can be refunded.`, { paymentStatus: payment.status });
  }
  const refundable = refundableAmount(payment);
  const amount = request.amount ?? refundable;
  if (amount > refundable) {
    throw invalid('PAYMENTS.REFUND_TOO_LARGE', `At most ${refundable} can still be refunded.`, [{ field: 'amount', message: `must be at most ${refundable} (captured minus refunded)` }]);
  }
  const providerRef = payment.providerRef;
  const result = await provider.refund({ providerRef, amount, idempotencyKey: refundKey(payment) }).catch((error: unknown) => {
    if (error instanceof AppError) throw error;
    if (error instanceof ProcessorConflict) throw refundInProgress(payment.id, error);
    throw new AppError('PAYMENTS.PROVIDER_UNAVAILABLE', 'The payment provider is unavailable; try again later.', { status: 503, cause: error });
  });
  if (result.status === 'failed') {
    return {
      ...unchanged(payment),
      transactions: [{ kind: 'refund', amount, outcome: 'failed', code: result.code, providerRef, reason: request.reason }],
      failure: result,
    };
  }
  const refundedAmount = payment.refundedAmount + amount;
  return {
    payment: transition(payment, refundedAmount === payment.capturedAmount ? 'refunded' : 'partially_refunded', { refundedAmount }, now),
    transactions: [{ kind: 'refund', amount, outcome: 'succeeded', code: null, providerRef: result.refundRef, reason: request.reason }],
    events: [event('payment_refunded', payment.orderId, { orderId: payment.orderId, paymentId: payment.id, amount, currency: payment.currency })],
  };
}
