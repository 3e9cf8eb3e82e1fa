import { z } from 'zod';
import { commonConfig, createLogger, createMetrics, createTokenVerifier, loadConfigOrExit, onShutdown } from '@emporium/platform';
import { createGateway, DEFAULT_RATE_LIMITS } from './gateway';
import { parseBucket, type Bucket } from './rate-limit';

const bucket = (fallback: Bucket) =>
  z
    .string()
    .default(`${fallback.burst}/${fallback.perSecond}`)
    .transform((text, ctx) => {
      try {
        return parseBucket(text);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message });
        return z.NEVER;
      }
    });

const config = loadConfigOrExit('gateway', z.object({
  ...commonConfig,
  PORT: z.coerce.number().int().min(0).max(65535).default(3000).describe('public port'),
  CATALOG_URL: z.string().url().default('http://127.0.0.1:3101').describe('catalog service base URL'),
  CART_URL: z.string().url().default('http://127.0.0.1:3102').describe('cart service base URL'),
  INVENTORY_URL: z.string().url().default('http://127.0.0.1:3103').describe('inventory service base URL'),
  ORDERS_URL: z.string().url().default('http://127.0.0.1:3104').describe('orders service base URL'),
  PAYMENTS_URL: z.string().url().default('http://127.0.0.1:3105').describe('payments service base URL'),
  SHIPPING_URL: z.string().url().default('http://127.0.0.1:3106').describe('shipping service base URL'),
  IDENTITY_URL: z.string().url().default('http://127.0.0.1:3107').describe('identity service base URL (its JWKS verifies tokens)'),
  IDENTITY_ISSUER: z.string().min(1).default('https://emporium.dev/identity').describe('`iss` access tokens must carry'),
  IDENTITY_AUDIENCE: z.string().min(1).default('emporium').describe('`aud` access tokens must carry'),
  RATE_LIMIT_CLIENT: bucket(DEFAULT_RATE_LIMITS.client as Bucket).describe('requests per client address: burst/perSecond, or off'),
  RATE_LIMIT_ACCOUNT: bucket(DEFAULT_RATE_LIMITS.account as Bucket).describe('requests per account: burst/perSecond, or off'),
  RATE_LIMIT_SIGN_IN: bucket(DEFAULT_RATE_LIMITS.signIn as Bucket).describe('sign-ups, sign-ins and guest sessions per client address: burst/perSecond, or off'),
  CORS_ORIGINS: z.string().default('').describe('comma-separated origins allowed to call the API from a browser'),
  PAYMENT_PROCESSOR_URL: z.string().url().optional().describe("card processor the storefront tokenizes with (public URL)"),
  PAYMENT_PROCESSOR_PUBLISHABLE_KEY: z.string().optional().describe("the processor's publishable key for the storefront"),
  STOREFRONT_DIR: z.string().optional().describe('the built storefront (apps/storefront/dist) to serve at /; none: / lists the APIs'),
}));

const logger = createLogger('gateway', config.LOG_LEVEL);
const gateway = await createGateway({
  logger,
  metrics: createMetrics('gateway'),
  upstreams: {
    catalog: config.CATALOG_URL,
    cart: config.CART_URL,
    inventory: config.INVENTORY_URL,
    orders: config.ORDERS_URL,
    payments: config.PAYMENTS_URL,
    shipping: config.SHIPPING_URL,
    identity: config.IDENTITY_URL,
  },
  verifier: createTokenVerifier({ jwksUrl: `${config.IDENTITY_URL}/.well-known/jwks.json`, issuer: config.IDENTITY_ISSUER, audience: config.IDENTITY_AUDIENCE }),
  rateLimits: { client: config.RATE_LIMIT_CLIENT, account: config.RATE_LIMIT_ACCOUNT, signIn: config.RATE_LIMIT_SIGN_IN },
  corsOrigins: config.CORS_ORIGINS.split(',').map((o) => o.trim()).filter(Boolean),
  paymentProcessor: config.PAYMENT_PROCESSOR_URL && config.PAYMENT_PROCESSOR_PUBLISHABLE_KEY
    ? { url: config.PAYMENT_PROCESSOR_URL, publishableKey: config.PAYMENT_PROCESSOR_PUBLISHABLE_KEY }
    : undefined,
  storefrontDir: config.STOREFRONT_DIR,
});
const address = await gateway.app.listen({ port: config.PORT, host: config.HOST });
logger.info({ address }, 'gateway listening');
onShutdown(logger, config.SHUTDOWN_TIMEOUT_MS, () => gateway.close());
