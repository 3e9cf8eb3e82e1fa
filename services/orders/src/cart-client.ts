import { AppError } from '@emporium/platform';
import type { CartSnapshot } from './domain/place-order';

/** Reads a customer's cart from the cart service at checkout (the one synchronous call orders makes). */
export function createCartClient(baseUrl: string, timeoutMs = 3000): (customerId: string) => Promise<CartSnapshot> {
  return async (customerId) => {
    let response: Response;
    try {
      response = await fetch(`${baseUrl}/cart/${encodeURIComponent(customerId)}`, { signal: AbortSignal.timeout(timeoutMs) });
    } catch (error) {
      throw new AppError('ORDERS.CART_UNAVAILABLE', 'The cart could not be read right now; try again shortly.', { status: 503, cause: error });
    }
    if (!response.ok) throw new AppError('ORDERS.CART_UNAVAILABLE', `The cart service answered ${response.status}.`, { status: 503 });
    const cart = (await response.json()) as {
      lines: Array<{ productId: string; quantity: number }>;
      discount: { code: string; amount: number } | null;
    };
    return {
      lines: cart.lines.map((l) => ({ productId: l.productId, quantity: l.quantity })),
      discount: cart.discount ? { code: cart.discount.code, amount: cart.discount.amount } : null,
    };
  };
}
