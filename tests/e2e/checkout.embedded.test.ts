import { afterAll } from 'vitest';
import { startEmbedded } from '@emporium/launcher/embedded';
import { TEST_ADMIN } from '../support/auth';
import { describeCheckoutJourneys, latencies } from './journeys';

describeCheckoutJourneys('embedded: one process, PGlite, in-process bus', async () => {
  const platform = await startEmbedded({ port: 0, logLevel: process.env.TEST_LOG_LEVEL ?? 'silent', admin: TEST_ADMIN });
  return { url: platform.url, cardProcessor: platform.sandboxes.cardProcessor, stop: platform.stop };
});

afterAll(() => {
  if (latencies.length > 0) console.log(`embedded checkout, placement → completed: ${latencies.join(', ')} ms`);
});
