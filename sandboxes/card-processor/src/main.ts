import { z } from 'zod';
import { commonConfig, createLogger, createPostgresDb, databaseUrlOn, ensureDatabase, loadConfigOrExit, onShutdown } from '@emporium/platform';
import { DEFAULT_AUTHORIZATION_LIFETIME_MS, DEFAULT_PUBLISHABLE_KEY, DEFAULT_SECRET_KEY, startCardProcessor } from './index';

const NAME = 'card-processor';
const config = loadConfigOrExit(NAME, z.object({
  ...commonConfig,
  PORT: z.coerce.number().int().min(0).max(65535).default(3108).describe('HTTP port of the sandbox card processor'),
  DATABASE_URL: z.string().url().optional().describe('its own PostgreSQL database; default <prefix>_card_processor on the server of POSTGRES_ADMIN_URL'),
  DATABASE_PREFIX: z.string().regex(/^[a-z][a-z0-9_]{0,40}$/).default('emporium').describe('when DATABASE_URL is unset, the database is <prefix>_card_processor'),
  POSTGRES_ADMIN_URL: z.string().url().default('postgres://postgres@127.0.0.1:5432/postgres').describe('the PostgreSQL server: its database (unless DATABASE_URL) is on it, and created through it if missing'),
  DB_POOL_SIZE: z.coerce.number().int().min(1).max(100).default(5).describe('PostgreSQL connections'),
  CARD_PROCESSOR_PUBLISHABLE_KEY: z.string().regex(/^pk_test_\w+$/).default(DEFAULT_PUBLISHABLE_KEY).describe('the key browsers tokenize cards with'),
  CARD_PROCESSOR_SECRET_KEY: z.string().regex(/^sk_test_\w+$/).default(DEFAULT_SECRET_KEY).describe('the key servers (payments) call the API with'),
  AUTHORIZATION_LIFETIME_MS: z.coerce.number().int().min(100).default(DEFAULT_AUTHORIZATION_LIFETIME_MS).describe('how long an uncaptured authorization holds'),
}));

const logger = createLogger(NAME, config.LOG_LEVEL);
const database = `${config.DATABASE_PREFIX}_card_processor`;
if (!config.DATABASE_URL) await ensureDatabase(config.POSTGRES_ADMIN_URL, database);
const db = createPostgresDb({
  connectionString: config.DATABASE_URL ?? databaseUrlOn(config.POSTGRES_ADMIN_URL, database),
  schema: 'card_processor',
  max: config.DB_POOL_SIZE,
  applicationName: NAME,
});
const processor = await startCardProcessor({
  db,
  port: config.PORT,
  host: config.HOST,
  logger,
  publishableKey: config.CARD_PROCESSOR_PUBLISHABLE_KEY,
  secretKey: config.CARD_PROCESSOR_SECRET_KEY,
  authorizationLifetimeMs: config.AUTHORIZATION_LIFETIME_MS,
});
logger.info({ url: processor.url }, 'sandbox card processor listening');
onShutdown(logger, config.SHUTDOWN_TIMEOUT_MS, async () => {
  await processor.stop();
  await db.close();
});
