import { fileURLToPath } from 'node:url';
import { createHttpApp, createIdempotency, defineService, every, type Service, type ServiceDeps } from '@emporium/platform';
import { expireReservations, inventoryHandlers, lockInventoryRun } from './events/handlers';
import { inventoryRoutes } from './http/inventory.routes';
import { createInventoryStore } from './store/inventory.store';

export const SERVICE = 'inventory';
const MIGRATIONS = fileURLToPath(new URL('../migrations', import.meta.url));

export interface InventoryOptions {
  /** How often reservations past their expiry are released. Default 5 s. */
  expiryIntervalMs?: number;
}

export async function createInventoryService(deps: ServiceDeps, options: InventoryOptions = {}): Promise<Service> {
  const app = await createHttpApp({
    service: SERVICE,
    description: 'Stock levels, reservations for orders and the stock ledger.',
    logger: deps.logger,
    metrics: deps.metrics,
    readiness: { database: deps.db.isReady, bus: deps.bus.isReady },
  });
  const store = createInventoryStore(deps.db, SERVICE);
  const idempotency = createIdempotency({ db: deps.db, logger: deps.logger });
  inventoryRoutes(app, store, idempotency);
  const expiryLogger = deps.logger.child({ component: 'reservation-expiry' });
  return defineService({
    name: SERVICE,
    deps,
    app,
    migrationsDir: MIGRATIONS,
    handlers: inventoryHandlers(store),
    // A run of several orders takes all its locks first, in the order every path takes them, so
    // runs of different partitions may commit side by side (ADR 0011, session-27 amendment).
    lockRun: lockInventoryRun(store),
    parallelRuns: true,
    background: [idempotency.cleanupTask(), every(options.expiryIntervalMs ?? 5000, expiryLogger, 'expire reservations', () => expireReservations(store, expiryLogger))],
  });
}
