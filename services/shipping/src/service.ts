import { fileURLToPath } from 'node:url';
import { createHttpApp, createIdempotency, defineService, type Service, type ServiceDeps } from '@emporium/platform';
import type { Carrier } from './carriers/carrier';
import { createSandboxCarrier } from './carriers/sandbox';
import { shippingHandlers } from './events/handlers';
import { shipmentsRoutes } from './http/shipments.routes';
import { createShipmentsStore } from './store/shipments.store';

export const SERVICE = 'shipping';
const MIGRATIONS = fileURLToPath(new URL('../migrations', import.meta.url));

export interface ShippingOptions {
  /** Carriers this instance can use; the first books new shipments. Default: the sandbox carrier. */
  carriers?: readonly [Carrier, ...Carrier[]];
}

export async function createShippingService(deps: ServiceDeps, options: ShippingOptions = {}): Promise<Service> {
  const app = await createHttpApp({
    service: SERVICE,
    description: 'Shipments of confirmed orders, their carriers, tracking numbers and status history.',
    logger: deps.logger,
    metrics: deps.metrics,
    readiness: { database: deps.db.isReady, bus: deps.bus.isReady },
  });
  const store = createShipmentsStore(deps.db);
  const carriers = options.carriers ?? [createSandboxCarrier()];
  const idempotency = createIdempotency({ db: deps.db, logger: deps.logger });
  shipmentsRoutes(app, store, idempotency);
  return defineService({ name: SERVICE, deps, app, migrationsDir: MIGRATIONS, handlers: shippingHandlers({ store, carriers }), background: [idempotency.cleanupTask()] });
}
