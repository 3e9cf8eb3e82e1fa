import { randomBytes } from 'node:crypto';
import { guest, signInStaff, signUpCustomer, type Session } from '../../support/auth';
import { call, eventually } from './platform';

/**
 * Data the security suites create through the public API: products with stock, shoppers, and a
 * customer's paid-for order with its payment and shipment.
 */

export interface Order {
  id: string;
  customerId: string;
  status: string;
  terminal: boolean;
  total: number;
  subtotal: number;
  discount: number;
  paymentId: string | null;
  shipment: { id: string } | null;
  items: Array<{ productId: string; quantity: number; unitPrice: number; lineTotal: number }>;
}

/** Private data of the owner that must never reach another shopper. */
export const OWNER_ADDRESS = { name: 'Ada Owner', line1: '1 Secret Lane', city: 'Berlin', postalCode: '10115', country: 'DE' };

export const idempotent = () => ({ 'idempotency-key': randomBytes(12).toString('hex') });

/** The test admin; before the platform creates one (`startEmbedded({ admin })`), a session without a token. */
export async function adminSession(url: string): Promise<Session> {
  try {
    return await signInStaff(url);
  } catch (error) {
    console.warn(`security suite: no test admin on this platform (${(error as Error).message.slice(0, 120)}); staff routes are called without a token`);
    return { id: 'stf_none', accessToken: '', refreshToken: '', headers: {} };
  }
}

/** A product with stock, created and stocked by staff; returns its id. */
export async function createProduct(url: string, staff: Session, options: { price?: number; stock?: number } = {}): Promise<string> {
  const id = `sec-${randomBytes(5).toString('hex')}`;
  const created = await call(url, 'POST', '/products', {
    headers: { ...staff.headers, ...idempotent() },
    body: { id, sku: `SEC-${id.slice(4).toUpperCase()}`, name: `Security test ${id}`, description: 'kept unchanged', category: 'security', price: { amount: options.price ?? 1234, currency: 'EUR' } },
  });
  if (created.status !== 201) throw new Error(`creating product ${id}: ${created.status} ${created.text}`);
  await eventually(
    () => call(url, 'POST', `/inventory/${id}/update`, { headers: { ...staff.headers, ...idempotent() }, body: { set: options.stock ?? 1000, reason: 'security suite stock' } }),
    (a) => a.status === 200,
  );
  return id;
}

export async function placeOrder(url: string, shopper: Session, productId: string, options: { quantity?: number; paymentToken?: string } = {}): Promise<Order> {
  const res = await call(url, 'POST', '/api/orders', {
    headers: { ...shopper.headers, ...idempotent() },
    body: { customer_id: shopper.id, items: [{ product_id: productId, quantity: options.quantity ?? 1 }], payment_method: 'credit_card', shipping_address: OWNER_ADDRESS, ...(options.paymentToken ? { payment_token: options.paymentToken } : {}) },
  });
  if (res.status !== 201) throw new Error(`placing an order: ${res.status} ${res.text}`);
  return res.json as unknown as Order;
}

export async function orderOf(url: string, who: Session, id: string): Promise<Order> {
  const res = await call(url, 'GET', `/api/orders/${id}`, { headers: who.headers });
  if (res.status !== 200) throw new Error(`reading order ${id}: ${res.status} ${res.text}`);
  return res.json as unknown as Order;
}

export interface World {
  admin: Session;
  productId: string;
  /** The owner of everything below. */
  owner: Session;
  other: Session;
  guestShopper: Session;
  /** Paid for and shipped: it has a payment and a shipment. */
  shippedOrder: Order;
  /** Waiting for payment (cancellable, payable). */
  openOrder: Order;
  paymentId: string;
  shipmentId: string;
}

/** Two customers and a guest; the owner has a shipped order (with payment and shipment), an unpaid one and a cart. */
export async function createWorld(url: string): Promise<World> {
  const admin = await adminSession(url);
  const productId = await createProduct(url, admin, { price: 4321 });
  const [owner, other, guestShopper] = await Promise.all([signUpCustomer(url), signUpCustomer(url), guest(url)]);
  const placed = await placeOrder(url, owner, productId, { quantity: 3, paymentToken: 'tok_success' });
  const shippedOrder = await eventually(() => orderOf(url, owner, placed.id), (o) => o.shipment !== null && o.paymentId !== null, 20_000);
  const openOrder = await placeOrder(url, owner, productId, { quantity: 2 });
  const cart = await call(url, 'POST', `/cart/${owner.id}/add`, { headers: { ...owner.headers, ...idempotent() }, body: { productId, quantity: 7 } });
  if (cart.status !== 200) throw new Error(`filling the owner's cart: ${cart.status} ${cart.text}`);
  return { admin, productId, owner, other, guestShopper, shippedOrder, openOrder, paymentId: shippedOrder.paymentId!, shipmentId: shippedOrder.shipment!.id };
}
