import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { DEAD_LETTER_HEADERS, deadLetterTopic, type EventBus, type IncomingMessage, type Subscription } from '../bus/types';
import type { EventOutcome } from '../consumer';
import type { Db } from '../db/types';
import { migrate } from '../db/migrate';
import { AppError, conflict, notFound } from '../errors';
import { problemResponses, type HttpApp } from '../http/server';
import type { Logger } from '../logger';

const MIGRATIONS = fileURLToPath(new URL('./migrations', import.meta.url));

/** Header on a message re-delivered by staff: the dead letter it came from. */
export const REPLAYED_FROM_HEADER = 'x-replayed-from-dead-letter';

export interface DeadLetterOpsOptions {
  db: Db;
  bus: EventBus;
  /** The consumer group whose parked events this service keeps (the service name). */
  group: string;
  /** Topics that group consumes; their `.dlq` topics are read. */
  topics: readonly string[];
  logger: Logger;
  /** The consumer's own path for one message (validation, inbox, effect). */
  redeliver: (message: IncomingMessage) => Promise<EventOutcome>;
}

export const DeadLetter = z
  .object({
    id: z.string(),
    status: z.enum(['parked', 'replayed']),
    topic: z.string(),
    partition: z.number().int(),
    offset: z.string(),
    key: z.string(),
    type: z.string().nullable(),
    eventId: z.string().nullable(),
    error: z.string(),
    attempts: z.number().int(),
    parkedAt: z.string(),
    replayedAt: z.string().nullable(),
    replayOutcome: z.string().nullable(),
    lastReplayError: z.string().nullable(),
    /** The message as parked (the event envelope, JSON). */
    value: z.string(),
  })
  .meta({ id: 'DeadLetter', description: 'An event this service gave up on after its retries, parked on the dead-letter topic' });
export type DeadLetter = z.infer<typeof DeadLetter>;

const ListQuery = z.object({ status: z.enum(['parked', 'replayed', 'all']).default('all') }).strict();
const IdParams = z.object({ id: z.string().regex(/^\d{1,15}$/, 'must be a dead-letter id') });
const ReplayBody = z
  .object({
    /** Corrected `data` for the envelope (same event id, so the inbox still sees one event). */
    data: z.unknown().optional(),
  })
  .strict()
  .nullish();

interface DeadLetterRow {
  id: number;
  topic: string;
  partition: number;
  original_offset: string;
  key: string;
  type: string | null;
  event_id: string | null;
  value: string;
  headers: Record<string, string>;
  error: string;
  attempts: number;
  parked_at: Date | string;
  replayed_at: Date | string | null;
  replay_outcome: string | null;
  last_replay_error: string | null;
}

const iso = (value: Date | string | null): string | null => (value === null ? null : new Date(value).toISOString());

const toView = (r: DeadLetterRow): DeadLetter => ({
  id: String(r.id),
  status: r.replayed_at ? 'replayed' : 'parked',
  topic: r.topic,
  partition: r.partition,
  offset: r.original_offset,
  key: r.key,
  type: r.type,
  eventId: r.event_id,
  error: r.error,
  attempts: r.attempts,
  parkedAt: iso(r.parked_at)!,
  replayedAt: iso(r.replayed_at),
  replayOutcome: r.replay_outcome,
  lastReplayError: r.last_replay_error,
  value: r.value,
});

const describe = (error: unknown): string => {
  const text = error instanceof Error ? error.message : String(error);
  return text.length > 1000 ? `${text.slice(0, 1000)}…` : text;
};

function envelopeFields(value: string): { type: string | null; id: string | null } {
  try {
    const parsed = JSON.parse(value) as { type?: unknown; id?: unknown };
    return { type: typeof parsed.type === 'string' ? parsed.type : null, id: typeof parsed.id === 'string' ? parsed.id : null };
  } catch {
    return { type: null, id: null };
  }
}

export interface DeadLetterOps {
  migrate(): Promise<void>;
  /** Starts recording this group's parked events from the dead-letter topics. */
  start(): Promise<void>;
  stop(): Promise<void>;
  list(status?: 'parked' | 'replayed' | 'all'): Promise<DeadLetter[]>;
  /** Re-delivers a parked event to this service's handler; 409 once it was replayed. */
  replay(id: string, fix?: { data?: unknown }): Promise<DeadLetter>;
  /** GET /ops/dead-letters and POST /ops/dead-letters/{id}/replay. */
  routes(app: HttpApp): void;
}

/**
 * Staff operations on parked events. Each service records, from `<topic>.dlq`, the events its
 * own consumer group parked (in its own database, so the list is cheap and survives restarts),
 * lists them, and replays one through the consumer's normal path: validation, inbox (so a
 * replay of an event handled meanwhile changes nothing), effect and follow-up events.
 */
