import pg from 'pg';
import { AppError } from '../errors';
import type { Metrics } from '../metrics';
import { assertIdentifier, INT8_OID, parseInt8, type Db, type DbSession, type Sql } from './types';

const typeParsers = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID ? parseInt8 : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

export interface PostgresDbOptions {
  connectionString: string;
  schema: string;
  /** Pool size. Default 10. */
  max?: number;
  applicationName?: string;
  /** Where to record each connection checkout's wait and the pool's occupancy (`/metrics`). */
  metrics?: Pick<Metrics, 'dbPoolAcquire' | 'watchDbPool'>;
}

/**
 * Makes the transaction it runs in commit without waiting for the WAL flush (`Db.asynchronousCommit`);
 * the setting ends with that transaction, so the pooled connection goes back as it was.
 */
const WITHOUT_FLUSH: PipelinedStep = { text: "SELECT set_config('synchronous_commit', 'off', true)" };

const CONNECTION_LOST = /Connection terminated|ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|server closed the connection|Client has encountered a connection error/i;

/** True for failures of the connection to PostgreSQL, not of the statement: worth retrying later. */
export function isTransientDatabaseError(error: unknown): boolean {
  if (error instanceof AppError) return error.code === 'PLATFORM.DATABASE_BUSY' || error.code === 'PLATFORM.DATABASE_UNAVAILABLE';
  const e = error as { code?: string; message?: string } | undefined;
  const code = e?.code ?? '';
  return code.startsWith('08') || ['57P01', '57P02', '57P03', '53300', 'ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT'].includes(code) || CONNECTION_LOST.test(e?.message ?? '');
}

/**
 * PostgreSQL could not take the work now (every pooled connection busy past the wait, or the server
 * restarting or unreachable): a clear, retryable 503 rather than a 500.
 */
function unavailable(error: unknown): never {
  if (error instanceof Error && /timeout exceeded when trying to connect/i.test(error.message)) {
    throw new AppError('PLATFORM.DATABASE_BUSY', 'The service is busy; try again shortly.', { status: 503, cause: error, extensions: { retryAfterSeconds: 1 } });
  }
  if (isTransientDatabaseError(error)) {
    throw new AppError('PLATFORM.DATABASE_UNAVAILABLE', 'The service cannot reach its database right now; try again shortly.', { status: 503, cause: error, extensions: { retryAfterSeconds: 1 } });
  }
  throw error;
}

/** Distinct statement texts prepared by name; past this, statements go unnamed (text built with values inlined must not grow the cache). */
const MAX_PREPARED = 1000;

/**
 * Parameterized statements are prepared once per connection, named after their text: PostgreSQL
 * then parses and plans each kind of statement once per connection instead of on every call.
 * Statements without parameters (BEGIN, COMMIT, DDL, several statements in one text) go as they are.
 */
function preparedStatements() {
  const names = new Map<string, string>();
  return (text: string, params?: readonly unknown[]): pg.QueryConfig => {
    if (!params || params.length === 0) return { text };
    let name = names.get(text);
    if (!name && names.size < MAX_PREPARED) names.set(text, (name = `emporium_${names.size}`));
    return name ? { name, text, values: params as unknown[] } : { text, values: params as unknown[] };
  };
}

/** What PipelinedQuery uses of node-postgres's connection and its Query class (not in @types/pg). */
interface PgConnection {
  parse(query: { text: string; name?: string }): void;
  bind(config: object): void;
  execute(config: object): void;
  sync(): void;
  stream: { cork?: () => void; uncork?: () => void };
  parsedStatements: Record<string, string>;
  submittedNamedStatements: Record<string, string>;
}
interface PgQuery {
  name?: string;
  submit(connection: PgConnection): Error | null;
  handleRowDescription(message: unknown): void;
  handleDataRow(message: unknown): void;
  handleCommandComplete(message: unknown, connection: PgConnection): void;
  handleError(error: Error, connection: PgConnection): void;
}
type QueryCallback = (error: Error | null, result: pg.QueryResult) => void;
const PgQueryClass = pg.Query as unknown as new (config: pg.QueryConfig, values: undefined, callback: QueryCallback) => PgQuery;
const pgQuery = pg.Query.prototype as unknown as PgQuery;
const prepareValue = (pg as unknown as { utils: { prepareValue(value: unknown): unknown } }).utils.prepareValue;

