import { fileURLToPath } from 'node:url';
import { createHttpApp, createIdempotency, defineService, type Service, type ServiceDeps } from '@emporium/platform';
import { productsRoutes } from './http/products.routes';
import { createProductsStore } from './store/products.store';
import { createReadCache } from './read-cache';

export const SERVICE = 'catalog';
const MIGRATIONS = fileURLToPath(new URL('../migrations', import.meta.url));

export async function createCatalogService(deps: ServiceDeps): Promise<Service> {
  const app = await createHttpApp({
    service: SERVICE,
    description: 'Products, categories, prices and search.',
    logger: deps.logger,
    metrics: deps.metrics,
    readiness: { database: deps.db.isReady, bus: deps.bus.isReady },
  });
  const store = createProductsStore(deps.db, SERVICE);
  const cache = createReadCache();
  const idempotency = createIdempotency({ db: deps.db, logger: deps.logger });
  productsRoutes(app, store, cache, idempotency);
  return defineService({
    name: SERVICE,
    deps,
    app,
    migrationsDir: MIGRATIONS,
    background: [idempotency.cleanupTask()],
    // Other catalog instances' changes reach this one's read cache through the catalog's own events.
    handlers: {
      product_created: async () => cache.clear(),
      product_updated: async () => cache.clear(),
    },
  });
}
