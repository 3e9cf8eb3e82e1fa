import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { CategoryList, CreateProductRequest, ListProductsQuery, Product, ProductId, ProductPage, UpdateProductRequest } from '@emporium/contracts';
import { notFound, problemResponses, type HttpApp, type Idempotency } from '@emporium/platform';
import { newProduct, productCreated, updateProduct } from '../domain/product';
import type { ProductsStore } from '../store/products.store';
import type { ReadCache } from '../read-cache';

const Params = z.object({ id: ProductId });

/**
 * Product reads are the same for every caller: a shared cache (the gateway, a CDN) may keep them
 * for a second. The gateway forgets them when a write passes through it; elsewhere a change shows
 * within that second.
 */
const PUBLIC_READ = 'public, max-age=1';

export function productsRoutes(app: HttpApp, store: ProductsStore, cache: ReadCache, idempotency: Idempotency): void {
  /** Answers a read from the cache, or computes, serializes and caches it. */
  const cached = async (key: string, reply: FastifyReply, read: () => Promise<unknown>) => {
    let body = cache.get(key);
    if (body === undefined) {
      body = JSON.stringify(await read());
      cache.set(key, body);
    }
    return reply.type('application/json; charset=utf-8').header('cache-control', PUBLIC_READ).send(body);
  };

  app.get('/products', {
    schema: { tags: ['products'], summary: 'Browse and search products', querystring: ListProductsQuery, response: { 200: ProductPage, 400: problemResponses[400] } },
  }, async (request, reply) => cached(request.url, reply, () => store.list(request.query, { includeInactive: false })));

  app.get('/products/categories', {
    schema: { tags: ['products'], summary: 'Categories with their number of active products', response: { 200: CategoryList } },
  }, async (request, reply) => cached(request.url, reply, async () => ({ items: await store.categories() })));

  app.get('/products/:id', {
    schema: { tags: ['products'], summary: 'One product', params: Params, response: { 200: Product, ...problemResponses } },
  }, async (request, reply) =>
    cached(request.url, reply, async () => {
      const product = await store.get(request.params.id);
      if (!product) throw notFound('CATALOG.PRODUCT_NOT_FOUND', `Product ${request.params.id} does not exist.`);
      return product;
    }));

  app.post('/products', idempotency.route({
    schema: { tags: ['staff'], summary: 'Create a product (staff)', body: CreateProductRequest, response: { 201: Product, ...problemResponses } },
  }), async (request, reply) => {
    const id = request.body.id ?? (await store.nextId());
    const product = newProduct(request.body, id, new Date());
    await store.insert(product, productCreated(product), request.correlationId);
    cache.clear();
    return reply.code(201).send(product);
  });

  app.patch('/products/:id', {
    schema: { tags: ['staff'], summary: 'Change a product, its price or availability (staff)', params: Params, body: UpdateProductRequest, response: { 200: Product, ...problemResponses } },
  }, async (request) => {
    const updated = await store.update(request.params.id, (current) => updateProduct(current, request.body, new Date()), request.correlationId);
    if (!updated) throw notFound('CATALOG.PRODUCT_NOT_FOUND', `Product ${request.params.id} does not exist.`);
    cache.clear();
    return updated;
  });
}
