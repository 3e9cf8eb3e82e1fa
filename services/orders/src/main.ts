import { z } from 'zod';
import { loadConfigOrExit, runStandalone } from '@emporium/platform';
import { DEFAULT_STEP_TIMEOUTS } from './domain/order';
import { createOrdersService, SERVICE } from './service';

const config = loadConfigOrExit(SERVICE, 
  z.object({
    CART_URL: z.string().url().default('http://127.0.0.1:3102').describe('base URL of the cart service (checkout from cart)'),
    RESERVATION_TTL_MS: z.coerce.number().int().min(1000).default(15 * 60_000).describe('how long stock stays reserved for an unpaid order'),
    STOCK_TIMEOUT_MS: z.coerce.number().int().min(100).default(DEFAULT_STEP_TIMEOUTS.placed).describe('how long a placed order waits for inventory'),
    PAYMENT_TIMEOUT_MS: z.coerce.number().int().min(100).default(DEFAULT_STEP_TIMEOUTS.payment_pending).describe('how long an order waits for payments to authorize'),
    SHIPPING_TIMEOUT_MS: z.coerce.number().int().min(100).default(DEFAULT_STEP_TIMEOUTS.confirmed).describe('how long a confirmed order waits for its shipment'),
    CAPTURE_TIMEOUT_MS: z.coerce.number().int().min(100).default(DEFAULT_STEP_TIMEOUTS.fulfilling).describe('how long a shipped order waits for payments to capture'),
    STEP_TIMEOUT_CHECK_MS: z.coerce.number().int().min(50).default(5000).describe('how often orders past their step deadline are looked for'),
  }),
);

await runStandalone(SERVICE, (deps) =>
  createOrdersService(deps, {
    cartUrl: config.CART_URL,
    reservationTtlMs: config.RESERVATION_TTL_MS,
    stepTimeouts: { placed: config.STOCK_TIMEOUT_MS, payment_pending: config.PAYMENT_TIMEOUT_MS, confirmed: config.SHIPPING_TIMEOUT_MS, fulfilling: config.CAPTURE_TIMEOUT_MS },
    expiryIntervalMs: config.STEP_TIMEOUT_CHECK_MS,
  }),
);
