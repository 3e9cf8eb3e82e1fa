import type { Db, Sql } from './db/types';

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
