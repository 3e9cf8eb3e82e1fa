import { fileURLToPath } from 'node:url';
import { createHttpApp, createIdempotency, defineService, type Service, type ServiceDeps } from '@emporium/platform';
import { cartHandlers } from './events/handlers';
import { cartRoutes } from './http/cart.routes';
import { discountsRoutes } from './http/discounts.routes';
import { createCartsStore } from './store/carts.store';
import { createDiscountsStore } from './store/discounts.store';

export const SERVICE = 'cart';
const MIGRATIONS = fileURLToPath(new URL('../migrations', import.meta.url));

/** `now` decides when discount codes are valid; tests pass their own clock. */
export async function createCartService(deps: ServiceDeps, options: { now?: () => Date } = {}): Promise<Service> {
  const clock = options.now ?? (() => new Date());
  const app = await createHttpApp({
    service: SERVICE,
    description: 'Carts, their lines and discount codes, with prices and availability as the shopper sees them.',
    logger: deps.logger,
    metrics: deps.metrics,
    readiness: { database: deps.db.isReady, bus: deps.bus.isReady },
  });
  const carts = createCartsStore(deps.db, clock);
  const idempotency = createIdempotency({ db: deps.db, logger: deps.logger });
  cartRoutes(app, carts, idempotency);
  discountsRoutes(app, createDiscountsStore(deps.db), clock, idempotency);
  return defineService({ name: SERVICE, deps, app, migrationsDir: MIGRATIONS, handlers: cartHandlers(carts), background: [idempotency.cleanupTask()] });
}
