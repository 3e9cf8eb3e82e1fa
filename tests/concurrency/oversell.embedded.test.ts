import { afterAll, beforeAll, describe, it } from 'vitest';
import { startEmbedded, type EmbeddedPlatform } from '@emporium/launcher/embedded';
import { NO_RATE_LIMITS, TEST_ADMIN } from '../support/auth';
import { runOversellStorm } from './oversell';

describe('oversell storm (embedded: one process, PGlite, in-process bus)', () => {
  let platform: EmbeddedPlatform;
  beforeAll(async () => {
    platform = await startEmbedded({ port: 0, logLevel: process.env.TEST_LOG_LEVEL ?? 'silent', admin: TEST_ADMIN, gateway: NO_RATE_LIMITS });
  }, 120_000);
  afterAll(async () => {
    await platform?.stop();
  }, 60_000);

  it('when 1,000 checkouts with overlapping product lists race for 100 scarce units, then exactly those units are sold and every other order is rejected naming the short product', async () => {
    await runOversellStorm({ mode: 'embedded', url: platform.url, terminalTimeoutMs: 240_000 });
  }, 600_000);
});
