import { afterAll } from 'vitest';
import pg from 'pg';
import { startDistributed, SERVICE_NAMES } from '@emporium/launcher/distributed';
import { describeCheckoutJourneys, latencies } from './journeys';

const PREFIX = 'emporium_e2e';
const ADMIN_URL = process.env.POSTGRES_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** Each run starts from empty databases, as a fresh installation would. */
async function dropTestDatabases(): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect().catch((error: Error) => {
    throw new Error(`PostgreSQL is required for the distributed suite (${ADMIN_URL}): ${error.message}`);
  });
  try {
    for (const name of SERVICE_NAMES) await client.query(`DROP DATABASE IF EXISTS ${PREFIX}_${name} WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

describeCheckoutJourneys(
  'distributed: a process per service, PostgreSQL, Kafka',
  async () => {
    await dropTestDatabases();
    const platform = await startDistributed({ gatewayPort: 3400, servicePortBase: 3400, databasePrefix: PREFIX, logLevel: 'warn' });
    return { url: platform.url, stop: platform.stop };
  },
  { terminalTimeoutMs: 30_000 },
);

afterAll(() => {
  if (latencies.length > 0) console.log(`distributed checkout, placement → completed: ${latencies.join(', ')} ms`);
});
