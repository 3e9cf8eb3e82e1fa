import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, emittedEvents, eventually, type TestPlatform } from '@emporium/platform/testing';
import type { Service } from '@emporium/platform';
import { createCatalogService } from '../src/service';

const lamp = {
  sku: 'LAMP-01',
  name: 'Brass desk lamp',
  description: 'A warm reading light with a weighted base.',
  category: 'lighting',
  price: { amount: 4999, currency: 'EUR' },
};

describe('catalog over HTTP on the embedded database', () => {
  let platform: TestPlatform;
  let catalog: Service;

  beforeAll(async () => {
    platform = await createTestPlatform();
    catalog = await createCatalogService(platform.deps('catalog'));
    await catalog.start();
  });
  afterAll(async () => {
    await catalog.stop();
    await platform.close();
  });

  const post = (url: string, payload: unknown) => catalog.app.inject({ method: 'POST', url, payload: payload as object });

  it('when staff create a product, then it can be read, listed and a product_created event is in the outbox', async () => {
    const created = await post('/products', lamp);
    expect(created.statusCode).toBe(201);
    const product = created.json();
    expect(product).toMatchObject({ ...lamp, active: true, imageUrl: null });
    const read = await catalog.app.inject(`/products/${product.id}`);
    expect(read.json().name).toBe('Brass desk lamp');
    const { rows } = await platform.deps('catalog').db.query<{ type: string }>(`SELECT type FROM ${emittedEvents('catalog')} WHERE key = $1`, [product.id]);
    expect(rows.map((r) => r.type)).toEqual(['product_created']);
  });

  it('when the price changes, then price_changed is published beside product_updated', async () => {
    const { id } = (await post('/products', { ...lamp, sku: 'LAMP-02' })).json();
    const patched = await catalog.app.inject({ method: 'PATCH', url: `/products/${id}`, payload: { price: { amount: 3999, currency: 'EUR' } } });
    expect(patched.json().price.amount).toBe(3999);
    const { rows } = await platform.deps('catalog').db.query<{ type: string }>(`SELECT type FROM ${emittedEvents('catalog')} WHERE key = $1 ORDER BY seq`, [id]);
    expect(rows.map((r) => r.type)).toEqual(['product_created', 'product_updated', 'price_changed']);
  });

  it('when shoppers search, filter and sort, then only matching products come back in order', async () => {
    await post('/products', { ...lamp, sku: 'CHAIR-01', name: 'Oak chair', description: 'Solid oak', category: 'furniture', price: { amount: 12000, currency: 'EUR' } });
    await post('/products', { ...lamp, sku: 'TABLE-01', name: 'Oak table', description: 'Seats six', category: 'furniture', price: { amount: 45000, currency: 'EUR' } });
    const search = (await catalog.app.inject('/products?q=oak&sort=-price')).json();
    expect(search.items.map((p: { name: string }) => p.name)).toEqual(['Oak table', 'Oak chair']);
    const cheap = (await catalog.app.inject('/products?category=furniture&maxPrice=20000')).json();
    expect(cheap.items.map((p: { sku: string }) => p.sku)).toEqual(['CHAIR-01']);
    const paged = (await catalog.app.inject('/products?limit=1&page=2&sort=name')).json();
    expect(paged).toMatchObject({ total: 4, page: 2, limit: 1 });
    expect(paged.items).toHaveLength(1);
  });

  it('when a product does not exist, then 404 is a problem document', async () => {
    const res = await catalog.app.inject('/products/99999999');
    expect(res.statusCode).toBe(404);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.json()).toMatchObject({ status: 404, code: 'CATALOG.PRODUCT_NOT_FOUND' });
  });

  it('when the body is invalid, then 400 names each field and nothing is written', async () => {
    const before = (await catalog.app.inject('/products')).json().total;
    const res = await post('/products', { ...lamp, sku: 'bad sku', price: { amount: -5, currency: 'euro' } });
    expect(res.statusCode).toBe(400);
    const fields = res.json().errors.map((e: { field: string }) => e.field);
    expect(fields).toEqual(expect.arrayContaining(['sku', 'price.amount', 'price.currency']));
    expect((await catalog.app.inject('/products')).json().total).toBe(before);
  });

  it('when the JSON is malformed, then 400 says so', async () => {
    const res = await catalog.app.inject({ method: 'POST', url: '/products', headers: { 'content-type': 'application/json' }, payload: '{"sku": ' });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'REQUEST.MALFORMED_JSON', errors: [{ field: 'body' }] });
  });

  it('when a SKU is reused, then 409 and the first product is untouched', async () => {
    const res = await post('/products', { ...lamp, name: 'Copy' });
    expect(res.statusCode).toBe(409);
    expect(res.json().code).toBe('CATALOG.DUPLICATE_PRODUCT');
  });

  it('when another catalog instance changes a product, then this instance stops serving the cached list well before its TTL', async () => {
    const { id } = (await post('/products', { ...lamp, sku: 'LAMP-CACHE', name: 'Cached lamp' })).json();
    expect((await catalog.app.inject(`/products/${id}`)).json().price.amount).toBe(4999);
    const other = await createCatalogService(platform.deps('catalog'));
    await other.start();
    try {
      await other.app.inject({ method: 'PATCH', url: `/products/${id}`, payload: { price: { amount: 2999, currency: 'EUR' } } });
      await other.flushOutbox();
      await eventually(async () => (await catalog.app.inject(`/products/${id}`)).json().price.amount === 2999, 3000, 'the cache to be invalidated by catalog-events');
    } finally {
      await other.stop();
    }
  });

  it('when health, metrics and docs are asked for, then they answer', async () => {
    expect((await catalog.app.inject('/health/live')).statusCode).toBe(200);
    expect((await catalog.app.inject('/health/ready')).json()).toEqual({ status: 'ok', checks: { database: true, bus: true } });
    expect((await catalog.app.inject('/metrics')).body).toContain('http_requests_total');
    const docs = (await catalog.app.inject('/docs/json')).json();
    expect(Object.keys(docs.paths)).toEqual(expect.arrayContaining(['/products', '/products/{id}']));
  });
});
