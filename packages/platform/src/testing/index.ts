import pg from 'pg';
import { createInProcessBus, type InProcessBus } from '../bus/in-process';
import { databaseUrlOn, ensureDatabase } from '../db/postgres';
import { assertIdentifier } from '../db/types';
import { openPglite, type SharedPglite } from '../db/pglite';
import { createLogger } from '../logger';
import { createMetrics } from '../metrics';
import type { ServiceDeps } from '../service';

/**
 * One in-memory embedded database and bus per test file, shared by the services under test,
 * exactly as `npm start` wires them (schemas per service, durable in-process log).
 */
export interface TestPlatform {
  pglite: SharedPglite;
  /** The in-process bus, with replay() and pending() for delivery tests. */
  bus: InProcessBus;
  deps(service: string): ServiceDeps;
  close(): Promise<void>;
}

export async function createTestPlatform(options: { logLevel?: string } = {}): Promise<TestPlatform> {
  const pglite = await openPglite();
  const logger = createLogger('test', (options.logLevel ?? process.env.TEST_LOG_LEVEL ?? 'silent') as 'silent');
  const bus = createInProcessBus({ db: pglite.forSchema('bus'), logger, idlePollMs: 1000 });
  await bus.migrate();
  return {
    pglite,
    bus,
    deps: (service) => ({
      db: pglite.forSchema(service),
      bus,
      logger: logger.child({ service }),
      metrics: createMetrics(service, { defaultMetrics: false }),
    }),
    async close() {
      await bus.close();
      await pglite.close();
    },
  };
}

/** Polls `probe` until it returns a truthy value or `timeoutMs` passes (then throws). */
export async function eventually<T>(probe: () => Promise<T>, timeoutMs = 10_000, what = 'condition'): Promise<Exclude<T, undefined | null | false | 0 | ''>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value as Exclude<T, undefined | null | false | 0 | ''>;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The PostgreSQL server tests use (`POSTGRES_ADMIN_URL`, default the local one, user postgres). */
export const POSTGRES_ADMIN_URL = process.env.POSTGRES_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** Drops `database` if a previous run left it, creates it empty, and returns its connection string. */
export async function freshPostgresDatabase(database: string): Promise<string> {
  const admin = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${assertIdentifier(database)} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
  await ensureDatabase(POSTGRES_ADMIN_URL, database);
  return databaseUrlOn(POSTGRES_ADMIN_URL, database);
}

/**
 * The events `service` emitted on the embedded platform, sent or not yet, as a table to select
 * from: `event_id, topic, key, type, payload, seq` (`seq` orders them as written). Its outbox holds
 * what the relay has not sent and the bus's log what it has; the relay deletes a row only once the
 * bus took it, so every committed event is in one or both, and this lists it once.
 *   `SELECT type FROM ${emittedEvents('catalog')} WHERE key = $1 ORDER BY seq`
 */
export function emittedEvents(service: string): string {
  const schema = assertIdentifier(service);
  return `(SELECT DISTINCT ON (event_id) event_id, topic, key, type, payload, seq FROM (
      SELECT (value::jsonb->>'id')::uuid AS event_id, topic, key, value::jsonb->>'type' AS type, value::jsonb AS payload, id AS seq
      FROM bus.messages WHERE topic NOT LIKE '%.dlq' AND value::jsonb->>'source' = '${schema}'
      UNION ALL
      SELECT event_id, topic, key, type, payload, id + 1000000000000 AS seq FROM ${schema}.outbox
    ) sent_or_not ORDER BY event_id, seq) emitted`;
}
