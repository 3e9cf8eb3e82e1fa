import { deferWrite, type Sql } from './db/types';
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
  /**
   * Adds a write; `sql` places each value with `$`, which numbers the parameters. Returns the
   * name the select can read its RETURNING rows by (`SELECT count(*) FROM w0`).
   */
  write(sql: ($: Param) => string): string;
  /** Adds the outbox rows of `events` (validated as writeOutbox does). */
  outbox(events: readonly PendingEvent[], context: EventContext): void;
  /** Runs the chain, ending with `select` (default `SELECT 1`), and resolves to its rows; nothing when it is empty and has no select. */
  run<R = unknown>(tx: Sql, select?: ($: Param) => string): Promise<R[]>;
  /**
   * The same as a write whose answer is not needed (`Sql.defer`): in a PostgreSQL transaction it may
   * travel with the next statement or the COMMIT, and a failure fails the transaction there.
   */
  defer(tx: Sql, select?: ($: Param) => string): Promise<void>;
}

export function writeChain(): WriteChain {
  const values: unknown[] = [];
  const writes: string[] = [];
  const $: Param = (value) => {
    values.push(value);
    return `$${values.length}`;
  };
  const statement = (select?: ($: Param) => string): string | undefined => {
    if (writes.length === 0 && !select) return undefined;
    const tail = select ? select($) : 'SELECT 1';
    return writes.length === 0 ? tail : `WITH ${writes.map((w, i) => `w${i} AS (${w})`).join(', ')} ${tail}`;
  };
  return {
    write(sql) {
      writes.push(sql($));
      return `w${writes.length - 1}`;
    },
    outbox(events, context) {
      const insert = outboxInsert(events, context, values.length + 1);
      if (!insert) return;
      values.push(...insert.values);
      writes.push(insert.text);
    },
    async run<R>(tx: Sql, select?: ($: Param) => string): Promise<R[]> {
      const text = statement(select);
      return text === undefined ? [] : (await tx.query<R>(text, values)).rows;
    },
    async defer(tx, select) {
      const text = statement(select);
      if (text !== undefined) await deferWrite(tx, text, values);
    },
  };
}
