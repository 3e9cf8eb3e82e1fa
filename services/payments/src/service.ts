import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { createHttpApp, createIdempotency, defineService, every, type Service, type ServiceDeps } from '@emporium/platform';
import { expireAuthorization } from './domain/expire-authorization';
import { paymentHandlers } from './events/handlers';
import { paymentsRoutes } from './http/payments.routes';
import { tokensRoutes } from './http/tokens.routes';
import type { ProviderFactory } from './providers/provider';
import { createSandboxProvider, DEFAULT_AUTHORIZATION_LIFETIME_MS } from './providers/sandbox';
import { createPaymentsStore } from './store/payments.store';

export const SERVICE = 'payments';
const MIGRATIONS = fileURLToPath(new URL('../migrations', import.meta.url));

export interface PaymentsOptions {
  /** The card processor; the in-project sandbox unless given (tests wrap it to count calls). */
  providers?: ProviderFactory;
  /** How long an authorization holds before it lapses uncaptured (sandbox). Default 7 days. */
  authorizationLifetimeMs?: number;
  /** How often lapsed authorizations are looked for. Default 60 s. */
  authorizationExpiryIntervalMs?: number;
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
  const lifetimeMs = options.authorizationLifetimeMs ?? DEFAULT_AUTHORIZATION_LIFETIME_MS;
  const providers = options.providers ?? ((sql) => createSandboxProvider(sql, undefined, { authorizationLifetimeMs: lifetimeMs }));
  const expireDue = async () => {
    for (const id of await store.authorizedBefore(new Date(Date.now() - lifetimeMs))) {
      const outcome = await store.change(id, (payment) => expireAuthorization(payment, lifetimeMs, new Date()));
      if (outcome?.events.length) deps.logger.info({ paymentId: id, orderId: outcome.payment.orderId }, 'authorization expired before capture');
    }
  };
  const idempotency = createIdempotency({ db: deps.db, logger: deps.logger });
  paymentsRoutes(app, store, providers, idempotency);
  tokensRoutes(app, deps.db, idempotency);
  return defineService({
    name: SERVICE,
    deps,
    app,
    migrationsDir: MIGRATIONS,
    background: [idempotency.cleanupTask(), every(options.authorizationExpiryIntervalMs ?? 60_000, deps.logger, 'expire-authorizations', expireDue)],
    handlers: paymentHandlers({ store, providers, newPaymentId: () => `pay_${randomBytes(12).toString('hex')}` }),
  });
}
