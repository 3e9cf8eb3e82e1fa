import { z } from 'zod';
import { commonConfig, csv, loadConfigOrExit } from './config';
import { createPostgresDb, databaseUrlOn, ensureDatabase } from './db/postgres';
import { createKafkaBus } from './bus/kafka';
import { createLogger } from './logger';
import { createMetrics } from './metrics';
import type { Service, ServiceDeps } from './service';
import { onShutdown } from './shutdown';

export const distributedConfig = z.object({
  ...commonConfig,
  PORT: z.coerce.number().int().min(0).max(65535).describe('HTTP port of this service'),
  DATABASE_URL: z.string().url().optional().describe("this service's PostgreSQL database; default <prefix>_<service> on the server of POSTGRES_ADMIN_URL"),
  POSTGRES_ADMIN_URL: z.string().url().default('postgres://postgres@127.0.0.1:5432/postgres').describe('the PostgreSQL server: the service database (unless DATABASE_URL) is on it, and created through it if missing; ?host=/var/run/postgresql for its Unix socket'),
  KAFKA_BROKERS: csv.default(['127.0.0.1:9092']).describe('comma-separated Kafka bootstrap brokers'),
  KAFKA_NAMESPACE: z.string().regex(/^([a-zA-Z0-9_-]{1,60})?$/).default('').describe('prefix of every Kafka topic and consumer group (<namespace>.order-events); empty = none'),
  KAFKA_DELIVERY: z
    .enum(['routed', 'aggregate'])
    .default('routed')
    .describe('routed: each service reads only the events it handles, from its delivery topics; aggregate: the whole topics (first step of an upgrade from a version without delivery topics, docs/adr/0013)'),
  DATABASE_PREFIX: z.string().regex(/^[a-z][a-z0-9_]{0,40}$/).default('emporium').describe('when DATABASE_URL is unset, the database is <prefix>_<service>'),
  DB_POOL_SIZE: z.coerce.number().int().min(1).max(100).default(10).describe('PostgreSQL connections per instance'),
});

/**
 * Runs one service as its own process (distributed mode): its own PostgreSQL database,
 * Kafka as the bus, graceful shutdown on SIGTERM/SIGINT.
 */
export async function runStandalone(name: string, create: (deps: ServiceDeps) => Promise<Service>): Promise<void> {
  const config = loadConfigOrExit(name, distributedConfig);
  const logger = createLogger(name, config.LOG_LEVEL);
  const database = `${config.DATABASE_PREFIX}_${name}`;
  const databaseUrl = config.DATABASE_URL ?? databaseUrlOn(config.POSTGRES_ADMIN_URL, database);
  if (!config.DATABASE_URL) await untilAvailable(logger, 'create the database', () => ensureDatabase(config.POSTGRES_ADMIN_URL, database));
  const metrics = createMetrics(name);
  const db = createPostgresDb({ connectionString: databaseUrl, schema: name, max: config.DB_POOL_SIZE, applicationName: name, metrics });
  const bus = createKafkaBus({ brokers: config.KAFKA_BROKERS, clientId: name, logger: logger.child({ component: 'kafka' }), metrics, namespace: config.KAFKA_NAMESPACE, delivery: config.KAFKA_DELIVERY });
  const service = await create({ db, bus, logger, metrics });
  await untilAvailable(logger, 'start', () => service.start());
  const address = await service.app.listen({ port: config.PORT, host: config.HOST });
  logger.info({ address }, `${name} listening`);
  onShutdown(logger, config.SHUTDOWN_TIMEOUT_MS, async () => {
    await service.stop();
    await bus.close();
    await db.close();
  });
}

/**
 * Retries a start-up step while PostgreSQL or Kafka is not reachable yet (a restart, a slow
 * dependency), for up to `timeoutMs`; then gives up and lets the supervisor restart the process.
 */
async function untilAvailable(logger: ReturnType<typeof createLogger>, step: string, work: () => Promise<void>, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      logger.warn({ err: error, attempt }, `could not ${step} yet; retrying`);
      await new Promise((resolve) => setTimeout(resolve, Math.min(500 * attempt, 5000)));
    }
  }
}
