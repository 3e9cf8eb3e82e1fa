import { deferWrite, type Db, type Sql } from './db/types';
import { deleteInBatches } from './db/prune';

/** One event to mark handled: its id and type. */
export interface InboxEntry {
  id: string;
  type: string;
}

const MARK_SQL = 'INSERT INTO inbox (consumer, event_id, type) SELECT $1, id, type FROM unnest($2::uuid[], $3::text[]) AS fresh(id, type)';

/**
 * Marks `entries` handled by `consumer` in `tx`, assuming none of them was: the mark is a deferred
 * write, so on PostgreSQL it travels with the effect's first statement (or the COMMIT) instead of
 * costing a round trip of its own before the effect can start. An event handled before makes it
 * fail on the inbox's primary key, and with it the whole transaction, effect included; the caller
 * then asks `handledBefore` which entries those were. Duplicates are rare (a relay or consumer
 * that crashed between sending and recording, a replay), so the usual path pays nothing for them.
 * Entries must be distinct.
 */
export const markHandled = (tx: Sql, consumer: string, entries: readonly InboxEntry[]): Promise<void> =>
  deferWrite(tx, MARK_SQL, [consumer, entries.map((e) => e.id), entries.map((e) => e.type)]);

/**
 * The ids among `ids` that `consumer` has already handled (committed inbox rows). Asked after a
 * transaction with `markHandled` failed: an empty set means the failure was the effect's own.
 * Resolves to the empty set when the database cannot answer, so the caller's error stands.
 */
export async function handledBefore(db: Sql, consumer: string, ids: readonly string[]): Promise<Set<string>> {
  try {
    const { rows } = await db.query<{ event_id: string }>('SELECT event_id FROM inbox WHERE consumer = $1 AND event_id = ANY($2::uuid[])', [consumer, ids]);
    return new Set(rows.map((r) => r.event_id));
  } catch {
    return new Set();
  }
}

/**
 * Runs `effect` at most once per (consumer, event id): the inbox row and the effect commit in
 * one transaction, so a redelivered event finds its row and is skipped (its effect, begun on the
 * assumption that the event is new, is rolled back: see `markHandled`).
 * Resolves to false when the event had already been handled.
 */
export async function handleOnce(
  db: Db,
  consumer: string,
  eventId: string,
  type: string,
  effect: (tx: Sql) => Promise<void>,
): Promise<boolean> {
  try {
    await db.transaction(async (tx) => {
      await markHandled(tx, consumer, [{ id: eventId, type }]);
      await effect(tx);
    });
    return true;
  } catch (error) {
    if ((await handledBefore(db, consumer, [eventId])).size > 0) return false;
    throw error;
  }
}

/**
 * How much longer than the bus's retention an inbox row is kept: covers the bus's own pruning
 * schedule and clock differences between the broker and the database.
 */
export const INBOX_MARGIN_MS = 24 * 60 * 60_000;

/**
 * Deletes inbox rows of events handled before `before`, oldest first, a batch at a time. Only
 * safe for events the bus can no longer deliver again: see `inboxCutoff`.
 */
export function pruneInbox(db: Sql, before: Date): Promise<number> {
  return deleteInBatches(
    db,
    (limit) => `DELETE FROM inbox WHERE (consumer, event_id) IN (SELECT consumer, event_id FROM inbox WHERE handled_at < $1 ORDER BY handled_at LIMIT ${limit})`,
    [before],
  );
}

/**
 * The time before which inbox rows can go: an event still on the bus was published less than
 * `retentionMs` ago (so it was handled less than that ago, or is yet to be), and a row is kept
 * INBOX_MARGIN_MS longer still. Undefined when the bus keeps events without limit: keep every row.
 */
export function inboxCutoff(retentionMs: number | null, now = Date.now()): Date | undefined {
  return retentionMs === null ? undefined : new Date(now - retentionMs - INBOX_MARGIN_MS);
}
