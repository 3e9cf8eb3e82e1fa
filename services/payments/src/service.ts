import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { createHttpApp, defineService, type Service, type ServiceDeps } from '@emporium/platform';
import { paymentHandlers } from './events/handlers';
import { paymentsRoutes } from './http/payments.routes';
import { tokensRoutes } from './http/tokens.routes';
import type { ProviderFactory } from './providers/provider';
import { createSandboxProvider } from './providers/sandbox';
import { createPaymentsStore } from './store/payments.store';

export const SERVICE = 'payments';
const MIGRATIONS = fileURLToPath(new URL('../migrations', import.meta.url));

export interface PaymentsOptions {
  /** The card processor; the in-project sandbox unless given (tests wrap it to count calls). */
  providers?: ProviderFactory;
}

export async function createPaymentsService(deps: ServiceDeps, options: PaymentsOptions = {}): Promise<Service> {
  const app = await createHttpApp({
    service: SERVICE,
    description: 'Payments: authorization, capture, void and refund through a card processor; the sandbox processor and its tokens.',
    logger: deps.logger,
    metrics: deps.metrics,
    readiness: { database: deps.db.isReady, bus: deps.bus.isReady },
  });
  const store = createPaymentsStore(deps.db, SERVICE);
  const providers = options.providers ?? ((sql) => createSandboxProvider(sql));
  paymentsRoutes(app, store, providers);
  tokensRoutes(app, deps.db);
  return defineService({
    name: SERVICE,
    deps,
    app,
    migrationsDir: MIGRATIONS,
    handlers: paymentHandlers({ store, providers, newPaymentId: () => `pay_${randomBytes(12).toString('hex')}` }),
  });
}
