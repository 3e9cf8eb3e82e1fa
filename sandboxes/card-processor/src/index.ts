import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { createLogger, migrate, type Db, type Logger } from '@emporium/platform';
import { buildCardProcessorApp } from './app';
import { createProcessorStore } from './store';

export { TEST_CARDS, TEST_TOKENS, type Outcome } from './cards';

const MIGRATIONS = fileURLToPath(new URL('../migrations', import.meta.url));

export const DEFAULT_PUBLISHABLE_KEY = 'pk_test_emporium_sandbox';
export const DEFAULT_SECRET_KEY = 'sk_test_emporium_sandbox';
/** Card networks hold an uncaptured authorization for about 7 days. */
export const DEFAULT_AUTHORIZATION_LIFETIME_MS = 7 * 24 * 60 * 60_000;

export interface CardProcessorOptions {
  /** Its own database or schema (`card_processor`); migrated on start. */
  db: Db;
  /** 0 (default) picks a free port. */
  port?: number;
  host?: string;
  logger?: Logger;
  publishableKey?: string;
  secretKey?: string;
  authorizationLifetimeMs?: number;
  clock?: () => Date;
}

export interface CardProcessor {
  /** Base URL of the Stripe-compatible API, e.g. `http://127.0.0.1:3108` (paths under `/v1`). */
  url: string;
  publishableKey: string;
  secretKey: string;
  app: FastifyInstance;
  /** Stops the server; the database stays open (its owner closes it). */
  stop(): Promise<void>;
}

/** Migrates the processor's schema and serves its API on `host:port`. */
export async function startCardProcessor(options: CardProcessorOptions): Promise<CardProcessor> {
  const logger = options.logger ?? createLogger('card-processor', 'warn');
  const publishableKey = options.publishableKey ?? DEFAULT_PUBLISHABLE_KEY;
  const secretKey = options.secretKey ?? DEFAULT_SECRET_KEY;
  await migrate(options.db, MIGRATIONS, { platform: false });
  const store = createProcessorStore(options.db);
  const app = await buildCardProcessorApp({
    store,
    logger,
    publishableKey,
    secretKey,
    authorizationLifetimeMs: options.authorizationLifetimeMs ?? DEFAULT_AUTHORIZATION_LIFETIME_MS,
    clock: options.clock ?? (() => new Date()),
  });
  const forget = setInterval(() => {
    store.forgetKeysBefore(new Date(Date.now() - 24 * 60 * 60_000)).catch((error: unknown) => logger.warn({ err: error }, 'could not forget old idempotency keys'));
  }, 60 * 60_000);
  forget.unref();
  const host = options.host ?? '127.0.0.1';
  await app.listen({ port: options.port ?? 0, host });
  const { port } = app.server.address() as AddressInfo;
  return {
    url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`,
    publishableKey,
    secretKey,
    app,
    async stop() {
      clearInterval(forget);
      await app.close();
    },
  };
}
