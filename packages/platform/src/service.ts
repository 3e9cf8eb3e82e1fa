import type { EventBus, Subscription } from './bus/types';
import type { Db } from './db/types';
import { migrate } from './db/migrate';
import type { HttpApp } from './http/server';
import type { Logger } from './logger';
import type { Metrics } from './metrics';
import { createOutboxRelay, type OutboxRelay } from './outbox';
import { checkRoutes, createEventHandler, subscribeEvents, topicsOf, type EventConsumerOptions, type EventHandlers } from './consumer';
import { createDeadLetterOps, type DeadLetterOps } from './ops/dead-letters';
import { inboxCutoff, pruneInbox } from './inbox';
import { every } from './background';
import { createStatisticsKeeper } from './db/statistics';

export { every };

/** What every service is given by whoever runs it (embedded runner, standalone main, tests). */
export interface ServiceDeps {
  db: Db;
  bus: EventBus;
  logger: Logger;
  metrics: Metrics;
}

export interface Service {
  name: string;
  app: HttpApp;
  /** Applies migrations, starts the outbox relay and the event consumers. Opens no port. */
  start(): Promise<void>;
  /** Stops taking requests and events, drains what is in flight, then stops the relay. */
  stop(): Promise<void>;
  /** Publishes every pending outbox row now (tests and shutdown). */
  flushOutbox(): Promise<number>;
  /**
   * Deletes inbox rows of events the bus can no longer deliver again (handled longer ago than its
   * retention plus a margin); runs every 10 minutes while the service is started. Resolves with how many.
   */
  pruneInbox(): Promise<number>;
}

const INBOX_PRUNE_INTERVAL_MS = 10 * 60_000;

export interface ServiceDefinition {
  name: string;
  deps: ServiceDeps;
  app: HttpApp;
  /** Folder of the service's plain-SQL migrations (none: only the platform's outbox, inbox and idempotency tables). */
  migrationsDir?: string;
  handlers?: EventHandlers;
  /** See EventConsumerOptions.parallelRuns: only when runs of different partitions cannot deadlock. */
  parallelRuns?: boolean;
  /** See EventConsumerOptions.lockRun: for handlers that lock rows shared across keys. */
  lockRun?: EventConsumerOptions['lockRun'];
  /** Timers and loops the service runs in the background; each returns its stop function. */
  background?: Array<() => () => Promise<void>>;
}

/** Assembles a service's lifecycle from its parts, in the order start and stop need. */
export function defineService(definition: ServiceDefinition): Service {
  const { name, deps, app } = definition;
  checkRoutes(name, definition.handlers ?? {}, deps.bus);
  const relay: OutboxRelay = createOutboxRelay({ db: deps.db, bus: deps.bus, logger: deps.logger.child({ component: 'outbox' }), metrics: deps.metrics });
  let subscription: Subscription | undefined;
  const topics = topicsOf(definition.handlers ?? {});
  const consumerLogger = deps.logger.child({ component: 'consumer' });
  const deadLetters: DeadLetterOps = createDeadLetterOps({
    db: deps.db,
    bus: deps.bus,
    group: name,
    topics,
    logger: deps.logger.child({ component: 'dead-letters' }),
    redeliver: createEventHandler({ db: deps.db, group: name, source: name, handlers: definition.handlers ?? {}, logger: consumerLogger, metrics: deps.metrics }),
  });
  deadLetters.routes(app);
  let stopBackground: Array<() => Promise<void>> = [];
  let started = false;
  const pruneInboxNow = async (): Promise<number> => {
    const cutoff = inboxCutoff(await deps.bus.retention(topics, name));
    return cutoff ? pruneInbox(deps.db, cutoff) : 0;
  };
  const inboxRetention = every(INBOX_PRUNE_INTERVAL_MS, deps.logger, 'inbox prune', async () => {
    const deleted = await pruneInboxNow();
    if (deleted > 0) deps.logger.info({ deleted }, 'inbox rows of events the bus no longer holds deleted');
  });
  // On a PostgreSQL server that does not analyze (autovacuum off), the service's tables are analyzed as they grow.
  const statistics = deps.db.dialect === 'postgres' ? [createStatisticsKeeper({ db: deps.db, logger: deps.logger.child({ component: 'statistics' }) }).task] : [];

  return {
    name,
    app,
    async start() {
      if (started) return;
      const applied = await migrate(deps.db, definition.migrationsDir);
      if (applied.length > 0) deps.logger.info({ applied }, 'migrations applied');
      await deadLetters.migrate();
      await relay.start();
      if (definition.handlers && Object.keys(definition.handlers).length > 0) {
        subscription = await subscribeEvents({
          bus: deps.bus,
          db: deps.db,
          group: name,
          source: name,
          handlers: definition.handlers,
          logger: consumerLogger,
          metrics: deps.metrics,
          parallelRuns: definition.parallelRuns,
          lockRun: definition.lockRun,
        });
        await deadLetters.start();
      }
      stopBackground = [...(definition.background ?? []), ...(topics.length > 0 ? [inboxRetention] : []), ...statistics].map((begin) => begin());
      started = true;
    },
    async stop() {
      if (!started) return;
      started = false;
      await app.close();
      await Promise.all(stopBackground.map((s) => s()));
      await Promise.all([subscription?.stop(), deadLetters.stop()]);
      // Flushes what is still pending, then stops.
      await relay.stop();
    },
    flushOutbox: () => relay.flush(),
    pruneInbox: pruneInboxNow,
  };
}