export function createDeadLetterOps(options: DeadLetterOpsOptions): DeadLetterOps {
  const { db, bus, group, logger } = options;
  let recorder: Subscription | undefined;

  const record = async (message: IncomingMessage) => {
    const headers = message.headers;
    if (headers[DEAD_LETTER_HEADERS.group] !== group) return;
    const { [DEAD_LETTER_HEADERS.error]: error, [DEAD_LETTER_HEADERS.attempts]: attempts, ...rest } = headers;
    const fields = envelopeFields(message.value);
    const topic = headers[DEAD_LETTER_HEADERS.originalTopic] ?? message.topic.replace(/\.dlq$/, '');
    const inserted = await db.query(
      `INSERT INTO dead_letters (topic, partition, original_offset, key, type, event_id, value, headers, error, attempts)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10)
       ON CONFLICT (topic, partition, original_offset) DO NOTHING`,
      [
        topic,
        Number(headers[DEAD_LETTER_HEADERS.originalPartition] ?? message.partition),
        headers[DEAD_LETTER_HEADERS.originalOffset] ?? `dlq:${message.partition}:${message.offset}`,
        message.key,
        headers['event-type'] ?? fields.type,
        headers['event-id'] ?? fields.id,
        message.value,
        JSON.stringify(rest),
        error ?? 'unknown error',
        Number(attempts ?? 0),
      ],
    );
    if (inserted.rowCount > 0) logger.warn({ group, topic, key: message.key, eventId: headers['event-id'] ?? fields.id, error }, 'parked event recorded for staff');
  };

  const load = async (id: string) => (await db.query<DeadLetterRow>('SELECT * FROM dead_letters WHERE id = $1', [Number(id)])).rows[0];

  const ops: DeadLetterOps = {
    async migrate() {
      await migrate(db, MIGRATIONS, { platform: false });
    },

    async start() {
      if (recorder || options.topics.length === 0) return;
      recorder = await bus.subscribe({
        group: `${group}.dead-letters`,
        topics: options.topics.map(deadLetterTopic),
        // Parked events are rare: no group member (fetches, heartbeats) until there is one to record.
        wakeOnUnread: true,
        // Recording only fails while the database does: keep retrying rather than park a parked event.
        maxAttempts: 10_000,
        retryBackoffMs: 200,
        handler: record,
      });
    },

    async stop() {
      await recorder?.stop();
      recorder = undefined;
    },

    async list(status = 'all') {
      const where = status === 'parked' ? 'WHERE replayed_at IS NULL' : status === 'replayed' ? 'WHERE replayed_at IS NOT NULL' : '';
      const { rows } = await db.query<DeadLetterRow>(`SELECT * FROM dead_letters ${where} ORDER BY id LIMIT 500`);
      return rows.map(toView);
    },

    async replay(id, fix) {
      const row = await load(id);
      if (!row) throw notFound('OPS.DEAD_LETTER_NOT_FOUND', `There is no dead letter ${id} for ${group}.`);
      if (row.replayed_at) {
        throw conflict('OPS.ALREADY_REPLAYED', `Dead letter ${id} was already replayed at ${iso(row.replayed_at)} (${row.replay_outcome}).`);
      }
      let value = row.value;
      if (fix?.data !== undefined) {
        let envelope: Record<string, unknown>;
        try {
          envelope = JSON.parse(row.value) as Record<string, unknown>;
        } catch (error) {
          throw new AppError('OPS.NOT_AN_ENVELOPE', `Dead letter ${id} is not a JSON envelope; its data cannot be corrected.`, { status: 422, cause: error });
        }
        value = JSON.stringify({ ...envelope, data: fix.data });
      }
      const message: IncomingMessage = {
        topic: row.topic,
        partition: row.partition,
        offset: row.original_offset,
        key: row.key,
        value,
        headers: { ...row.headers, [REPLAYED_FROM_HEADER]: String(row.id) },
        attempt: row.attempts + 1,
      };
      let outcome: EventOutcome;
      try {
        outcome = await options.redeliver(message);
      } catch (error) {
        await db.query('UPDATE dead_letters SET last_replay_error = $2 WHERE id = $1', [row.id, describe(error)]);
        logger.warn({ err: error, group, deadLetter: row.id, eventId: row.event_id }, 'replay of a parked event failed; it stays parked');
        throw new AppError('OPS.REPLAY_FAILED', `Dead letter ${id} still fails and stays parked: ${describe(error)}`, { status: 422, cause: error });
      }
      // Handled first, marked after: a crash in between leaves it parked, and the next replay
      // finds the event in the inbox (outcome `duplicate`) instead of applying it twice.
      const marked = await db.query<DeadLetterRow>(
        `UPDATE dead_letters SET replayed_at = now(), replay_outcome = $2, replayed_value = $3, last_replay_error = NULL
         WHERE id = $1 AND replayed_at IS NULL RETURNING *`,
        [row.id, outcome, value === row.value ? null : value],
      );
      if (!marked.rows[0]) throw conflict('OPS.ALREADY_REPLAYED', `Dead letter ${id} was replayed meanwhile.`);
      logger.info({ group, deadLetter: row.id, eventId: row.event_id, outcome, corrected: value !== row.value }, 'parked event replayed');
      return toView(marked.rows[0]);
    },

    routes(app) {
      const DeadLetterList = z.object({ items: z.array(DeadLetter) });
      app.get('/ops/dead-letters', {
        schema: {
          tags: ['ops'],
          summary: `Events ${group} parked after exhausting retries (staff)`,
          querystring: ListQuery,
          response: { 200: DeadLetterList, ...problemResponses },
        },
      }, async (request) => ({ items: await ops.list(request.query.status) }));

      app.post('/ops/dead-letters/:id/replay', {
        schema: {
          tags: ['ops'],
          summary: `Re-deliver a parked event to ${group}, optionally with corrected data (staff)`,
          params: IdParams,
          body: ReplayBody,
          response: { 200: DeadLetter, ...problemResponses },
        },
      }, async (request) => ops.replay(request.params.id, request.body ?? undefined));
    },
  };
  return ops;
}
