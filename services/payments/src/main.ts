import { z } from 'zod';
import { loadConfigOrExit, runStandalone } from '@emporium/platform';
import { DEFAULT_CALLS_AT_ONCE } from './providers/provider-calls';
import { createPaymentsService, DEFAULT_AUTHORIZATION_LIFETIME_MS, SERVICE } from './service';

const config = loadConfigOrExit(SERVICE,
  z.object({
    PAYMENTS_PROCESSOR_URL: z.string().url().default('http://127.0.0.1:3108').describe('the card processor (Stripe API): the sandbox card processor, or https://api.stripe.com'),
    PAYMENTS_PROCESSOR_SECRET_KEY: z.string().regex(/^sk_(test|live)_\w+$/).default('sk_test_emporium_sandbox').describe("the processor's secret API key"),
    PAYMENTS_PROCESSOR_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000).describe('how long one processor request may take'),
    PAYMENTS_PROCESSOR_CONCURRENCY: z.coerce.number().int().min(1).max(1000).default(DEFAULT_CALLS_AT_ONCE).describe('calls of different payments with the processor at once'),
    AUTHORIZATION_LIFETIME_MS: z.coerce.number().int().min(100).default(DEFAULT_AUTHORIZATION_LIFETIME_MS).describe("how long an uncaptured authorization holds (match the processor's)"),
    AUTHORIZATION_EXPIRY_CHECK_MS: z.coerce.number().int().min(50).default(60_000).describe('how often lapsed authorizations are looked for'),
  }),
);

await runStandalone(SERVICE, (deps) =>
  createPaymentsService(deps, {
    processor: { url: config.PAYMENTS_PROCESSOR_URL, secretKey: config.PAYMENTS_PROCESSOR_SECRET_KEY, timeoutMs: config.PAYMENTS_PROCESSOR_TIMEOUT_MS },
    authorizationLifetimeMs: config.AUTHORIZATION_LIFETIME_MS,
    authorizationExpiryIntervalMs: config.AUTHORIZATION_EXPIRY_CHECK_MS,
    processorCallsAtOnce: config.PAYMENTS_PROCESSOR_CONCURRENCY,
  }),
);
