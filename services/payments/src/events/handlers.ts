import { event, type EventHandlers } from '@emporium/platform';
import { authorizePayment, newPayment } from '../domain/authorize-payment';
import { capturePayment } from '../domain/capture-payment';
import { releasePayment } from '../domain/release-payment';
import type { ProviderFactory } from '../providers/provider';
import type { PaymentsStore } from '../store/payments.store';

export interface HandlerDeps {
  store: PaymentsStore;
  providers: ProviderFactory;
  newPaymentId: () => string;
  clock?: () => Date;
}

/**
 * The payment steps of the checkout saga. The provider is called inside the event's
 * transaction: right for the in-process sandbox; a remote provider needs the call outside
 * it, with the payment's idempotency key (see README).
 */
export function paymentHandlers({ store, providers, newPaymentId, clock = () => new Date() }: HandlerDeps): EventHandlers {
  return {
    order_payment_requested: async (data, { tx, emit, logger }) => {
      const provider = providers(tx);
      const payment = newPayment(data, newPaymentId(), provider.name, clock());
      if (!(await store.insert(tx, payment))) {
        logger.info({ orderId: data.orderId }, 'order already has a payment; request ignored');
        return;
      }
      const outcome = await authorizePayment(payment, data.paymentToken, provider, clock());
      await store.apply(tx, outcome);
      await emit(outcome.events);
      logger.info({ orderId: data.orderId, paymentId: payment.id, status: outcome.payment.status, code: outcome.payment.declineCode }, 'payment authorization answered');
    },

    order_capture_requested: async (data, { tx, emit, logger }) => {
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
      const outcome = await capturePayment(payment, data, providers(tx), clock());
      await store.apply(tx, outcome);
      await emit(outcome.events);
      if (outcome.failure) logger.warn({ orderId: data.orderId, paymentId: payment.id, ...outcome.failure }, 'capture failed');
    },

    // An undo orders sequences: asked for only after the order's shipment was cancelled.
    order_payment_release_requested: async (data, { tx, emit, logger }) => {
      const payment = await store.lock(tx, data.paymentId);
      if (!payment || payment.orderId !== data.orderId) {
        logger.warn({ orderId: data.orderId, paymentId: data.paymentId }, 'release requested for an unknown payment');
        return;
      }
      const outcome = await releasePayment(payment, providers(tx), clock(), { refundCaptured: true });
      await store.apply(tx, outcome);
      await emit(outcome.events);
      if (outcome.failure) logger.error({ orderId: data.orderId, paymentId: payment.id, ...outcome.failure }, 'provider refused to release the payment; needs staff attention');
    },

    order_cancelled: async (data, { tx, emit, logger }) => {
      // Without voidPaymentId an authorization the order never heard of is still voided, but
      // captured money is refunded only on the order's explicit request.
      const payment = data.voidPaymentId ? await store.lock(tx, data.voidPaymentId) : await store.lockByOrder(tx, data.orderId);
      if (!payment || payment.orderId !== data.orderId) {
        if (data.voidPaymentId) logger.warn({ orderId: data.orderId, paymentId: data.voidPaymentId }, 'void requested for an unknown payment');
        return;
      }
      const outcome = await releasePayment(payment, providers(tx), clock(), { refundCaptured: data.voidPaymentId !== null });
      await store.apply(tx, outcome);
      await emit(outcome.events);
      if (outcome.failure) logger.error({ orderId: data.orderId, paymentId: payment.id, ...outcome.failure }, 'provider refused to release the payment; needs staff attention');
    },
  };
}
