import { EVENTS, makeEnvelope, topicOf, type EventData, type EventEnvelope, type EventType } from '@emporium/contracts';
import type { Db, DbSession, Sql } from './db/types';
import { deleteInBatches } from './db/prune';
import { every } from './background';
import type { EventBus } from './bus/types';
import type { Logger } from './logger';
import type { Metrics } from './metrics';

/** A fact a use case decided, not yet stored: the store writes it to the outbox. */
export interface PendingEvent<T extends EventType = EventType> {
  type: T;
  key: string;
  data: EventData<T>;
}

export const event = <T extends EventType>(type: T, key: string, data: EventData<T>): PendingEvent<T> => ({ type, key, data });

export interface EventContext {
  source: string;
  correlationId?: string;
}

/**
 * Writes events to the outbox inside the caller's transaction, so they are published if and
 * only if the state change commits. Data is validated against its contract before it is stored.
 */
export async function writeOutbox(tx: Sql, events: readonly PendingEvent[], context: EventContext): Promise<EventEnvelope[]> {
  const insert = outboxInsert(events, context);
  if (insert) await tx.query(insert.text, insert.values);
  return insert?.envelopes ?? [];
}

/** An outbox INSERT as text and parameters, for a store that folds it into a statement of its own. */
export interface OutboxInsert {
  /** `INSERT INTO outbox …` with parameters numbered from the `first` given. */
  text: string;
  values: unknown[];
  envelopes: EventEnvelope[];
}

/**
 * What writeOutbox runs, without running it: a store that writes its rows and the outbox in one
 * statement (a `WITH … AS (INSERT …)` chain) saves a round trip per event. Undefined for no events.
 */
export function outboxInsert(events: readonly PendingEvent[], context: EventContext, first = 1): OutboxInsert | undefined {
  if (events.length === 0) return undefined;
  const envelopes: EventEnvelope[] = [];
  const values: unknown[] = [];
  const rows = events.map((pending, i) => {
    const data = EVENTS[pending.type].data.parse(pending.data);
    const envelope = makeEnvelope({ type: pending.type, source: context.source, key: pending.key, correlationId: context.correlationId, data });
    envelopes.push(envelope);
    values.push(envelope.id, topicOf(envelope.type as EventType), envelope.key, envelope.type, JSON.stringify(envelope));
    const p = first + i * 5;
    return `($${p}, $${p + 1}, $${p + 2}, $${p + 3}, $${p + 4}::jsonb)`;
  });
  return { text: `INSERT INTO outbox (event_id, topic, key, type, payload) VALUES ${rows.join(', ')}`, values, envelopes };
}

export interface OutboxRelayOptions {
  db: Db;
  bus: EventBus;
  logger: Logger;
  metrics?: Metrics;
  batchSize?: number;
  /** Poll interval when no NOTIFY arrives (safety net). Default 1 s. */
  pollIntervalMs?: number;
  /**
   * How long published rows are kept (for the hop figures of bench/hops.ts and for looking into
   * what was sent) before `prune` deletes them. Default 7 days, as long as the broker keeps events.
   */
  retainPublishedMs?: number;
  /** How often the running relay prunes. Default 10 minutes. */
  pruneIntervalMs?: number;
}

export interface OutboxRelay {
  start(): Promise<void>;
  /** Publishes whatever is pending now; resolves with how many were sent. */
  flush(): Promise<number>;
  /** Deletes rows published longer ago than the retention; resolves with how many. */
  prune(): Promise<number>;
  /** Stops relaying after a last flush, and gives up leadership (another instance takes over). */
  stop(): Promise<void>;
}

interface OutboxRow {
  id: number;
  topic: string;
  key: string;
  type: string;
  payload: EventEnvelope;
}

/** How long a sent batch may wait for the next read to mark it published. */
const MARK_DELAY_MS = 50;

/**
 * Moves committed outbox rows to the bus, oldest first: reads a batch, publishes it, then marks it
 * published (with the next read), each statement on its own — no transaction is held open while the bus answers.
 * A row is marked only after the bus accepted it: a crash in between sends it again (at least
 * once), never loses it. On PostgreSQL one relay per database is active, so order per key holds
 * even with several instances: the one holding a session-level advisory lock on its own pooled
 * connection (released when that connection ends, e.g. when its process dies; the others try again
 * on each wake-up). PGlite is one process, so one relay per schema is given.
 */
