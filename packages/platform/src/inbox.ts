import type { Db, Sql } from './db/types';
import { deleteInBatches } from './db/prune';

/**
 * Runs `effect` at most once per (consumer, event id): the inbox row and the effect commit in
 * one transaction, so a redelivered event finds its row and is skipped.
 * Resolves to false when the event had already been handled.
 */
export async function handleOnce(
  db: Db,
  consumer: string,
  eventId: string,
  type: string,
  effect: (tx: Sql) => Promise<void>,
): Promise<boolean> {
  return db.transaction(async (tx) => {
    const inserted = await tx.query(
      'INSERT INTO inbox (consumer, event_id, type) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
      [consumer, eventId, type],
    );
    if (inserted.rowCount === 0) return false;
    await effect(tx);
    return true;
  });
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
