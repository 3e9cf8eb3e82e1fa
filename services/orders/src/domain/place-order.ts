import { randomBytes } from 'node:crypto';
import type { PlaceOrderRequest } from '@emporium/contracts';
import { AppError, event, type FieldError, type PendingEvent } from '@emporium/platform';
import { mergeItems, priceOrder, type Order, type OrderLine } from './order';
import type { CatalogProduct } from '../store/orders.store';

export interface CartSnapshot {
  lines: Array<{ productId: string; quantity: number }>;
  discount: { code: string; amount: number } | null;
}

export interface PlaceOrderDeps {
  products(ids: string[]): Promise<Map<string, CatalogProduct>>;
  cart(customerId: string): Promise<CartSnapshot>;
  now: Date;
  reservationTtlMs: number;
}

/** The request with the customer settled (the token's subject, or the body's for internal callers). */
export type PlaceOrderCommand = PlaceOrderRequest & { customer_id: string };

export const newOrderId = (): string => `ord_${randomBytes(8).toString('hex')}`;

/**
 * Turns a request into an order priced from the catalog as orders knows it, and the
 * `order_placed` fact that starts the checkout saga. Rejects unknown or unavailable products,
 * naming the item at fault. Never publishes: the store writes order and event together.
 */
export async function placeOrder(request: PlaceOrderCommand, deps: PlaceOrderDeps): Promise<{ order: Order; events: PendingEvent[] }> {
  const fromCart = request.from_cart === true;
  let wanted: Array<{ productId: string; quantity: number }>;
  let discount = { code: null as string | null, amount: 0 };
  if (fromCart) {
    const cart = await deps.cart(request.customer_id);
    if (cart.lines.length === 0) {
      throw new AppError('ORDERS.CART_EMPTY', 'The cart is empty; add items before checking out.', { status: 422, errors: [{ field: 'from_cart', message: 'the cart is empty' }] });
    }
    wanted = mergeItems(cart.lines);
    if (cart.discount && cart.discount.amount > 0) discount = { code: cart.discount.code, amount: cart.discount.amount };
  } else {
    wanted = mergeItems((request.items ?? []).map((i) => ({ productId: i.product_id, quantity: i.quantity })));
  }

  const catalog = await deps.products(wanted.map((w) => w.productId));
  const errors: FieldError[] = [];
  const lines: OrderLine[] = [];
  wanted.forEach((w, index) => {
    const product = catalog.get(w.productId);
    const field = fromCart ? `from_cart` : `items.${index}.product_id`;
    if (!product) errors.push({ field, message: `product ${w.productId} does not exist` });
    else if (!product.active) errors.push({ field, message: `product ${w.productId} is no longer sold` });
    else if (w.quantity > 1000) errors.push({ field: fromCart ? 'from_cart' : `items.${index}.quantity`, message: 'must be at most 1000' });
    else lines.push({ productId: w.productId, name: product.name, quantity: w.quantity, unitPrice: product.priceAmount, lineTotal: product.priceAmount * w.quantity });
  });
  if (errors.length > 0) {
    throw new AppError('ORDERS.UNKNOWN_PRODUCT', errors.map((e) => `${e.field}: ${e.message}`).join('; '), { status: 422, errors });
  }
  const currencies = new Set(lines.map((l) => catalog.get(l.productId)!.currency));
  if (currencies.size > 1) {
    throw new AppError('ORDERS.MIXED_CURRENCIES', 'All items of one order must be priced in the same currency.', { status: 422, errors: [{ field: 'items', message: 'mix currencies' }] });
  }
  const currency = [...currencies][0]!;
  const totals = priceOrder(lines, discount.amount);
  const id = newOrderId();
  const reserveUntil = new Date(deps.now.getTime() + deps.reservationTtlMs);
  const order: Order = {
    id,
    customerId: request.customer_id,
    status: 'placed',
    statusReason: 'Order received; reserving your items.',
    failureCode: null,
    currency,
    ...totals,
    discountCode: totals.discount > 0 ? discount.code : null,
    paymentMethod: request.payment_method,
    paymentToken: request.payment_token ?? null,
    paymentId: null,
    shippingAddress: request.shipping_address ?? null,
    shipmentId: null,
    carrier: null,
    trackingNumber: null,
    source: fromCart ? 'cart' : 'direct',
    stockReserved: false,
    reserveUntil,
    // The store sets the first step's deadline from its timeouts when it writes the order.
    stepDeadline: null,
    compensations: [],
    cancellationEmitted: false,
    items: lines,
    createdAt: deps.now,
    updatedAt: deps.now,
  };
  const events = [
    event('order_placed', id, {
      orderId: id,
      customerId: order.customerId,
      items: lines,
      currency,
      subtotal: order.subtotal,
      discount: order.discount,
      total: order.total,
      paymentMethod: order.paymentMethod,
      source: order.source,
      reserveUntil: reserveUntil.toISOString(),
    }),
  ];
  return { order, events };
}
