import { EVENTS, deliveriesOf, isEventType, makeEnvelope, topicOf, type EventData, type EventEnvelope, type EventType } from '@emporium/contracts';
import { createVacuumSchedule } from './db/vacuum';
import { deferWrite, type Db, type DbSession, type Sql } from './db/types';
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
  // Nothing reads the rows back: in a PostgreSQL transaction they travel with its next statement or its COMMIT.
  if (insert) await deferWrite(tx, insert.text, insert.values);
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
  /** The leading relay vacuums the outbox once it has deleted this many rows since the last time. Default 1,000. */
  vacuumAfterRows?: number;
  /** …or, if it deleted any, once this long has passed. Default 60 s. */
  vacuumIntervalMs?: number;
}

export interface OutboxRelay {
  start(): Promise<void>;
  /** Publishes whatever is pending now; resolves with how many were sent. */
  flush(): Promise<number>;
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

/**
 * How long a sent batch may wait for the next read to delete it before a statement of its own does.
 * At 50 ms, a relay woken every 50–100 ms (inventory, payments, shipping at 10 checkouts/s) spent a
 * round trip on nearly every batch: 2.8 statements a checkout. Waiting costs nothing: the rows are
 * skipped by the reads meanwhile, and a crash sends them again (at least once, as ever).
 */
const MARK_DELAY_MS = 1_000;

/**
 * Moves committed outbox rows to the bus, oldest first: reads a batch, publishes it, then deletes it
 * (with the next read), each statement on its own — no transaction is held open while the bus answers.
 * A row is deleted only after the bus accepted it: a crash in between sends it again (at least
 * once), never loses it. What was sent is not kept: the broker keeps the events, and a table of
 * sent rows made every read walk them (see `vacuum`). On PostgreSQL one relay per database is active, so order per key holds
 * even with several instances: the one holding a session-level advisory lock on its own pooled
 * connection (released when that connection ends, e.g. when its process dies; the others try again
 * on each wake-up). PGlite is one process, so one relay per schema is given.
 */
export function createOutboxRelay(options: OutboxRelayOptions): OutboxRelay {
  const { db, bus, logger } = options;
  const batchSize = options.batchSize ?? 200;
  const pollIntervalMs = options.pollIntervalMs ?? 1000;
  const vacuumSchedule = createVacuumSchedule({ afterRows: options.vacuumAfterRows ?? 1_000, intervalMs: options.vacuumIntervalMs ?? 60_000 });
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
        // A row of a type this version does not know (written by a newer one) goes to every reader of its topic.
        ...(isEventType(r.type) ? { deliverTo: deliveriesOf(r.type, r.payload.data as never) } : {}),
      })),
    );
    for (const r of rows) options.metrics?.eventsPublished.inc({ topic: r.topic });
  };

  // A sent batch is deleted by the next read's statement (or after MARK_DELAY_MS without one), not
  // by a statement of its own: under load the relay wakes again within milliseconds, so it costs no
  // round trip. The read skips what it is deleting (its snapshot predates the delete). A crash
  // before the delete sends those rows again: at least once, as before.
  const markSql = 'DELETE FROM outbox WHERE id = ANY($1::bigint[])';
  const selectSql = `WITH sent AS (${markSql})
    SELECT id, topic, key, type, payload FROM outbox WHERE id <> ALL($1::bigint[]) ORDER BY id LIMIT ${batchSize}`;
  /** Sent, not yet deleted. */
  let unmarked: number[] = [];

  const endSession = async () => {
    const ending = session;
    session = undefined;
    leading = false;
    await ending?.close().catch(() => undefined);
  };

  /**
   * The relay's own connection. All it writes is the deletion of rows it has sent: if a crash of
   * PostgreSQL loses the last of those, the rows are sent again (at least once, as ever), so its
   * commits do not wait for the WAL flush. The setting ends with the connection, which is destroyed,
   * not returned to the pool.
   */
  const openSession = async (): Promise<DbSession> => {
    const opened = await db.openSession!();
    try {
      await opened.query('SET synchronous_commit = off');
      return opened;
    } catch (error) {
      await opened.close();
      throw error;
    }
  };

  /** The connection to relay on, or undefined while another instance leads. */
  const lead = async (): Promise<Sql | undefined> => {
    if (!db.openSession) return db;
    session ??= await openSession();
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
    vacuumSchedule.deleted(marking.length);
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
    if (!done) return;
    vacuumSchedule.deleted(marking.length);
    if (unmarked === marking) unmarked = [];
  };

  /**
   * The leading relay vacuums its own outbox (see createVacuumSchedule): its read walked every sent
   * row (2.3 ms a read after 900 checkouts, growing with every event ever sent).
   */
  const vacuum = (): Promise<void> => vacuumSchedule.run(async () => (await onLead((sql) => sql.query('VACUUM outbox'))) !== undefined);

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
        await vacuum();
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
    },
    flush,
    async stop() {
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
