import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { createHttpApp, createIdempotency, defineService, every, type Service, type ServiceDeps } from '@emporium/platform';
import { expireAuthorization } from './domain/expire-authorization';
import { paymentHandlers } from './events/handlers';
import { paymentsRoutes } from './http/payments.routes';
import type { PaymentProvider } from './providers/provider';
import { createProviderCalls } from './providers/provider-calls';
import { createStripeProvider, type StripeProviderOptions } from './providers/stripe';
import { createPaymentsStore } from './store/payments.store';

export type { PaymentProvider } from './providers/provider';
export { createStripeProvider } from './providers/stripe';

export const SERVICE = 'payments';
const MIGRATIONS = fileURLToPath(new URL('../migrations', import.meta.url));

/** Card networks hold an uncaptured authorization for about 7 days. */
export const DEFAULT_AUTHORIZATION_LIFETIME_MS = 7 * 24 * 60 * 60_000;

/** Timings and limits of payments, whatever the processor. */
export interface PaymentsTimings {
  /** How long an authorization holds before it lapses uncaptured; match the processor's. Default 7 days. */
  authorizationLifetimeMs?: number;
  /** How often lapsed authorizations are looked for. Default 60 s. */
  authorizationExpiryIntervalMs?: number;
  /** How often processor calls waiting for a retry are looked for. Default 1 s. */
  providerRetryIntervalMs?: number;
  /** `provider_calls` is vacuumed after this many calls ended, or a minute after the last time. Default 1,000. */
  providerCallsVacuumAfter?: number;
  /** Calls of different payments with the processor at once. Default DEFAULT_CALLS_AT_ONCE. */
  processorCallsAtOnce?: number;
}

export type PaymentsOptions = PaymentsTimings &
  (
    | {
        /** The card processor, reached through the stripe SDK: the sandbox's URL and secret key (or Stripe's). */
        processor: StripeProviderOptions;
        provider?: undefined;
      }
    | {
        /** A provider given directly (tests wrap one to count calls). */
        provider: PaymentProvider;
        processor?: undefined;
      }
  );

export async function createPaymentsService(deps: ServiceDeps, options: PaymentsOptions): Promise<Service> {
  const app = await createHttpApp({
    service: SERVICE,
    description: 'Payments: authorization, capture, void and refund through a card processor (Stripe API; the sandbox in development).',
    logger: deps.logger,
    metrics: deps.metrics,
    readiness: { database: deps.db.isReady, bus: deps.bus.isReady },
  });
  const store = createPaymentsStore(deps.db, SERVICE);
  const provider = options.provider ?? createStripeProvider(options.processor);
  const lifetimeMs = options.authorizationLifetimeMs ?? DEFAULT_AUTHORIZATION_LIFETIME_MS;
  const expireDue = async () => {
    for (const id of await store.authorizedBefore(new Date(Date.now() - lifetimeMs))) {
      const outcome = await store.change(id, (payment) => expireAuthorization(payment, lifetimeMs, new Date()));
      if (outcome?.events.length) deps.logger.info({ paymentId: id, orderId: outcome.payment.orderId }, 'authorization expired before capture');
    }
  };
  const calls = createProviderCalls({ store, provider, logger: deps.logger, pollIntervalMs: options.providerRetryIntervalMs, vacuumAfterCalls: options.providerCallsVacuumAfter, callsAtOnce: options.processorCallsAtOnce });
  const idempotency = createIdempotency({ db: deps.db, logger: deps.logger });
  paymentsRoutes(app, store, provider, idempotency);
  return defineService({
    name: SERVICE,
    deps,
    app,
    migrationsDir: MIGRATIONS,
    // Each event locks only its own order's payment (events of one order share a partition), so
    // runs of different partitions commit side by side without deadlocking. One at a time, the
    // payment requests waited behind each other's transactions: delivery p50 at 50 checkouts/s
    // offered 644–936 ms, side by side 140–222 ms (bench/RESULTS.md, session 26).
    parallelRuns: true,
    background: [idempotency.cleanupTask(), every(options.authorizationExpiryIntervalMs ?? 60_000, deps.logger, 'expire-authorizations', expireDue), calls.task()],
    handlers: paymentHandlers({ store, providerName: provider.name, newPaymentId: () => `pay_${randomBytes(12).toString('hex')}`, callQueued: calls.queued }),
  });
}