/**
 * A statement sent ahead of another in the same write, whose answer nobody reads: BEGIN and COMMIT
 * (unnamed, parsed on the spot), or a deferred write (named, and already prepared on the connection).
 */
export interface PipelinedStep {
  text: string;
  name?: string;
  values?: readonly unknown[];
}

/**
 * Several statements of one transaction in one write and one round trip (ADR 0012 amendments):
 * each step as Bind/Execute (with a Parse for BEGIN and COMMIT) and no Sync, then the final
 * statement as node-postgres sends any (Parse if not yet prepared, Bind, Describe, Execute) and one
 * Sync; or, without a final statement, the Sync alone. The server runs them in order and answers
 * after the Sync. An explicit transaction that BEGIN opened stays open after a Sync (the protocol's
 * "Extended Query" flow), and after an error the server skips everything up to the Sync: a step
 * never runs unless every step before it succeeded, and a statement never runs outside the
 * transaction whose BEGIN failed.
 * This is node-postgres's own Query (row parsing, types, prepared names) with the steps' answers
 * kept out of its result; client.query accepts it as a Submittable.
 */
class PipelinedQuery extends PgQueryClass {
  /** Steps whose CommandComplete has not arrived. Until then `name` reads as undefined, so the
   * ParseComplete of an unnamed step does not mark the final statement's name as prepared. */
  private pending = 0;
  private readonly finalName: string | undefined;

  constructor(
    private readonly steps: readonly PipelinedStep[],
    private readonly final: pg.QueryConfig | undefined,
    callback: QueryCallback,
  ) {
    super(final ?? { text: '' }, undefined, callback);
    this.finalName = final?.name;
  }

  /**
   * Query's constructor assigns `name`, and node-postgres reads it while the answers arrive (see
   * `pending`). An accessor of the class, not one defined on each query: defined on each query (a
   * closure over it), it had V8 promote every query and its rows to old space, to be freed only by a
   * collection of the whole heap (cart promoted about 2 MB per young collection under load; issue 3).
   */
  override get name(): string | undefined {
    return this.pending > 0 ? undefined : this.finalName;
  }

  override set name(_ignored: string | undefined) {}

  override submit(connection: PgConnection): Error | null {
    let values: unknown[][];
    try {
      // Mapped before anything is written: a value that cannot be sent fails the whole query unsent.
      values = this.steps.map((step) => (step.values ?? []).map(prepareValue));
    } catch (error) {
      return error as Error;
    }
    connection.stream.cork?.();
    try {
      this.steps.forEach((step, i) => {
        if (!step.name) connection.parse({ text: step.text });
        connection.bind({ statement: step.name ?? '', values: values[i] });
        connection.execute({});
      });
      const error = this.final ? pgQuery.submit.call(this, connection) : (connection.sync(), null);
      if (!error) this.pending = this.steps.length;
      return error;
    } finally {
      connection.stream.uncork?.();
    }
  }

  override handleRowDescription(message: unknown): void {
    if (this.pending === 0) pgQuery.handleRowDescription.call(this, message);
  }

  override handleDataRow(message: unknown): void {
    if (this.pending === 0) pgQuery.handleDataRow.call(this, message);
  }

  override handleCommandComplete(message: unknown, connection: PgConnection): void {
    if (this.pending > 0) {
      this.pending--;
      return;
    }
    pgQuery.handleCommandComplete.call(this, message, connection);
  }

  override handleError(error: Error, connection: PgConnection): void {
    // A step failed: the server skipped the final statement's Parse, so its name is not prepared here.
    if (this.pending > 0 && this.finalName) delete connection.submittedNamedStatements[this.finalName];
    pgQuery.handleError.call(this, error, connection);
  }
}

/**
 * Sends `steps`, then `final` (or nothing more), in one round trip on `client`; resolves to the
 * final statement's result. Exported for the tests, which make a step fail on purpose.
 */
export const pipelined = (client: pg.ClientBase, steps: readonly PipelinedStep[], final?: pg.QueryConfig) =>
  new Promise<pg.QueryResult>((resolve, reject) => {
    client.query(new PipelinedQuery(steps, final, (error, result) => (error ? reject(error) : resolve(result))) as unknown as pg.QueryConfig);
  });

