import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { Payment as PaymentView, PaymentId, PaymentOfOrderQuery, RefundPaymentRequest } from '@emporium/contracts';
import { AppError, mayAccessCustomer, notFound, principalOf, problemResponses, type HttpApp, type Idempotency } from '@emporium/platform';
import type { Payment } from '../domain/payment';
import { refundPayment } from '../domain/refund-payment';
import type { PaymentProvider } from '../providers/provider';
import { callOutsideTransaction } from '../providers/provider-calls';
import type { PaymentsStore } from '../store/payments.store';

const Params = z.object({ paymentId: PaymentId });

const missing = (id: string) => notFound('PAYMENTS.PAYMENT_NOT_FOUND', `Payment ${id} does not exist.`);

export function paymentsRoutes(app: HttpApp, store: PaymentsStore, provider: PaymentProvider, idempotency: Idempotency): void {
  const oneAtATime = keyedQueue();
  app.get('/api/payments/:paymentId', {
    schema: { tags: ['payments'], summary: 'One payment and its provider calls (no card data)', params: Params, response: { 200: PaymentView, ...problemResponses } },
  }, async (request) => {
    const payment = await store.get(request.params.paymentId);
    // Another shopper's payment does not exist for them.
    if (!payment || !mayAccessCustomer(principalOf(request), payment.customerId)) throw missing(request.params.paymentId);
    return payment;
  });

  app.get('/api/payments', {
    schema: { tags: ['payments'], summary: 'The payment of an order', querystring: PaymentOfOrderQuery, response: { 200: PaymentView, ...problemResponses } },
  }, async (request) => {
    const payment = await store.getByOrder(request.query.orderId);
    if (!payment || !mayAccessCustomer(principalOf(request), payment.customerId)) throw notFound('PAYMENTS.PAYMENT_NOT_FOUND', `Order ${request.query.orderId} has no payment.`);
    return payment;
  });

  app.post('/api/payments/:paymentId/refund', idempotency.route({
    schema: {
      tags: ['staff'],
      summary: 'Refund part or all of a captured payment (staff); Idempotency-Key makes retries safe',
      params: Params,
      body: RefundPaymentRequest,
      response: { 200: PaymentView, ...problemResponses },
    },
  }), async (request) => {
    const { paymentId } = request.params;
    // Refunds of one payment take turns in this instance; a race with another instance is a 409 to retry.
    return oneAtATime(paymentId, () => refund(request, paymentId));
  });

  const refund = async (request: FastifyRequest<{ Body: RefundPaymentRequest }>, paymentId: string) => {
    const snapshot = await store.find(paymentId);
    if (!snapshot) throw missing(paymentId);
    const refund = (payment: Payment, p: PaymentProvider) => refundPayment(payment, request.body, p, new Date());
    // The processor is called outside the transaction; its answer is recorded in it.
    const result = await callOutsideTransaction(provider, snapshot, refund, (change) =>
      store.refund(
        paymentId,
        change,
        request.correlationId,
        // Money moved and the answer to its Idempotency-Key commit together: a crash in between cannot refund twice.
        (tx, done) => (done.failure ? Promise.resolve() : idempotency.record(request, tx, { status: 200, body: done.payment })),
      ),
    );
    if (!result) throw missing(paymentId);
    if (result.failure) {
      throw new AppError('PAYMENTS.REFUND_REJECTED', `The payment provider refused the refund: ${result.failure.message}`, { status: 409, extensions: { providerCode: result.failure.code } });
    }
    return result.payment;
  };
}

/** Runs `work` after every earlier call for the same key has settled (an in-process queue per key). */
function keyedQueue() {
  const tails = new Map<string, Promise<unknown>>();
  return <T>(key: string, work: () => Promise<T>): Promise<T> => {
    const previous = tails.get(key) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(work);
    const tail = run.catch(() => undefined);
    tails.set(key, tail);
    void tail.then(() => {
      if (tails.get(key) === tail) tails.delete(key);
    });
    return run;
  };
}
