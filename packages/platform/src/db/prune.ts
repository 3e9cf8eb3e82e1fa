import type { Sql } from './types';

/** Rows one pruning statement deletes at most: short transactions, little lock time. */
export const PRUNE_BATCH = 1000;

/**
 * Deletes in batches until a batch comes back short: `batchSql(limit)` is one
 * `DELETE … WHERE <key> IN (SELECT <key> … LIMIT limit)` statement. Resolves to the rows deleted.
 */
export async function deleteInBatches(sql: Sql, batchSql: (limit: number) => string, params: unknown[]): Promise<number> {
  let total = 0;
  for (;;) {
    const { rowCount } = await sql.query(batchSql(PRUNE_BATCH), params);
    total += rowCount;
    if (rowCount < PRUNE_BATCH) return total;
  }
}
