import { z } from 'zod';
import { Currency, Id, OrderStatus, PaymentMethod, Quantity } from '../common';

const PaymentToken = z.string().regex(/^tok_[A-Za-z0-9_]{1,64}$/, 'must be a payment token (tok_…) from the payment provider');

export const OrderItemRequest = z
  .object({
    product_id: Id,
    quantity: Quantity,
  })
  .strict();

/** Where the parcel goes. */
export const ShippingAddress = z
  .object({
    name: z.string().trim().min(1).max(100),
    line1: z.string().trim().min(1).max(200),
    line2: z.string().trim().max(200).optional(),
    city: z.string().trim().min(1).max(100),
    postalCode: z.string().trim().min(1).max(20).regex(/^[A-Za-z0-9 -]+$/, 'may hold letters, digits, spaces and - only'),
    country: z.string().regex(/^[A-Z]{2}$/, 'must be an ISO 3166-1 alpha-2 code such as DE'),
  })
  .strict()
  .meta({ id: 'ShippingAddress' });
export type ShippingAddress = z.infer<typeof ShippingAddress>;

/**
 * The seed's body: `{ customer_id, items: [{ product_id, quantity }], payment_method }`, or
 * `from_cart: true` instead of items to check out the customer's cart. Through the gateway the
 * customer is the token's subject: `customer_id` may be left out, and another one is refused.
 * A payment token from the provider's tokenization may come along; without it the order waits
 * for payment.
 */
export const PlaceOrderRequest = z
  .object({
    customer_id: Id.optional(),
    items: z.array(OrderItemRequest).min(1).max(100).optional(),
    from_cart: z.literal(true).optional(),
    payment_method: PaymentMethod,
    payment_token: PaymentToken.optional(),
    shipping_address: ShippingAddress.optional(),
  })
  .strict()
  .superRefine((body, ctx) => {
    if (!body.items && !body.from_cart) ctx.addIssue({ code: 'custom', path: ['items'], message: 'is required (or set from_cart: true)' });
    if (body.items && body.from_cart) ctx.addIssue({ code: 'custom', path: ['from_cart'], message: 'cannot be combined with items' });
  });
export type PlaceOrderRequest = z.infer<typeof PlaceOrderRequest>;

export const PayOrderRequest = z.object({ payment_token: PaymentToken }).strict();
export const CancelOrderRequest = z.object({ reason: z.string().trim().min(1).max(200).optional() }).strict();

export const OrderLineView = z.object({
  productId: z.string(),
  name: z.string(),
  quantity: z.number().int(),
  unitPrice: z.number().int(),
  lineTotal: z.number().int(),
});

export const OrderView = z
  .object({
    id: z.string(),
    customerId: z.string(),
    status: OrderStatus,
    /** Why the order is in its status, in words a customer understands. */
    statusReason: z.string().nullable(),
    terminal: z.boolean(),
    items: z.array(OrderLineView),
    currency: Currency,
    subtotal: z.number().int(),
    discount: z.number().int(),
    discountCode: z.string().nullable(),
    total: z.number().int(),
    paymentMethod: PaymentMethod,
    paymentId: z.string().nullable(),
    shippingAddress: ShippingAddress.nullable(),
    shipment: z.object({ id: z.string(), carrier: z.string(), trackingNumber: z.string() }).nullable(),
    history: z.array(z.object({ status: OrderStatus, reason: z.string().nullable(), at: z.string() })),
    /** When the current step times out (and the order is cancelled with its compensations); null once it ended. */
    deadline: z.string().nullable(),
    /**
     * The undo of each completed step of an ended order, in the order they run (reverse of the
     * steps): requested once, confirmed by the fact of the service that undid it.
     */
    compensations: z.array(
      z.object({
        step: z.enum(['shipment', 'payment', 'stock']),
        action: z.enum(['cancel_shipment', 'void_payment', 'refund_payment', 'authorization_expired', 'release_stock']),
        status: z.enum(['planned', 'requested', 'confirmed']),
        requestedAt: z.string().nullable(),
        confirmedAt: z.string().nullable(),
      }),
    ),
    /** What the client can do next, e.g. pay or wait. */
    next: z.object({
      action: z.enum(['pay', 'wait', 'none']),
      description: z.string(),
      method: z.string().optional(),
      href: z.string().optional(),
    }),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: 'Order' });
export type OrderView = z.infer<typeof OrderView>;

export const OrderList = z.object({ items: z.array(OrderView) });

export const OrderListQuery = z
  .object({
    customerId: Id.optional().describe("whose orders (staff); a shopper's own by default"),
    limit: z.coerce.number().int().min(1).max(100).default(20),
  })
  .strict();
