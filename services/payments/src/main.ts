import { z } from 'zod';
import { loadConfigOrExit, runStandalone } from '@emporium/platform';
import { DEFAULT_AUTHORIZATION_LIFETIME_MS } from './providers/sandbox';
import { createPaymentsService, SERVICE } from './service';

const config = loadConfigOrExit(SERVICE,
  z.object({
    AUTHORIZATION_LIFETIME_MS: z.coerce.number().int().min(100).default(DEFAULT_AUTHORIZATION_LIFETIME_MS).describe('how long an uncaptured authorization holds (sandbox)'),
    AUTHORIZATION_EXPIRY_CHECK_MS: z.coerce.number().int().min(50).default(60_000).describe('how often lapsed authorizations are looked for'),
  }),
);

await runStandalone(SERVICE, (deps) =>
  createPaymentsService(deps, { authorizationLifetimeMs: config.AUTHORIZATION_LIFETIME_MS, authorizationExpiryIntervalMs: config.AUTHORIZATION_EXPIRY_CHECK_MS }),
);
