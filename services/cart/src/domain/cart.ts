import { MAX_CART_LINE_QUANTITY, type Cart, type CartLine, type StockStatus } from '@emporium/contracts';
import { AppError } from '@emporium/platform';
import { assertApplicable, priceDiscount, type Discount } from './discount';

/** What the cart stores: which products, how many, and the code the shopper applied. */
export interface CartItem {
  productId: string;
  quantity: number;
}

export interface CartState {
  customerId: string;
  /** In the order the shopper first added them. */
  items: CartItem[];
  discountCode: string | null;
}

/** A product as the cart knows it from catalog-events. */
export interface ProductInfo {
  id: string;
  name: string;
  imageUrl: string | null;
  price: { amount: number; currency: string };
  active: boolean;
}

export type Products = ReadonlyMap<string, ProductInfo>;

/** All demo prices are EUR; an empty cart has no product to take its currency from. */
export const DEFAULT_CURRENCY = 'EUR';
/** At or below this many units a product shows as low on stock. */
export const LOW_STOCK_THRESHOLD = 5;

export const emptyCart = (customerId: string): CartState => ({ customerId, items: [], discountCode: null });

const quantityOf = (cart: CartState, productId: string): number => cart.items.find((i) => i.productId === productId)?.quantity ?? 0;

/** The cart with `productId` at `quantity` (0 drops the line); new lines go last. */
function withQuantity(cart: CartState, productId: string, quantity: number): CartState {
  if (quantity <= 0) return { ...cart, items: cart.items.filter((i) => i.productId !== productId) };
  const exists = cart.items.some((i) => i.productId === productId);
  const items = exists
    ? cart.items.map((i) => (i.productId === productId ? { ...i, quantity } : i))
    : [...cart.items, { productId, quantity }];
  return { ...cart, items };
}

/** The currency of the cart: that of its first product, so every line shares it. */
export function cartCurrency(cart: CartState, products: Products): string {
  for (const item of cart.items) {
    const product = products.get(item.productId);
    if (product) return product.price.currency;
  }
  return DEFAULT_CURRENCY;
}

/** Only products the catalog sells, in the cart's currency, may be added or increased. */
function assertPurchasable(cart: CartState, products: Products, productId: string): ProductInfo {
  const product = products.get(productId);
  if (!product) {
    throw new AppError('CART.UNKNOWN_PRODUCT', `Product ${productId} does not exist.`, {
      status: 404,
      errors: [{ field: 'productId', message: 'is not a known product' }],
    });
  }
  if (!product.active) {
    throw new AppError('CART.PRODUCT_UNAVAILABLE', `Product ${productId} is no longer sold.`, {
      status: 422,
      errors: [{ field: 'productId', message: 'is no longer sold' }],
    });
  }
  const currency = cartCurrency(cart, products);
  if (cart.items.length > 0 && product.price.currency !== currency) {
    throw new AppError('CART.CURRENCY_MISMATCH', `Product ${productId} is priced in ${product.price.currency}; this cart is in ${currency}.`, {
      status: 422,
      errors: [{ field: 'productId', message: `is priced in ${product.price.currency}, not ${currency}` }],
    });
  }
  return product;
}

function assertWithinCap(quantity: number): void {
  if (quantity > MAX_CART_LINE_QUANTITY) {
    throw new AppError('CART.QUANTITY_LIMIT', `A cart line holds at most ${MAX_CART_LINE_QUANTITY} units.`, {
      status: 422,
      errors: [{ field: 'quantity', message: `would make the line ${quantity}; at most ${MAX_CART_LINE_QUANTITY} units per product` }],
    });
  }
}

function lineNotFound(productId: string): AppError {
  return new AppError('CART.LINE_NOT_FOUND', `Product ${productId} is not in the cart.`, {
    status: 404,
    errors: [{ field: 'productId', message: 'is not in the cart' }],
  });
}

export function addItem(cart: CartState, products: Products, productId: string, quantity: number): CartState {
  assertPurchasable(cart, products, productId);
  const total = quantityOf(cart, productId) + quantity;
  assertWithinCap(total);
  return withQuantity(cart, productId, total);
}

