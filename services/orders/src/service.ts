import { fileURLToPath } from 'node:url';
import { createHttpApp, defineService, every, type Service, type ServiceDeps } from '@emporium/platform';
import { createCartClient } from './cart-client';
import type { CartSnapshot } from './domain/place-order';
import { ordersRoutes } from './http/orders.routes';
import {
  expireUnpaid,
  onCaptureFailed,
  onPaymentAuthorized,
  onPaymentCaptured,
  onPaymentFailed,
  onReservationExpired,
  onShipmentCreated,
  onStockInsufficient,
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
  /** How often unpaid orders past their deadline are cancelled. Default 5 s. */
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
  const store = createOrdersStore(deps.db, SERVICE);
  ordersRoutes(app, {
    store,
    cart: options.cart ?? createCartClient(options.cartUrl),
    reservationTtlMs: options.reservationTtlMs ?? 15 * 60_000,
  });

  const expireDue = async () => {
    for (const id of await store.dueForExpiry(new Date())) {
      await store.react(id, expireUnpaid);
    }
  };

  return defineService({
    name: SERVICE,
    deps,
    app,
    migrationsDir: MIGRATIONS,
    background: [every(options.expiryIntervalMs ?? 5000, deps.logger, 'expire-unpaid-orders', expireDue)],
    handlers: {
      product_created: (data, { tx, envelope }) => store.upsertProduct(tx, data, envelope.occurredAt),
      product_updated: (data, { tx, envelope }) => store.upsertProduct(tx, data, envelope.occurredAt),
      price_changed: (data, { tx, envelope }) => store.updatePrice(tx, data.productId, data.newAmount, envelope.occurredAt),
      stock_reserved: async (data, { tx, envelope }) => {
        await store.react(data.orderId, onStockReserved, { tx, correlationId: envelope.correlationId });
      },
      stock_insufficient: async (data, { tx, envelope }) => {
        const names = new Map([...(await store.products(data.shortages.map((s) => s.productId), tx))].map(([id, p]) => [id, p.name]));
        await store.react(data.orderId, (order) => onStockInsufficient(order, data, names), { tx, correlationId: envelope.correlationId });
      },
      stock_released: async (data, { tx, envelope }) => {
        if (data.reason !== 'reservation_expired') return;
        await store.react(data.orderId, onReservationExpired, { tx, correlationId: envelope.correlationId });
      },
      payment_authorized: async (data, { tx, envelope }) => {
        await store.react(data.orderId, (order) => onPaymentAuthorized(order, data.paymentId), { tx, correlationId: envelope.correlationId });
      },
      payment_failed: async (data, { tx, envelope }) => {
        await store.react(data.orderId, (order) => onPaymentFailed(order, data), { tx, correlationId: envelope.correlationId });
      },
      shipment_created: async (data, { tx, envelope }) => {
        await store.react(data.orderId, (order) => onShipmentCreated(order, data), { tx, correlationId: envelope.correlationId });
      },
      payment_captured: async (data, { tx, envelope }) => {
        await store.react(data.orderId, onPaymentCaptured, { tx, correlationId: envelope.correlationId });
      },
      payment_capture_failed: async (data, { tx, envelope }) => {
        await store.react(data.orderId, (order) => onCaptureFailed(order, data), { tx, correlationId: envelope.correlationId });
      },
    },
  });
}
