/** The SQL surface every store uses: the same text and parameters on PostgreSQL and PGlite. */
export interface QueryResult<T> {
  rows: T[];
  rowCount: number;
}

export interface Sql {
  query<T = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<QueryResult<T>>;
  /**
   * A write of a transaction whose answer the caller does not need. A PostgreSQL transaction may
   * hold it back and send it with its next statement or with its COMMIT, in the same round trip
   * (ADR 0012 amendment). It still runs in order, before any later statement, and if it fails, the
   * transaction fails: at that next statement or at the commit, not here. Elsewhere it runs at
   * once. Use `deferWrite(sql, …)`, which falls back to `query` where there is no `defer`.
   */
  defer?(text: string, params?: readonly unknown[]): Promise<void>;
}

/** Runs a write whose answer is not needed, deferred where `sql` can (see `Sql.defer`). */
export const deferWrite = (sql: Sql, text: string, params?: readonly unknown[]): Promise<void> =>
  sql.defer ? sql.defer(text, params) : sql.query(text, params).then(() => undefined);

/** One connection held for as long as the caller needs it, outside any transaction. */
export interface DbSession extends Sql {
  /** Gives the connection up (ending it, so its session-level locks are released). */
  close(): Promise<void>;
}

export interface Db extends Sql {
  readonly dialect: 'postgres' | 'pglite';
  /** The schema every unqualified name resolves to (one per service). */
  readonly schema: string;
  /** Runs `work` in one transaction: commits when it resolves, rolls back when it throws. */
  transaction<T>(work: (tx: Sql) => Promise<T>): Promise<T>;
  /**
   * PostgreSQL only: a pooled connection of its own, held outside any transaction, for work that
   * needs a session-level lock (the outbox relay's leadership). PGlite is one process: not needed.
   */
  openSession?(): Promise<DbSession>;
  /**
   * The same database (and pool) with statements and transactions whose commits return before
   * their WAL reaches disk (`synchronous_commit = off` for that transaction only). A crash of PostgreSQL itself (not of the service, not a clean
   * restart) may lose what they committed in the last fraction of a second: whole transactions,
   * never part of one, and never one that a later ordinary commit read from (that commit flushes
   * the WAL before it). Only for writes that nobody else must hear about and whose owner would
   * simply make them again (a shopper's cart edits): never for a transaction with an outbox row,
   * an inbox mark, money or stock. Closed with this one. PGlite answers with itself.
   */
  asynchronousCommit(): Db;
  /** Calls `onNotify` for each NOTIFY on `channel`; resolves to an unlisten function. */
  listen(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>>;
  isReady(): Promise<boolean>;
  close(): Promise<void>;
}

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/** Schema names are interpolated into SQL, so only plain lower-case identifiers are allowed. */
export function assertIdentifier(name: string): string {
  if (!IDENTIFIER.test(name)) throw new Error(`"${name}" is not a valid schema identifier (a-z, 0-9, _)`);
  return name;
}

/** 64-bit integers come back as numbers on both engines (ids and counts stay far below 2^53). */
export const INT8_OID = 20;
export const parseInt8 = (value: string): number => Number(value);
