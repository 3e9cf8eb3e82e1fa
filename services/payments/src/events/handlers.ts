import { event, type EventHandlers, type HandlerContext } from '@emporium/platform';
import { newPayment } from '../domain/authorize-payment';
import type { PaymentsStore } from '../store/payments.store';

export interface HandlerDeps {
  store: PaymentsStore;
  /** Stored on each new payment, e.g. `stripe`. */
  providerName: string;
  newPaymentId: () => string;
  clock?: () => Date;
  /** Told once a transaction that queued a processor call has committed: makes the call now. */
  callQueued?: () => void;
}

/**
 * The payment steps of the checkout saga. The processor is remote, so a handler only records
 * the call to make in the event's transaction; `provider-calls.ts` makes it after the commit,
 * with the payment's idempotency key, and records its answer and events in a second transaction.
 */
export function paymentHandlers({ store, providerName, newPaymentId, clock = () => new Date(), callQueued }: HandlerDeps): EventHandlers {
  /** Queues the call in the event's transaction; this instance makes it once that commits (others' polls would find it too). */
  const queue = async ({ tx, afterCommit }: HandlerContext, call: Parameters<PaymentsStore['queueCall']>[1]) => {
    await store.queueCall(tx, call);
    if (callQueued) afterCommit(callQueued);
  };
  return {
    order_payment_requested: async (data, context) => {
      const { tx, envelope, logger } = context;
      const payment = newPayment(data, newPaymentId(), providerName, clock());
      if (!(await store.insert(tx, payment))) {
        logger.info({ orderId: data.orderId }, 'order already has a payment; request ignored');
        return;
      }
      await queue(context, { paymentId: payment.id, kind: 'authorize', request: { token: data.paymentToken }, correlationId: envelope.correlationId });
    },

    order_capture_requested: async (data, context) => {
      const { tx, envelope, emit, logger } = context;
      const payment = await store.lock(tx, data.paymentId);
      if (!payment || payment.orderId !== data.orderId) {
        logger.warn({ orderId: data.orderId, paymentId: data.paymentId }, 'capture requested for an unknown payment');
        await emit([
          event('payment_capture_failed', data.orderId, {
            orderId: data.orderId,
            paymentId: data.paymentId,
            code: 'payment_not_found',
            reason: `Order ${data.orderId} has no payment ${data.paymentId}.`,
          }),
        ]);
        return;
      }
      await queue(context, { paymentId: payment.id, kind: 'capture', request: { amount: data.amount, currency: data.currency }, correlationId: envelope.correlationId });
    },

    // An undo orders sequences: asked for only after the order's shipment was cancelled.
    order_payment_release_requested: async (data, context) => {
      const { tx, envelope, logger } = context;
      const payment = await store.lock(tx, data.paymentId);
      if (!payment || payment.orderId !== data.orderId) {
        logger.warn({ orderId: data.orderId, paymentId: data.paymentId }, 'release requested for an unknown payment');
        return;
      }
      await queue(context, { paymentId: payment.id, kind: 'release', request: {}, correlationId: envelope.correlationId });
    },

    order_cancelled: async (data, context) => {
      const { tx, envelope, logger } = context;
      // Without voidPaymentId an authorization the order never heard of is still voided, but
      // captured money is refunded only on the order's explicit request.
      const payment = data.voidPaymentId ? await store.lock(tx, data.voidPaymentId) : await store.lockByOrder(tx, data.orderId);
      if (!payment || payment.orderId !== data.orderId) {
        if (data.voidPaymentId) logger.warn({ orderId: data.orderId, paymentId: data.voidPaymentId }, 'void requested for an unknown payment');
        return;
      }
      await queue(context, { paymentId: payment.id, kind: 'cancel', request: { refundCaptured: data.voidPaymentId !== null }, correlationId: envelope.correlationId });
    },
  };
}