/** Without `quantity` the line goes; with it the line shrinks, and goes when nothing is left. */
export function removeItem(cart: CartState, productId: string, quantity?: number): CartState {
  const current = quantityOf(cart, productId);
  if (current === 0) throw lineNotFound(productId);
  return withQuantity(cart, productId, quantity === undefined ? 0 : current - quantity);
}

/** Setting is idempotent: 0 on a missing line changes nothing. Decreases are always allowed. */
export function setQuantity(cart: CartState, products: Products, productId: string, quantity: number): CartState {
  const current = quantityOf(cart, productId);
  if (quantity > current) assertPurchasable(cart, products, productId);
  return withQuantity(cart, productId, quantity);
}

export const clearCart = (cart: CartState): CartState => ({ ...cart, items: [], discountCode: null });

export const withDiscountCode = (cart: CartState, code: string | null): CartState => ({ ...cart, discountCode: code });

/**
 * A guest's cart joins the customer's at sign-in: quantities add up (to the line cap), guest lines
 * the customer lacks go last, and the customer's code stays (the guest's is taken when there is none).
 */
export function mergeCarts(customer: CartState, guest: CartState): CartState {
  let next: CartState = { ...customer, discountCode: customer.discountCode ?? guest.discountCode };
  for (const line of guest.items) next = withQuantity(next, line.productId, Math.min(MAX_CART_LINE_QUANTITY, quantityOf(next, line.productId) + line.quantity));
  return next;
}

/** After checkout: take off what was ordered (the shopper may have added more since) and drop the code. */
export function removeOrdered(cart: CartState, ordered: readonly CartItem[]): CartState {
  let next: CartState = { ...cart, discountCode: null };
  for (const line of ordered) next = withQuantity(next, line.productId, quantityOf(next, line.productId) - line.quantity);
  return next;
}

export function subtotalOf(cart: CartState, products: Products): number {
  const currency = cartCurrency(cart, products);
  let subtotal = 0;
  for (const item of cart.items) {
    const product = products.get(item.productId);
    if (product && product.price.currency === currency) subtotal += product.price.amount * item.quantity;
  }
  return subtotal;
}

export function stockStatus(available: number | undefined, wanted: number): StockStatus {
  if (available === undefined) return 'unknown';
  if (available <= 0) return 'out_of_stock';
  if (available <= LOW_STOCK_THRESHOLD || available < wanted) return 'low_stock';
  return 'in_stock';
}

export interface PricingInput {
  cart: CartState;
  products: Products;
  availability: ReadonlyMap<string, number>;
  discount: Discount | undefined;
  updatedAt: Date | null;
  now: Date;
}

/**
 * The cart as the shopper sees it, priced from the read models now: a price change shows up
 * at the next read, and the discount is recomputed (kept with amount 0 and a reason when the
 * cart no longer qualifies).
 */
export function priceCart({ cart, products, availability, discount, updatedAt, now }: PricingInput): Cart {
  const currency = cartCurrency(cart, products);
  const lines: CartLine[] = cart.items.map((item) => {
    const product = products.get(item.productId);
    const unitPrice = product?.price.amount ?? 0;
    const available = availability.get(item.productId);
    return {
      productId: item.productId,
      name: product?.name ?? item.productId,
      imageUrl: product?.imageUrl ?? null,
      unitPrice,
      quantity: item.quantity,
      lineTotal: unitPrice * item.quantity,
      active: product?.active ?? false,
      availability: { available: available ?? null, status: stockStatus(available, item.quantity) },
    };
  });
  const subtotal = subtotalOf(cart, products);
  const priced = discount ? priceDiscount(discount, { subtotal, currency }, now) : null;
  return {
    customerId: cart.customerId,
    currency,
    lines,
    subtotal,
    discount: priced,
    total: subtotal - (priced?.amount ?? 0),
    itemCount: cart.items.reduce((n, i) => n + i.quantity, 0),
    updatedAt: updatedAt ? updatedAt.toISOString() : null,
  };
}

export function applyDiscount(cart: CartState, products: Products, discount: Discount | undefined, code: string, now: Date): CartState {
  const basket = { subtotal: subtotalOf(cart, products), currency: cartCurrency(cart, products) };
  return withDiscountCode(cart, assertApplicable(discount, code, basket, now).code);
}
