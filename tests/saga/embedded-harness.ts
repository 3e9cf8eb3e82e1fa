import { randomBytes } from 'node:crypto';
import type { Service } from '@emporium/platform';
import { createTestPlatform, type TestPlatform } from '@emporium/platform/testing';
import { createCatalogService } from '@emporium/catalog';
import { createInventoryService } from '@emporium/inventory';
import { createOrdersService, type OrdersOptions } from '@emporium/orders';
import { createPaymentsService, type PaymentsTimings } from '@emporium/payments';
import { startCardProcessor } from '@emporium/sandbox-card-processor';
import { createShippingService } from '@emporium/shipping';
import { until, type Call, type Json } from './checks';

export type SagaService = 'catalog' | 'inventory' | 'orders' | 'payments' | 'shipping';

/**
 * The services of the checkout saga on one embedded database and bus, each of which can be taken
 * down (stopped: it neither answers HTTP nor consumes events) and brought up again as a fresh
 * instance on the same data — the embedded stand-in for a service that does not answer.
 */
export interface SagaPlatform {
  call: Call;
  up(name: SagaService): Promise<void>;
  down(name: SagaService): Promise<void>;
  /** A new product with `stock` units on hand, known to orders and inventory. */
  product(stock: number): Promise<string>;
  place(productId: string, quantity: number, token?: string): Promise<Json>;
  close(): Promise<void>;
}

export async function startSagaPlatform(options: { orders?: Partial<OrdersOptions>; payments?: PaymentsTimings } = {}): Promise<SagaPlatform> {
  const platform: TestPlatform = await createTestPlatform();
  // The card processor payments calls: the sandbox, with the same authorization lifetime.
  const processor = await startCardProcessor({ db: platform.pglite.forSchema('card_processor'), authorizationLifetimeMs: options.payments?.authorizationLifetimeMs });
  const running = new Map<SagaService, Service>();
  const create: Record<SagaService, () => Promise<Service>> = {
    catalog: () => createCatalogService(platform.deps('catalog')),
    inventory: () => createInventoryService(platform.deps('inventory'), { expiryIntervalMs: 200 }),
    orders: () =>
      createOrdersService(platform.deps('orders'), {
        cartUrl: 'http://127.0.0.1:9',
        cart: async () => ({ lines: [], discount: null }),
        expiryIntervalMs: 100,
        ...options.orders,
      }),
    payments: () => createPaymentsService(platform.deps('payments'), { ...options.payments, processor: { url: processor.url, secretKey: processor.secretKey } }),
    shipping: () => createShippingService(platform.deps('shipping')),
  };
  const up = async (name: SagaService) => {
    if (running.has(name)) return;
    const service = await create[name]();
    await service.start();
    running.set(name, service);
  };
  const down = async (name: SagaService) => {
    await running.get(name)?.stop();
    running.delete(name);
  };
  for (const name of Object.keys(create) as SagaService[]) await up(name);

  const owner = (path: string): SagaService =>
    path.startsWith('/products') ? 'catalog' : path.startsWith('/inventory') ? 'inventory' : path.startsWith('/api/orders') ? 'orders' : path.startsWith('/api/payments') ? 'payments' : 'shipping';

  const call: Call = async (method, path, body) => {
    const service = running.get(owner(path));
    if (!service) throw new Error(`${owner(path)} is down`);
    const res = await service.app.inject({ method: method as 'GET', url: path, ...(body === undefined ? {} : { payload: body as object }) });
    return { status: res.statusCode, body: res.body ? JSON.parse(res.body) : null };
  };

  return {
    call,
    up,
    down,
    async product(stock) {
      const id = `saga-${randomBytes(4).toString('hex')}`;
      const created = await call('POST', '/products', { id, sku: `SAGA-${id.slice(5).toUpperCase()}`, name: `Saga product ${id}`, category: 'saga', price: { amount: 1500, currency: 'EUR' } });
      if (created.status !== 201) throw new Error(`product not created: ${JSON.stringify(created.body)}`);
      await until(async () => (await call('POST', `/inventory/${id}/update`, { set: stock, reason: 'saga test stock' })).status === 200, `inventory to know ${id}`);
      return id;
    },
    async place(productId, quantity, token) {
      const body = { customer_id: 'saga', items: [{ product_id: productId, quantity }], payment_method: 'credit_card', ...(token ? { payment_token: token } : {}) };
      // Orders learns of a new product from catalog's event: until then the product is unknown (422).
      const placed = await until(async () => {
        const res = await call('POST', '/api/orders', body);
        return res.status === 422 ? undefined : res;
      }, `orders to know ${productId}`);
      if (placed.status !== 201) throw new Error(`order not placed: ${JSON.stringify(placed.body)}`);
      return placed.body;
    },
    async close() {
      for (const name of ['orders', 'shipping', 'payments', 'inventory', 'catalog'] as const) await down(name);
      await processor.stop();
      await platform.close();
    },
  };
}
