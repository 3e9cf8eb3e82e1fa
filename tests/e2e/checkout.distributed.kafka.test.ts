import { afterAll } from 'vitest';
import { startDistributed, dropServiceDatabases } from '@emporium/launcher/distributed';
import { TEST_ADMIN } from '../support/auth';
import { describeCheckoutJourneys, latencies } from './journeys';

const PREFIX = 'emporium_e2e';

describeCheckoutJourneys(
  'distributed: a process per service, PostgreSQL, Kafka',
  async () => {
    await dropServiceDatabases(PREFIX);
    const platform = await startDistributed({ gatewayPort: 3400, servicePortBase: 3400, databasePrefix: PREFIX, logLevel: 'warn', admin: TEST_ADMIN });
    return { url: platform.url, cardProcessor: platform.sandboxes.cardProcessor, stop: platform.stop };
  },
  { terminalTimeoutMs: 30_000 },
);

afterAll(() => {
  if (latencies.length > 0) console.log(`distributed checkout, placement → completed: ${latencies.join(', ')} ms`);
});
