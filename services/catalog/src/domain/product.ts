import type { CreateProductRequest, Product, UpdateProductRequest } from '@emporium/contracts';
import { event, type PendingEvent } from '@emporium/platform';

export const toSnapshot = (p: Product) => ({
  productId: p.id,
  sku: p.sku,
  name: p.name,
  description: p.description,
  category: p.category,
  imageUrl: p.imageUrl,
  price: p.price,
  active: p.active,
});

export function productCreated(product: Product): PendingEvent[] {
  return [event('product_created', product.id, toSnapshot(product))];
}

/** The product after `changes`, and the facts other services must hear about. */
export function updateProduct(current: Product, changes: UpdateProductRequest, now: Date): { product: Product; events: PendingEvent[] } {
  const product: Product = { ...current, ...changes, updatedAt: now.toISOString() };
  const events: PendingEvent[] = [event('product_updated', product.id, toSnapshot(product))];
  if (product.price.amount !== current.price.amount || product.price.currency !== current.price.currency) {
    events.push(
      event('price_changed', product.id, {
        productId: product.id,
        oldAmount: current.price.amount,
        newAmount: product.price.amount,
        currency: product.price.currency,
      }),
    );
  }
  return { product, events };
}

export function newProduct(request: CreateProductRequest, id: string, now: Date): Product {
  const { id: _ignored, ...fields } = request;
  return { ...fields, id, createdAt: now.toISOString(), updatedAt: now.toISOString() };
}
