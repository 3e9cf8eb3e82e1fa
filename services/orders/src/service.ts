import { fileURLToPath } from 'node:url';
import { createHttpApp, createIdempotency, defineService, every, type HandlerContext, type Service, type ServiceDeps } from '@emporium/platform';
import { createCartClient } from './cart-client';
import type { CartSnapshot } from './domain/place-order';
import { createOrderChanges } from './http/order-changes';
import { ordersRoutes } from './http/orders.routes';
import { DEFAULT_STEP_TIMEOUTS, isTerminal, type StepTimeouts } from './domain/order';
import {
  onAuthorizationExpired,
  onCaptureFailed,
  onCompensated,
  onPaymentAuthorized,
  onPaymentCaptured,
  onPaymentFailed,
  onReservationExpired,
  onShipmentCreated,
  onStockInsufficient,
  onStepTimedOut,
  onStockReserved,
} from './saga/checkout.saga';
import { createOrdersStore } from './store/orders.store';

export const SERVICE = 'orders';
const MIGRATIONS = fileURLToPath(new URL('../migrations', import.meta.url));

export interface OrdersOptions {
  /** Base URL of the cart service, read at checkout-from-cart. */
  cartUrl: string;
  /** How long stock stays reserved for an order waiting for payment. Default 15 minutes. */
  reservationTtlMs?: number;
  /** How long each waiting step may take before the order is cancelled with its compensations. */
  stepTimeouts?: Partial<StepTimeouts>;
  /** How often orders past their step's deadline are cancelled. Default 5 s. */
  expiryIntervalMs?: number;
  /** Replaces the HTTP cart client (tests that run without a cart service). */
  cart?: (customerId: string) => Promise<CartSnapshot>;
}

export async function createOrdersService(deps: ServiceDeps, options: OrdersOptions): Promise<Service> {
  const app = await createHttpApp({
    service: SERVICE,
    description: 'Orders and the checkout saga. POST /api/orders accepts the seed body.',
    logger: deps.logger,
    metrics: deps.metrics,
    readiness: { database: deps.db.isReady, bus: deps.bus.isReady },
  });
  const store = createOrdersStore(deps.db, SERVICE, { ...DEFAULT_STEP_TIMEOUTS, ...options.stepTimeouts });
  const idempotency = createIdempotency({ db: deps.db, logger: deps.logger });
  const changes = createOrderChanges(deps.db, deps.logger);
  app.addHook('onClose', () => changes.close());
  const cartClient = options.cart ? undefined : createCartClient(options.cartUrl);
  if (cartClient) app.addHook('onClose', () => cartClient.close());
  ordersRoutes(app, {
    changes,
    store,
    cart: options.cart ?? ((customerId) => cartClient!.read(customerId)),
    reservationTtlMs: options.reservationTtlMs ?? 15 * 60_000,
    idempotency,
  });

  /** A saga reaction inside an event's transaction (react keeps its copy of the order once it commits). */
  const inEvent = ({ tx, afterCommit, envelope }: HandlerContext) => ({ tx, afterCommit, correlationId: envelope.correlationId });

  const timeOutDue = async () => {
    for (const id of await store.dueForTimeout(new Date())) {
      const ended = await store.react(id, (order) => onStepTimedOut(order, new Date()));
      if (ended && isTerminal(ended.status)) deps.logger.info({ orderId: id, code: ended.failureCode }, 'order step timed out; order cancelled');
    }
  };

  return defineService({
    name: SERVICE,
    deps,
    app,
    migrationsDir: MIGRATIONS,
    // Each saga event locks only its own order's rows, and product events their own product's:
    // runs of different partitions can commit side by side without deadlocking.
    parallelRuns: true,
    background: [idempotency.cleanupTask(), every(options.expiryIntervalMs ?? 5000, deps.logger, 'time-out-order-steps', timeOutDue)],
    handlers: {
      product_created: (data, { tx, envelope }) => store.upsertProduct(tx, data, envelope.occurredAt),
      product_updated: (data, { tx, envelope }) => store.upsertProduct(tx, data, envelope.occurredAt),
      price_changed: (data, { tx, envelope }) => store.updatePrice(tx, data.productId, data.newAmount, envelope.occurredAt),
      stock_reserved: async (data, context) => {
        await store.react(data.orderId, onStockReserved, inEvent(context));
      },
      stock_insufficient: async (data, context) => {
        const names = new Map([...(await store.products(data.shortages.map((s) => s.productId), context.tx))].map(([id, p]) => [id, p.name]));
        await store.react(data.orderId, (order) => onStockInsufficient(order, data, names), inEvent(context));
      },
      stock_released: async (data, context) => {
        if (data.reason !== 'reservation_expired' && data.reason !== 'order_cancelled') return;
        await store.react(
          data.orderId,
          (order) => (isTerminal(order.status) ? onCompensated(order, 'stock', 'release_stock') : data.reason === 'reservation_expired' ? onReservationExpired(order) : { events: [] }),
          inEvent(context),
        );
      },
      payment_authorized: async (data, context) => {
        await store.react(data.orderId, (order) => onPaymentAuthorized(order, data.paymentId), inEvent(context));
      },
      payment_failed: async (data, context) => {
        await store.react(data.orderId, (order) => onPaymentFailed(order, data), inEvent(context));
      },
      shipment_created: async (data, context) => {
        await store.react(data.orderId, (order) => onShipmentCreated(order, data), inEvent(context));
      },
      payment_captured: async (data, context) => {
        await store.react(data.orderId, onPaymentCaptured, inEvent(context));
      },
      payment_capture_failed: async (data, context) => {
        await store.react(data.orderId, (order) => onCaptureFailed(order, data), inEvent(context));
      },
      payment_authorization_expired: async (data, context) => {
        await store.react(data.orderId, (order) => onAuthorizationExpired(order, data.paymentId), inEvent(context));
      },
      // The facts that confirm each undo of an ended order; each moves its compensations on.
      shipment_cancelled: async (data, context) => {
        await store.react(data.orderId, (order) => onCompensated(order, 'shipment', 'cancel_shipment'), inEvent(context));
      },
      payment_voided: async (data, context) => {
        await store.react(data.orderId, (order) => onCompensated(order, 'payment', 'void_payment'), inEvent(context));
      },
      payment_refunded: async (data, context) => {
        await store.react(data.orderId, (order) => onCompensated(order, 'payment', 'refund_payment'), inEvent(context));
      },
    },
  });
}
