import { z } from 'zod';
import { Currency, OrderStatus, PaymentMethod } from '../common';
import { TOPICS, type Topic } from '../topics';

/**
 * Every event type, its topic and its `data` schema: the one source of truth producers and
 * consumers share. Types are past-tense facts; a breaking change ships as a new version.
 */
const ProductSnapshot = z.object({
  productId: z.string(),
  sku: z.string(),
  name: z.string(),
  description: z.string(),
  category: z.string(),
  imageUrl: z.string().nullable(),
  price: z.object({ amount: z.number().int(), currency: Currency }),
  active: z.boolean(),
});

const OrderLine = z.object({
  productId: z.string(),
  name: z.string(),
  quantity: z.number().int().positive(),
  unitPrice: z.number().int(),
  lineTotal: z.number().int(),
});

const StockLine = z.object({ productId: z.string(), quantity: z.number().int().positive() });

const StockShortage = z.object({ productId: z.string(), requested: z.number().int(), available: z.number().int() });

const eventSchemas = {
  // catalog-events, keyed by product id
  product_created: { topic: TOPICS.catalog, data: ProductSnapshot },
  product_updated: { topic: TOPICS.catalog, data: ProductSnapshot },
  price_changed: {
    topic: TOPICS.catalog,
    data: z.object({ productId: z.string(), oldAmount: z.number().int(), newAmount: z.number().int(), currency: Currency }),
  },

  // order-events, keyed by order id
  order_placed: {
    topic: TOPICS.orders,
    data: z.object({
      orderId: z.string(),
      customerId: z.string(),
      items: z.array(OrderLine),
      currency: Currency,
      subtotal: z.number().int(),
      discount: z.number().int(),
      total: z.number().int(),
      paymentMethod: PaymentMethod,
      source: z.enum(['direct', 'cart']),
      /** How long stock may stay reserved waiting for payment. */
      reserveUntil: z.string(),
    }),
  },
  order_payment_requested: {
    topic: TOPICS.orders,
    data: z.object({
      orderId: z.string(),
      customerId: z.string(),
      amount: z.number().int(),
      currency: Currency,
      paymentMethod: PaymentMethod,
      paymentToken: z.string(),
    }),
  },
  order_confirmed: {
    topic: TOPICS.orders,
    data: z.object({
      orderId: z.string(),
      customerId: z.string(),
      items: z.array(OrderLine),
      total: z.number().int(),
      currency: Currency,
      /** Whether the order checked out the customer's cart (absent on events from before it was added: not known). */
      source: z.enum(['direct', 'cart']).optional(),
    }),
  },
  order_capture_requested: {
    topic: TOPICS.orders,
    data: z.object({ orderId: z.string(), paymentId: z.string(), amount: z.number().int(), currency: Currency }),
  },
  order_completed: {
    topic: TOPICS.orders,
    data: z.object({ orderId: z.string(), customerId: z.string(), items: z.array(StockLine) }),
  },
  order_cancelled: {
    topic: TOPICS.orders,
    data: z.object({
      orderId: z.string(),
      customerId: z.string(),
      status: OrderStatus,
      code: z.string(),
      reason: z.string(),
      /** Set when stock had been reserved for the order and must be released. */
      releaseStock: z.boolean(),
      /** Set when a payment was authorized and must be voided. */
      voidPaymentId: z.string().nullable(),
    }),
  },

  /**
   * Compensations orders sequences in reverse order before `order_cancelled` (which then releases
   * the stock): first the shipment is cancelled, then the payment voided or refunded.
   */
  order_shipment_cancel_requested: {
    topic: TOPICS.orders,
    data: z.object({ orderId: z.string(), shipmentId: z.string(), reason: z.string() }),
  },
  order_payment_release_requested: {
    topic: TOPICS.orders,
    data: z.object({ orderId: z.string(), paymentId: z.string(), reason: z.string() }),
  },

  // inventory-events: reservation outcomes keyed by order id, stock levels keyed by product id
  stock_reserved: {
    topic: TOPICS.inventory,
    data: z.object({ orderId: z.string(), items: z.array(StockLine), expiresAt: z.string() }),
  },
  stock_insufficient: {
    topic: TOPICS.inventory,
    data: z.object({ orderId: z.string(), shortages: z.array(StockShortage) }),
  },
  stock_released: {
    topic: TOPICS.inventory,
    data: z.object({ orderId: z.string(), items: z.array(StockLine), reason: z.string() }),
  },
  stock_committed: {
    topic: TOPICS.inventory,
    data: z.object({ orderId: z.string(), items: z.array(StockLine) }),
  },
  stock_level_changed: {
    topic: TOPICS.inventory,
    data: z.object({
      productId: z.string(),
      onHand: z.number().int(),
      reserved: z.number().int(),
      available: z.number().int(),
      reason: z.string(),
      /**
       * How much on hand and reserved moved in this change; absent when the row is new (a product's first
       * level) and on events written before it was added. A sale moves both alike: available stays.
       */
      delta: z.object({ onHand: z.number().int(), reserved: z.number().int() }).optional(),
    }),
  },

  // payment-events, keyed by order id
  payment_authorized: {
    topic: TOPICS.payments,
    data: z.object({ orderId: z.string(), paymentId: z.string(), amount: z.number().int(), currency: Currency, provider: z.string() }),
  },
  payment_failed: {
    topic: TOPICS.payments,
    data: z.object({ orderId: z.string(), paymentId: z.string(), code: z.string(), reason: z.string() }),
  },
  payment_captured: {
    topic: TOPICS.payments,
    data: z.object({ orderId: z.string(), paymentId: z.string(), amount: z.number().int(), currency: Currency }),
  },
  payment_capture_failed: {
    topic: TOPICS.payments,
    data: z.object({ orderId: z.string(), paymentId: z.string(), code: z.string(), reason: z.string() }),
  },
  payment_voided: {
    topic: TOPICS.payments,
    data: z.object({ orderId: z.string(), paymentId: z.string() }),
  },
  payment_refunded: {
    topic: TOPICS.payments,
    data: z.object({ orderId: z.string(), paymentId: z.string(), amount: z.number().int(), currency: Currency }),
  },
  /** An authorization not captured within its lifetime lapsed: nothing can be charged any more. */
  payment_authorization_expired: {
    topic: TOPICS.payments,
    data: z.object({ orderId: z.string(), paymentId: z.string(), authorizedAt: z.string(), expiredAt: z.string() }),
  },

  // shipment-events, keyed by order id
  shipment_created: {
    topic: TOPICS.shipments,
    data: z.object({ orderId: z.string(), shipmentId: z.string(), carrier: z.string(), trackingNumber: z.string() }),
  },
  shipment_cancelled: {
    topic: TOPICS.shipments,
    data: z.object({ orderId: z.string(), shipmentId: z.string(), reason: z.string() }),
  },

  // identity-events, keyed by customer id
  /**
   * A customer signed up or signed in. `guestId` is the guest whose cart is to be merged into the
   * customer's (the guest token was presented and not claimed before), else null.
   */
  customer_signed_in: {
    topic: TOPICS.identity,
    data: z.object({ customerId: z.string(), guestId: z.string().nullable(), via: z.enum(['sign_up', 'sign_in']) }),
  },
} as const satisfies Record<string, { topic: Topic; data: z.ZodType }>;

export const EVENTS = eventSchemas;
export type EventType = keyof typeof EVENTS;
export type EventData<T extends EventType> = z.infer<(typeof EVENTS)[T]['data']>;

export const isEventType = (type: string): type is EventType => Object.hasOwn(EVENTS, type);
export const topicOf = (type: EventType): Topic => EVENTS[type].topic;
