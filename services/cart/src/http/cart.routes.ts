import {
  AddToCartRequest,
  ApplyDiscountRequest,
  Cart,
  CartLineParams,
  CartParams,
  RemoveFromCartRequest,
  SetCartLineRequest,
} from '@emporium/contracts';
import { problemResponses, type HttpApp, type Idempotency } from '@emporium/platform';
import { addItem, applyDiscount, clearCart, removeItem, setQuantity, withDiscountCode } from '../domain/cart';
import type { CartsStore } from '../store/carts.store';

const responses = { 200: Cart, ...problemResponses };

export function cartRoutes(app: HttpApp, carts: CartsStore, idempotency: Idempotency): void {
  app.get('/cart/:customerId', {
    schema: { tags: ['cart'], summary: "A customer's cart, priced now (empty for an unknown customer)", params: CartParams, response: responses },
  }, async (request) => carts.get(request.params.customerId));

  app.post('/cart/:customerId/add', idempotency.route({
    schema: { tags: ['cart'], summary: 'Add units of a product (onto its line if present)', params: CartParams, body: AddToCartRequest, response: responses },
  }), async (request) => {
    const { productId, quantity } = request.body;
    return carts.update(request.params.customerId, (cart, { products }) => addItem(cart, products, productId, quantity), { productIds: [productId] });
  });

  app.delete('/cart/:customerId/remove', {
    schema: { tags: ['cart'], summary: 'Remove a line, or take some units off it', params: CartParams, body: RemoveFromCartRequest, response: responses },
  }, async (request) => {
    const { productId, quantity } = request.body;
    return carts.update(request.params.customerId, (cart) => removeItem(cart, productId, quantity));
  });

  app.put('/cart/:customerId/lines/:productId', {
    schema: { tags: ['cart'], summary: "Set a line's quantity (0 removes it)", params: CartLineParams, body: SetCartLineRequest, response: responses },
  }, async (request) => {
    const { customerId, productId } = request.params;
    return carts.update(customerId, (cart, { products }) => setQuantity(cart, products, productId, request.body.quantity), { productIds: [productId] });
  });

  app.delete('/cart/:customerId', {
    schema: { tags: ['cart'], summary: 'Empty the cart (lines and discount code)', params: CartParams, response: responses },
  }, async (request) => carts.update(request.params.customerId, clearCart));

  app.post('/cart/:customerId/discount', idempotency.route({
    schema: { tags: ['cart'], summary: 'Apply a discount code', params: CartParams, body: ApplyDiscountRequest, response: responses },
  }), async (request) => {
    const { code } = request.body;
    return carts.update(request.params.customerId, (cart, { products, discount, now }) => applyDiscount(cart, products, discount, code, now), { discountCode: code });
  });

  app.delete('/cart/:customerId/discount', {
    schema: { tags: ['cart'], summary: 'Remove the discount code', params: CartParams, response: responses },
  }, async (request) => carts.update(request.params.customerId, (cart) => withDiscountCode(cart, null)));
}
