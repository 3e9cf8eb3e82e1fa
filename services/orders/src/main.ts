import { z } from 'zod';
import { loadConfigOrExit, runStandalone } from '@emporium/platform';
import { createOrdersService, SERVICE } from './service';

const config = loadConfigOrExit(SERVICE, 
  z.object({
    CART_URL: z.string().url().default('http://127.0.0.1:3102').describe('base URL of the cart service (checkout from cart)'),
    RESERVATION_TTL_MS: z.coerce.number().int().min(1000).default(15 * 60_000).describe('how long stock stays reserved for an unpaid order'),
  }),
);

await runStandalone(SERVICE, (deps) => createOrdersService(deps, { cartUrl: config.CART_URL, reservationTtlMs: config.RESERVATION_TTL_MS }));
