import { z } from 'zod';
import { commonConfig, createLogger, createMetrics, loadConfigOrExit, onShutdown } from '@emporium/platform';
import { createGateway } from './gateway';

const config = loadConfigOrExit('gateway', z.object({
  ...commonConfig,
  PORT: z.coerce.number().int().min(0).max(65535).default(3000).describe('public port'),
  CATALOG_URL: z.string().url().default('http://127.0.0.1:3101').describe('catalog service base URL'),
  CART_URL: z.string().url().default('http://127.0.0.1:3102').describe('cart service base URL'),
  INVENTORY_URL: z.string().url().default('http://127.0.0.1:3103').describe('inventory service base URL'),
  ORDERS_URL: z.string().url().default('http://127.0.0.1:3104').describe('orders service base URL'),
  PAYMENTS_URL: z.string().url().default('http://127.0.0.1:3105').describe('payments service base URL'),
  SHIPPING_URL: z.string().url().default('http://127.0.0.1:3106').describe('shipping service base URL'),
  IDENTITY_URL: z.string().url().default('http://127.0.0.1:3107').describe('identity service base URL'),
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
});
const address = await gateway.app.listen({ port: config.PORT, host: config.HOST });
logger.info({ address }, 'gateway listening');
onShutdown(logger, config.SHUTDOWN_TIMEOUT_MS, () => gateway.close());