export function createOutboxRelay(options: OutboxRelayOptions): OutboxRelay {
  const { db, bus, logger } = options;
  const batchSize = options.batchSize ?? 200;
  const pollIntervalMs = options.pollIntervalMs ?? 1000;
  const retainPublishedMs = options.retainPublishedMs ?? 7 * 24 * 3600_000;
  const pruneIntervalMs = options.pruneIntervalMs ?? 10 * 60_000;
  let stopPruning: (() => Promise<void>) | undefined;
  let running = false;
  let wake: (() => void) | undefined;
  let loop: Promise<void> | undefined;
  let unlisten: (() => Promise<void>) | undefined;
  let pendingWake = false;
  /** PostgreSQL: the relay's own connection while it leads (holds the advisory lock). */
  let session: DbSession | undefined;
  let leading = false;

  const publishRows = async (rows: OutboxRow[]) => {
    await bus.publish(
      rows.map((r) => ({
        topic: r.topic,
        key: r.key,
        value: JSON.stringify(r.payload),
        headers: { 'event-id': r.payload.id, 'event-type': r.type, 'correlation-id': r.payload.correlationId },
      })),
    );
    for (const r of rows) options.metrics?.eventsPublished.inc({ topic: r.topic });
  };

  // A sent batch is marked published by the next read's statement (or after MARK_DELAY_MS without
  // one), not by a statement of its own: under load the relay wakes again within milliseconds,
  // so marking costs no round trip. The read skips what it is marking (its snapshot predates the
  // update). A crash before the mark sends those rows again: at least once, as before.
  const markSql = 'UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])';
  const selectSql = `WITH marked AS (${markSql})
    SELECT id, topic, key, type, payload FROM outbox WHERE published_at IS NULL AND id <> ALL($1::bigint[]) ORDER BY id LIMIT ${batchSize}`;
  /** Sent, not yet marked published. */
  let unmarked: number[] = [];

  const endSession = async () => {
    const ending = session;
    session = undefined;
    leading = false;
    await ending?.close().catch(() => undefined);
  };

  /** The connection to relay on, or undefined while another instance leads. */
  const lead = async (): Promise<Sql | undefined> => {
    if (!db.openSession) return db;
    session ??= await db.openSession();
    if (!leading) {
      const lock = await session.query<{ locked: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS locked', [`outbox:${db.schema}`]);
      leading = lock.rows[0]?.locked === true;
    }
    return leading ? session : undefined;
  };

  /** Runs one statement on the leading connection; a failure ends the session (the lock may be gone). */
  const onLead = async <T>(work: (sql: Sql) => Promise<T>): Promise<T | undefined> => {
    try {
      const sql = await lead();
      return sql ? await work(sql) : undefined;
    } catch (error) {
      await endSession();
      throw error;
    }
  };

  const relayBatch = async (): Promise<number> => {
    const marking = unmarked;
    const rows = await onLead(async (sql) => (await sql.query<OutboxRow>(selectSql, [marking])).rows);
    if (rows === undefined) return 0;
    if (unmarked === marking) unmarked = [];
    if (rows.length === 0) return 0;
    await publishRows(rows);
    unmarked = rows.map((r) => r.id);
    return rows.length;
  };

  const markSent = async (): Promise<void> => {
    if (unmarked.length === 0) return;
    const marking = unmarked;
    const done = await onLead((sql) => sql.query(markSql, [marking]));
    if (done && unmarked === marking) unmarked = [];
  };

  /** Sends batches until fewer than a full one is pending; the last batch is left unmarked. */
  const drain = async (): Promise<number> => {
    let total = 0;
    for (;;) {
      const sent = await relayBatch();
      total += sent;
      if (sent < batchSize) return total;
    }
  };

  const flush = async (): Promise<number> => {
    const sent = await drain();
    await markSent();
    return sent;
  };

  /**
   * Published rows older than the retention go, a batch at a time, oldest first (the primary key
   * leads there, so a batch reads little more than it deletes). Unpublished rows are never touched.
   */
  const prune = (): Promise<number> =>
    deleteInBatches(db, (limit) => `DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE published_at < $1 ORDER BY id LIMIT ${limit})`, [
      new Date(Date.now() - retainPublishedMs),
    ]);

  /** Waits for a NOTIFY or `ms`; true when woken. */
  const pause = (ms: number) =>
    new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        wake = undefined;
        resolve(false);
      }, ms);
      wake = () => {
        clearTimeout(timer);
        wake = undefined;
        resolve(true);
      };
    });

  const run = async () => {
    let failures = 0;
    while (running) {
      pendingWake = false;
      try {
        const sent = await drain();
        if (sent > 0) logger.debug({ sent }, 'outbox relayed');
        failures = 0;
        if (!pendingWake && unmarked.length > 0 && !(await pause(MARK_DELAY_MS)) && running) await markSent();
      } catch (error) {
        failures++;
        logger.warn({ err: error, failures }, 'outbox relay failed; will retry');
      }
      if (!running) break;
      if (pendingWake && failures === 0) continue;
      const delay = failures > 0 ? Math.min(pollIntervalMs * 2 ** Math.min(failures, 5), 10_000) : pollIntervalMs;
      await pause(delay);
    }
  };

  return {
    async start() {
      if (running) return;
      running = true;
      unlisten = await db
        .listen(`outbox_${db.schema}`, () => {
          pendingWake = true;
          wake?.();
        })
        .catch((error: unknown) => {
          logger.warn({ err: error }, 'outbox LISTEN unavailable; polling only');
          return undefined;
        });
      loop = run();
      stopPruning = every(pruneIntervalMs, logger, 'outbox prune', async () => {
        const deleted = await prune();
        if (deleted > 0) logger.info({ deleted }, 'published outbox rows past their retention deleted');
      })();
    },
    flush,
    prune,
    async stop() {
      await stopPruning?.();
      running = false;
      wake?.();
      await loop;
      await unlisten?.();
      // What was committed meanwhile goes out now, then the lock is given up.
      await flush().catch((error: unknown) => logger.warn({ err: error }, 'final outbox flush failed; rows stay pending'));
      await endSession();
    },
  };
}
