import { EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { Db } from '../db/types';
import { migrate } from '../db/migrate';
import { deleteInBatches } from '../db/prune';
import { every } from '../background';
import type { Logger } from '../logger';
import type { Metrics } from '../metrics';
import {
  DEAD_LETTER_HEADERS,
  deadLetterTopic,
  type EventBus,
  type IncomingMessage,
  type OutgoingMessage,
  type SubscribeOptions,
  type Subscription,
} from './types';

const MIGRATIONS = fileURLToPath(new URL('./in-process-migrations', import.meta.url));

export interface InProcessBusOptions {
  /** Where the log lives: its own schema (`bus`) of the embedded database. */
  db: Db;
  logger: Logger;
  metrics?: Metrics;
  /** Partitions per topic: the unit of ordering and of parallelism. Default 4. */
  partitions?: number;
  /**
   * Safety-net poll when no publish signal arrives. Default 60 s. Every publish goes through this
   * bus and signals the loops it wrote to, so the poll only guards against a missed signal; at 5 s
   * the ~100 idle partition loops of `npm start` read the log 20 times a second.
   */
  idlePollMs?: number;
  /** Rows fetched per partition per round. Default 100. */
  fetchSize?: number;
  /** Messages given to a subscription's batchHandler at once (one transaction). Default 20. */
  batchSize?: number;
  /** How long the log keeps a message, like a Kafka topic's retention.ms. Default 7 days. */
  retentionMs?: number;
  /** How often messages past the retention are deleted. Default 10 minutes. */
  pruneIntervalMs?: number;
}

interface LogRow {
  id: number;
  key: string;
  /** Null: a message for other groups, which a routed subscription skips (only its id is read). */
  value: string | null;
  headers: Record<string, string> | null;
}

/** A message of the log that the subscription handles. */
type MineRow = LogRow & { value: string; headers: Record<string, string> };
const isMine = (row: LogRow): row is MineRow => row.value !== null;

/** Of a routed group (`$n`), only the messages for it: those naming it, and those naming no one (NULL, from before routing). */
const FOR_GROUP = (param: string) => `(${param}::text IS NULL OR deliver_to IS NULL OR ${param} = ANY(deliver_to))`;

/** The in-process bus, with the operations staff and tests use besides the EventBus contract. */
export interface InProcessBus extends EventBus {
  migrate(): Promise<void>;
  /**
   * Forgets the offsets of `groups` (default: every group) so their subscriptions receive every
   * message of their topics again, from the beginning; wakes them. Resolves with how many
   * messages the live subscriptions of those groups will receive again.
   */
  replay(options?: { groups?: readonly string[] }): Promise<number>;
  /** Messages on their topics that live subscriptions have not finished yet (0 = caught up). */
  pending(): Promise<number>;
  /** Deletes messages older than the retention (read or not, as Kafka does); resolves with how many. */
  prune(): Promise<number>;
}

/** FNV-1a: a stable hash so one key always maps to one partition. */
export function partitionFor(key: string, partitions: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % partitions;
}

/**
 * The embedded event bus: a durable, partitioned log in the embedded database with an offset
 * per consumer group and partition. Same guarantees as the Kafka adapter — at least once,
 * order per key, independent consumer groups, bounded retries then a dead-letter topic —
 * and messages survive a restart, because nothing lives only in memory.
 * Within a group the oldest live subscription owns every partition; the others stand by.
 * It routes as the Kafka adapter does (ADR 0013): a `routed` subscription is handed, and woken
 * by, only the messages published for its group; it steps over the others without reading them.
 */
export function createInProcessBus(options: InProcessBusOptions): InProcessBus {
  const { db, logger } = options;
  const partitions = options.partitions ?? 4;
  const idlePollMs = options.idlePollMs ?? 60_000;
  const fetchSize = options.fetchSize ?? 100;
  const batchSize = Math.max(1, options.batchSize ?? 20);
  const signals = new EventEmitter();
  /** Publishes per topic so far: a consumer that found nothing checks it did not miss one meanwhile. */
  const publishedCount = new Map<string, number>();
  signals.setMaxListeners(0);
  const groups = new Map<string, InternalSubscription[]>();
  /** The routed groups reading each topic: woken by a message that names no groups (it is for all). */
  const routedGroups = new Map<string, Set<string>>();
  const subscriptions = new Set<InternalSubscription>();
  /** Bumped by replay(): a partition loop that sees a new value reloads its offset. */
  const generations = new Map<string, number>();
  let closed = false;
  const retentionMs = options.retentionMs ?? 7 * 24 * 60 * 60_000;
  const prune = (): Promise<number> =>
    deleteInBatches(db, (limit) => `DELETE FROM messages WHERE id IN (SELECT id FROM messages WHERE created_at < $1 ORDER BY id LIMIT ${limit})`, [
      new Date(Date.now() - retentionMs),
    ]);
  const stopPruning = every(options.pruneIntervalMs ?? 10 * 60_000, logger, 'bus prune', async () => {
    const deleted = await prune();
    if (deleted > 0) logger.info({ deleted }, 'bus messages past their retention deleted');
  })();

  interface InternalSubscription extends Subscription {
    stopped: boolean;
    topics: readonly string[];
    /** Set when routed: the group whose messages alone it handles. */
    routedGroup?: string;
  }

  const publish = async (messages: readonly OutgoingMessage[]) => {
    if (closed) throw new Error('event bus is closed');
    if (messages.length === 0) return;
    const values: unknown[] = [];
    const rows = messages.map((m, i) => {
      values.push(m.topic, partitionFor(m.key, partitions), m.key, m.value, JSON.stringify(m.headers ?? {}), m.deliverTo ? [...m.deliverTo] : null);
      const p = i * 6;
      return `($${p + 1}, $${p + 2}, $${p + 3}, $${p + 4}, $${p + 5}::jsonb, $${p + 6}::text[])`;
    });
    await db.query(`INSERT INTO messages (topic, partition, key, value, headers, deliver_to) VALUES ${rows.join(', ')}`, values);
    // Wake only the loops of the partitions that got messages, not every loop of the topic, and of
    // the routed groups only those the messages are for.
    const channels = new Set<string>();
    for (const m of messages) {
      const partition = partitionFor(m.key, partitions);
      channels.add(channelOf(m.topic, partition));
      for (const group of m.deliverTo ?? routedGroups.get(m.topic) ?? []) channels.add(channelOf(m.topic, partition, group));
    }
    for (const channel of channels) {
      publishedCount.set(channel, (publishedCount.get(channel) ?? 0) + 1);
      signals.emit(channel);
    }
  };

  /** Where a partition's loop waits: for every message, or (routed) for its group's only. */
  const channelOf = (topic: string, partition: number, routedGroup?: string) => (routedGroup === undefined ? `${topic}#${partition}` : `${topic}#${partition}@${routedGroup}`);
  /** Wakes every partition loop of `topic` read by `group` (replay). */
  const wakeTopic = (topic: string, group: string) => {
    for (let p = 0; p < partitions; p++) {
      signals.emit(channelOf(topic, p));
      signals.emit(channelOf(topic, p, group));
    }
  };

  /**
   * Waits for `topic`'s signal, the subscription's stop, or `ms`. A stop or a replay (`changed`) that
   * was signalled while the loop was busy reading is not waited out: the loop goes on at once.
   */
  const waitForSignal = (topic: string, sub: InternalSubscription, ms: number, changed: () => boolean = () => false) =>
    new Promise<void>((resolve) => {
      if (sub.stopped || changed()) return resolve();
      const done = () => {
        clearTimeout(timer);
        signals.off(topic, done);
        signals.off(`stop:${sub.group}`, done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signals.once(topic, done);
      signals.once(`stop:${sub.group}`, done);
    });

  const sleep = (ms: number, sub: InternalSubscription) => waitForSignal(`retry:${Math.random()}`, sub, ms);

  const isOwner = (sub: InternalSubscription) => groups.get(sub.group)?.[0] === sub;

  const consumePartition = async (sub: InternalSubscription, opts: SubscribeOptions, topic: string, partition: number) => {
    const maxAttempts = opts.maxAttempts ?? 5;
    const backoff = opts.retryBackoffMs ?? 100;
    let lastId: number | undefined;
    let generation = generations.get(opts.group) ?? 0;
    const replayed = () => (generations.get(opts.group) ?? 0) !== generation;
    while (!sub.stopped) {
      if (replayed()) {
        generation = generations.get(opts.group) ?? 0;
        lastId = undefined;
      }
      if (!isOwner(sub)) {
        lastId = undefined;
        await waitForSignal(`owner:${sub.group}`, sub, idlePollMs);
        continue;
      }
      try {
        if (lastId === undefined) {
          const found = await db.query<{ last_id: number }>(
            'SELECT last_id FROM consumer_offsets WHERE group_id = $1 AND topic = $2 AND partition = $3',
            [opts.group, topic, partition],
          );
          lastId = found.rows[0]?.last_id ?? 0;
        }
        const channel = channelOf(topic, partition, sub.routedGroup);
        const seen = publishedCount.get(channel) ?? 0;
        // Routed: the other groups' messages come back as bare ids, skipped but counted past.
        const { rows } = await db.query<LogRow>(
          `SELECT id, key, CASE WHEN ${FOR_GROUP('$5')} THEN value END AS value, CASE WHEN ${FOR_GROUP('$5')} THEN headers END AS headers
             FROM messages WHERE topic = $1 AND partition = $2 AND id > $3 ORDER BY id LIMIT $4`,
          [topic, partition, lastId, fetchSize, sub.routedGroup ?? null],
        );
        const mine = rows.filter(isMine);
        if (rows.length === 0) {
          if ((publishedCount.get(channel) ?? 0) === seen) await waitForSignal(channel, sub, idlePollMs, replayed);
          continue;
        }
        // The offset is stored once per fetched batch (at least once: a crash redelivers the rest
        // of the batch, which the inbox skips), not once per message.
        let done: number | undefined;
        try {
          rows: for (let start = 0; start < mine.length; start += batchSize) {
            const run = mine.slice(start, start + batchSize);
            if (opts.batchHandler && run.length > 1) {
              if (sub.stopped || !isOwner(sub)) break;
              try {
                await opts.batchHandler(run.map((row) => ({ topic, partition, key: row.key, value: row.value, headers: row.headers, offset: String(row.id), attempt: 1 })));
                if (replayed()) break;
                done = run[run.length - 1]!.id;
                continue;
              } catch (error) {
                if (sub.stopped) break;
                // One message at a time below: a poison message is retried and parked on its own.
                logger.info({ group: opts.group, topic, partition, messages: run.length, err: error }, 'batch failed; handling its messages one at a time');
              }
            }
            for (const row of run) {
              if (sub.stopped || !isOwner(sub)) break rows;
              // A handler that failed while the subscription was stopping leaves its message uncommitted.
              if (!(await deliver(sub, opts, topic, partition, row, maxAttempts, backoff))) break rows;
              // Offsets were reset meanwhile: keep the reset, start over from it.
              if (replayed()) break rows;
              done = row.id;
            }
          }
          // Every message of ours is done: the others' messages after it are passed too.
          if (done === mine[mine.length - 1]?.id && !replayed()) done = rows[rows.length - 1]!.id;
        } finally {
          if (done !== undefined && !replayed()) {
            await db.query(
              `INSERT INTO consumer_offsets (group_id, topic, partition, last_id) VALUES ($1, $2, $3, $4)
               ON CONFLICT (group_id, topic, partition) DO UPDATE SET last_id = EXCLUDED.last_id`,
              [opts.group, topic, partition, done],
            );
            lastId = done;
          }
        }
        // The whole short batch is done and nothing was published here since it was read: the
        // partition is caught up, so wait for the next signal instead of reading it again.
        if (rows.length < fetchSize && done === rows[rows.length - 1]!.id && (publishedCount.get(channel) ?? 0) === seen && !sub.stopped) {
          await waitForSignal(channel, sub, idlePollMs, replayed);
        }
      } catch (error) {
        // The log itself failed (database unavailable): wait and try again from the stored offset.
        logger.warn({ err: error, group: opts.group, topic, partition }, 'in-process bus fetch failed; retrying');
        lastId = undefined;
        await sleep(1000, sub);
      }
    }
  };

  const deliver = async (
    sub: InternalSubscription,
    opts: SubscribeOptions,
    topic: string,
    partition: number,
    row: MineRow,
    maxAttempts: number,
    backoff: number,
  ): Promise<boolean> => {
    let lastError: unknown;
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      const message: IncomingMessage = { topic, partition, key: row.key, value: row.value, headers: row.headers, offset: String(row.id), attempt };
      try {
        await opts.handler(message);
        return true;
      } catch (error) {
        lastError = error;
        if (sub.stopped) return false;
        if (attempt < maxAttempts) await sleep(Math.min(backoff * 2 ** (attempt - 1), 5000), sub);
      }
    }
    const reason = lastError instanceof Error ? lastError.message : String(lastError);
    logger.error(
      { group: opts.group, topic, partition, offset: row.id, key: row.key, attempts: maxAttempts, err: lastError },
      'event parked on dead-letter topic after exhausting retries',
    );
    (opts.metrics ?? options.metrics)?.eventsDeadLettered.inc({ group: opts.group, topic });
    await publish([
      {
        topic: deadLetterTopic(topic),
        key: row.key,
        value: row.value,
        headers: {
          ...row.headers,
          [DEAD_LETTER_HEADERS.originalTopic]: topic,
          [DEAD_LETTER_HEADERS.originalPartition]: String(partition),
          [DEAD_LETTER_HEADERS.originalOffset]: String(row.id),
          [DEAD_LETTER_HEADERS.group]: opts.group,
          [DEAD_LETTER_HEADERS.error]: reason.slice(0, 1000),
          [DEAD_LETTER_HEADERS.attempts]: String(maxAttempts),
        },
      },
    ]);
    return true;
  };

  return {
    kind: 'in-process',
    async migrate() {
      await migrate(db, MIGRATIONS, { platform: false });
    },
    publish,
    async subscribe(opts) {
      if (closed) throw new Error('event bus is closed');
      const sub: InternalSubscription = {
        group: opts.group,
        stopped: false,
        topics: opts.topics,
        ...(opts.routed ? { routedGroup: opts.group } : {}),
        stop: async () => {
          sub.stopped = true;
          const members = groups.get(opts.group) ?? [];
          groups.set(opts.group, members.filter((m) => m !== sub));
          subscriptions.delete(sub);
          signals.emit(`stop:${opts.group}`);
          signals.emit(`owner:${opts.group}`);
          await Promise.all(loops);
        },
      };
      groups.set(opts.group, [...(groups.get(opts.group) ?? []), sub]);
      subscriptions.add(sub);
      if (opts.routed) for (const topic of opts.topics) routedGroups.set(topic, (routedGroups.get(topic) ?? new Set()).add(opts.group));
      const loops: Promise<void>[] = [];
      for (const topic of opts.topics) {
        for (let p = 0; p < partitions; p++) loops.push(consumePartition(sub, opts, topic, p));
      }
      return { group: sub.group, stop: sub.stop };
    },
    async replay(replayOptions = {}) {
      const chosen = replayOptions.groups ? new Set(replayOptions.groups) : undefined;
      const live = [...groups].filter(([group, members]) => members.length > 0 && (!chosen || chosen.has(group)));
      for (const group of chosen ?? groups.keys()) generations.set(group, (generations.get(group) ?? 0) + 1);
      if (chosen) await db.query('DELETE FROM consumer_offsets WHERE group_id = ANY($1)', [[...chosen]]);
      else await db.query('DELETE FROM consumer_offsets');
      let redelivered = 0;
      for (const [group, members] of live) {
        const { rows } = await db.query<{ n: number }>(`SELECT count(*) AS n FROM messages WHERE topic = ANY($1) AND ${FOR_GROUP('$2')}`, [
          [...members[0]!.topics],
          members[0]!.routedGroup ?? null,
        ]);
        redelivered += Number(rows[0]?.n ?? 0);
        for (const topic of members[0]!.topics) wakeTopic(topic, group);
      }
      logger.warn({ groups: live.map(([group]) => group), redelivered }, 'consumer offsets reset: replaying topics from the beginning');
      return redelivered;
    },
    async pending() {
      let total = 0;
      for (const [group, members] of groups) {
        if (members.length === 0) continue;
        const { rows } = await db.query<{ n: number }>(
          `SELECT count(*) AS n FROM messages m
             LEFT JOIN consumer_offsets o ON o.group_id = $1 AND o.topic = m.topic AND o.partition = m.partition
           WHERE m.topic = ANY($2) AND m.id > COALESCE(o.last_id, 0) AND ${FOR_GROUP('$3')}`,
          [group, [...members[0]!.topics], members[0]!.routedGroup ?? null],
        );
        total += Number(rows[0]?.n ?? 0);
      }
      return total;
    },
    prune,
    async retention() {
      // The oldest message of the whole log: for any topic, nothing older is left (ids follow time).
      const { rows } = await db.query<{ created_at: Date | string }>('SELECT created_at FROM messages ORDER BY id LIMIT 1');
      return rows[0] ? Math.max(0, Date.now() - new Date(rows[0].created_at).getTime()) : 0;
    },
    async isReady() {
      return !closed && (await db.isReady());
    },
    async close() {
      closed = true;
      await stopPruning();
      await Promise.all([...subscriptions].map((s) => s.stop()));
    },
  };
}