/** Whether `config` is prepared by name on `client`'s connection (so a step can Bind it without a Parse). */
const preparedOn = (client: pg.ClientBase, config: pg.QueryConfig): config is pg.QueryConfig & { name: string } =>
  config.name !== undefined && (client as unknown as { connection: PgConnection }).connection.parsedStatements[config.name] === config.text;

/** A pool whose connections resolve unqualified names in the service's schema. */
export function createPostgresDb(options: PostgresDbOptions): Db {
  const schema = assertIdentifier(options.schema);
  const config: pg.PoolConfig = {
    connectionString: options.connectionString,
    max: options.max ?? 10,
    options: `-c search_path=${schema},public`,
    application_name: options.applicationName ?? schema,
    types: typeParsers,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
  };
  const pool = new pg.Pool(config);
  // A broken idle connection must not crash the process; the pool replaces it.
  pool.on('error', () => undefined);
  const { metrics } = options;
  metrics?.watchDbPool(() => ({ inUse: pool.totalCount - pool.idleCount, idle: pool.idleCount, waiting: pool.waitingCount }));

  const statement = preparedStatements();

  /**
   * A pooled client, watched: while a client is checked out the pool does not listen for its errors,
   * and a connection that dies between two statements (server restart, network cut) would otherwise
   * crash the process. `broken()` tells whether it did; `release` destroys such a client (or, given
   * true, any) instead of returning it to the pool.
   */
  const checkOut = async () => {
    const asked = performance.now();
    const client = await pool.connect().catch(unavailable);
    metrics?.dbPoolAcquire.observe((performance.now() - asked) / 1000);
    let broken: Error | undefined;
    const onError = (error: Error) => {
      broken = error;
    };
    client.on('error', onError);
    return {
      client,
      broken: () => broken,
      release(destroy?: true) {
        client.off('error', onError);
        client.release(broken ?? destroy);
      },
    };
  };

  /**
   * A statement on its own, as the pool's own `query` runs it (a connection whose statement failed is
   * replaced, so no prepared statement a schema change invalidated stays on it), with its wait measured.
   */
  const query: Sql['query'] = async <T>(text: string, params?: readonly unknown[]) => {
    const { client, broken, release } = await checkOut();
    let failed = false;
    try {
      const result = await client.query(statement(text, params));
      return { rows: result.rows as T[], rowCount: result.rowCount ?? 0 };
    } catch (error) {
      failed = true;
      return unavailable(broken() ?? error);
    } finally {
      release(failed ? true : undefined);
    }
  };

  /**
   * A statement on its own whose commit does not wait for the WAL flush: the setting travels with it in
   * one round trip, and both run in the implicit transaction that ends at their Sync.
   */
  const queryWithoutFlush: Sql['query'] = async <T>(text: string, params?: readonly unknown[]) => {
    const config = statement(text, params);
    // Without parameters a text may hold several statements (simple protocol): it runs as a transaction.
    if (!config.values) return transaction((tx) => tx.query<T>(text), true);
    const { client, broken, release } = await checkOut();
    try {
      const result = await pipelined(client, [WITHOUT_FLUSH], config);
      return { rows: result.rows as T[], rowCount: result.rowCount ?? 0 };
    } catch (error) {
      if (broken() || isTransientDatabaseError(error)) unavailable(broken() ?? error);
      throw error;
    } finally {
      release();
    }
  };

  async function transaction<T>(work: (tx: Sql) => Promise<T>, withoutFlush: boolean): Promise<T> {
    const { client, broken, release } = await checkOut();
    // BEGIN waits for the first statement and travels with it; deferred writes wait for the next
    // statement or for COMMIT and travel with it. A transaction that runs nothing sends nothing.
    let begun = false;
    const opening: PipelinedStep[] = withoutFlush ? [{ text: 'BEGIN' }, WITHOUT_FLUSH] : [{ text: 'BEGIN' }];
    const ahead: PipelinedStep[] = [];
    const stepsAhead = (): PipelinedStep[] => {
      const steps = begun ? [] : opening;
      begun = true;
      return steps.concat(ahead.splice(0));
    };
    try {
      const run = async (config: pg.QueryConfig): Promise<pg.QueryResult> => {
        if (begun && ahead.length === 0) return client.query(config);
        const steps = stepsAhead();
        if (config.values) return pipelined(client, steps, config);
        // No parameters: a text that may hold several statements goes on its own (simple protocol).
        await pipelined(client, steps);
        return client.query(config);
      };
      const tx: Sql = {
        query: async <T>(text: string, params?: readonly unknown[]) => {
          const result = await run(statement(text, params));
          return { rows: result.rows as T[], rowCount: result.rowCount ?? 0 };
        },
        defer: async (text: string, params?: readonly unknown[]) => {
          const config = statement(text, params);
          if (config.values && preparedOn(client, config)) ahead.push({ text: config.text, name: config.name, values: config.values });
          else await run(config);
        },
      };
      const value = await work(tx);
      if (begun || ahead.length > 0) await pipelined(client, [...stepsAhead(), { text: 'COMMIT' }]);
      return value;
    } catch (error) {
      if (!broken() && begun) await client.query('ROLLBACK').catch(() => undefined);
      // Rethrown as a 503 when the connection, not the work, failed.
      if (broken() || isTransientDatabaseError(error)) unavailable(broken() ?? error);
      throw error;
    } finally {
      release();
    }
  }

  // The same pool, its statements and transactions carrying the setting (ADR 0014).
  let relaxed: Db | undefined;
  const db: Db = {
    dialect: 'postgres',
    schema,
    query,
    asynchronousCommit() {
      relaxed ??= { ...db, query: queryWithoutFlush, transaction: (work) => transaction(work, true), asynchronousCommit: () => relaxed! };
      return relaxed;
    },
    transaction: (work) => transaction(work, false),
    async openSession(): Promise<DbSession> {
      const { client, broken, release } = await checkOut();
      let closed = false;
      return {
        query: async <T>(text: string, params?: readonly unknown[]) => {
          const lost = broken();
          if (lost) unavailable(lost);
          const result = await client.query(statement(text, params)).catch(unavailable);
          return { rows: result.rows as T[], rowCount: result.rowCount ?? 0 };
        },
        async close() {
          if (closed) return;
          closed = true;
          // Destroyed, not returned to the pool: ending the backend releases its session locks.
          release(true);
        },
      };
    },
    async listen(channel, onNotify) {
      const name = assertIdentifier(channel);
      let client: pg.Client | undefined;
      let stopped = false;
      let retry: NodeJS.Timeout | undefined;
      // A dedicated connection; when it drops (server restart), it reconnects and listens again.
      const connect = async (): Promise<void> => {
        const next = new pg.Client({ ...config });
        next.on('error', () => undefined);
        next.on('end', () => {
          if (!stopped) retry = setTimeout(() => void connect().catch(() => undefined), 1000);
        });
        next.on('notification', (message) => {
          if (message.channel === name) onNotify(message.payload ?? '');
        });
        try {
          await next.connect();
          await next.query(`LISTEN ${name}`);
          client = next;
          // Anything written while the connection was down is found by waking the listener once.
          onNotify('');
        } catch (error) {
          if (!client) stopped = true; // the first connection failed: the caller hears of it, no retries
          await next.end().catch(() => undefined);
          if (!client) throw error;
        }
      };
      await connect();
      return async () => {
        stopped = true;
        clearTimeout(retry);
        await client?.end().catch(() => undefined);
      };
    },
    async isReady() {
      try {
        await pool.query('SELECT 1');
        return true;
      } catch {
        return false;
      }
    },
    async close() {
      await pool.end();
    },
  };
  return db;
}

/**
 * The connection string of `database` on the server `serverUrl` points at (its host, port, user and
 * options, such as `?host=/var/run/postgresql` for the server's Unix socket), e.g. a service's
 * database on the server of `POSTGRES_ADMIN_URL`.
 */
export function databaseUrlOn(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${assertIdentifier(database)}`;
  return url.toString();
}

/** Creates the database if it does not exist (distributed mode: one database per service). */
export async function ensureDatabase(adminConnectionString: string, database: string): Promise<void> {
  const name = assertIdentifier(database);
  const client = new pg.Client({ connectionString: adminConnectionString });
  await client.connect();
  try {
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (exists.rowCount === 0) {
      await client.query(`CREATE DATABASE ${name}`).catch((error: { code?: string }) => {
        if (error.code !== '42P04' && error.code !== '23505') throw error;
      });
    }
  } finally {
    await client.end();
  }
}
