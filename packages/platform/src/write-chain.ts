import type { Sql } from './db/types';
import { outboxInsert, type EventContext, type PendingEvent } from './outbox';

type Param = (value: unknown) => string;

/**
 * Several writes of one transaction sent as one statement — `WITH w0 AS (INSERT …), w1 AS
 * (UPDATE …) SELECT …` — so they cost one round trip instead of one each. PostgreSQL runs every
 * data-modifying WITH part exactly once, read or not, all on the same snapshot: use it for writes
 * that do not depend on each other's effects (different rows, or a child row of a parent inserted
 * alongside: foreign keys are checked at the end of the statement). Statement triggers fire as usual.
 */
export interface WriteChain {
  /** Adds a write; `sql` places each value with `$`, which numbers the parameters. */
  write(sql: ($: Param) => string): void;
  /** Adds the outbox rows of `events` (validated as writeOutbox does). */
  outbox(events: readonly PendingEvent[], context: EventContext): void;
  /** Runs the chain, ending with `select` (default `SELECT 1`); nothing when it is empty and has no select. */
  run(tx: Sql, select?: ($: Param) => string): Promise<void>;
}

export function writeChain(): WriteChain {
  const values: unknown[] = [];
  const writes: string[] = [];
  const $: Param = (value) => {
    values.push(value);
    return `$${values.length}`;
  };
  return {
    write(sql) {
      writes.push(sql($));
    },
    outbox(events, context) {
      const insert = outboxInsert(events, context, values.length + 1);
      if (!insert) return;
      values.push(...insert.values);
      writes.push(insert.text);
    },
    async run(tx, select) {
      if (writes.length === 0 && !select) return;
      const tail = select ? select($) : 'SELECT 1';
      const text = writes.length === 0 ? tail : `WITH ${writes.map((w, i) => `w${i} AS (${w})`).join(', ')} ${tail}`;
      await tx.query(text, values);
    },
  };
}
