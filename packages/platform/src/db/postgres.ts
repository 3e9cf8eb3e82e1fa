import pg from 'pg';
import { AppError } from '../errors';
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
  /** False: commits return before their WAL is flushed (see `Db.asynchronousCommit`). Default true. */
  synchronousCommit?: boolean;
}

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

/** What BeginAndQuery uses of node-postgres's connection and its Query class (not in @types/pg). */
interface PgConnection {
  parse(query: { text: string; name?: string }): void;
  bind(config: object): void;
  execute(config: object): void;
  stream: { cork?: () => void; uncork?: () => void };
  submittedNamedStatements: Record<string, string>;
}
interface PgQuery {
  name?: string;
  submit(connection: PgConnection): Error | null;
  handleCommandComplete(message: unknown, connection: PgConnection): void;
  handleError(error: Error, connection: PgConnection): void;
}
type QueryCallback = (error: Error | null, result: pg.QueryResult) => void;
const PgQueryClass = pg.Query as unknown as new (config: pg.QueryConfig, values: undefined, callback: QueryCallback) => PgQuery;
const pgQuery = pg.Query.prototype as unknown as PgQuery;

/**
 * BEGIN and a transaction's first parameterized statement in one round trip (ADR 0012 amendment):
 * BEGIN goes as an unnamed extended-protocol statement without a Sync of its own, then the
 * statement with its Sync, in one write. The server runs both and answers both after that Sync,
 * and an explicit transaction stays open after a Sync (the protocol's "Extended Query" flow). If
 * BEGIN fails, the server skips the statement too: it never runs outside the transaction.
 * This is node-postgres's own Query (row parsing, types, prepared names) with BEGIN's messages
 * sent first and BEGIN's answers kept out of the result; client.query accepts it as a Submittable.
 */
class BeginAndQuery extends PgQueryClass {
  // BEGIN's ParseComplete must not mark the statement's name as parsed: the name reads as
  // undefined from the moment it is sent until BEGIN's CommandComplete.
  private phase: 'submitting' | 'beginning' | 'begun' = 'submitting';
  private readonly statementName: string | undefined;

  constructor(
    config: pg.QueryConfig,
    callback: QueryCallback,
    private readonly begin: string,
  ) {
    super(config, undefined, callback);
    this.statementName = config.name;
    Object.defineProperty(this, 'name', {
      get: () => (this.phase === 'beginning' ? undefined : this.statementName),
      set: () => undefined,
      configurable: true,
    });
  }

  override submit(connection: PgConnection): Error | null {
    connection.stream.cork?.();
    try {
      connection.parse({ text: this.begin });
      connection.bind({});
      connection.execute({});
      const error = pgQuery.submit.call(this, connection);
      if (!error) this.phase = 'beginning';
      return error;
    } finally {
      connection.stream.uncork?.();
    }
  }

  override handleCommandComplete(message: unknown, connection: PgConnection): void {
    if (this.phase === 'beginning') {
      this.phase = 'begun';
      return;
    }
    pgQuery.handleCommandComplete.call(this, message, connection);
  }

  override handleError(error: Error, connection: PgConnection): void {
    // BEGIN failed: the server skipped the statement's Parse, so the name is not prepared here.
    if (this.phase === 'beginning' && this.statementName) delete connection.submittedNamedStatements[this.statementName];
    pgQuery.handleError.call(this, error, connection);
  }
}

/**
 * Sends BEGIN and `config` (which has parameters) in one round trip on `client`. `begin` is for
 * tests, which make it fail on purpose.
 */
export const beginWith = (client: pg.ClientBase, config: pg.QueryConfig, begin = 'BEGIN') =>
  new Promise<pg.QueryResult>((resolve, reject) => {
    client.query(new BeginAndQuery(config, (error, result) => (error ? reject(error) : resolve(result)), begin) as unknown as pg.QueryConfig);
  });

/** A pool whose connections resolve unqualified names in the service's schema. */
export function createPostgresDb(options: PostgresDbOptions): Db {
  const schema = assertIdentifier(options.schema);
  const config: pg.PoolConfig = {
    connectionString: options.connectionString,
    max: options.max ?? 10,
    options: `-c search_path=${schema},public${options.synchronousCommit === false ? ' -c synchronous_commit=off' : ''}`,
    application_name: options.applicationName ?? schema,
    types: typeParsers,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
  };
  const pool = new pg.Pool(config);
  // A broken idle connection must not crash the process; the pool replaces it.
  pool.on('error', () => undefined);

  const statement = preparedStatements();
  const query: Sql['query'] = async <T>(text: string, params?: readonly unknown[]) => {
    const result = await pool.query(statement(text, params)).catch(unavailable);
    return { rows: result.rows as T[], rowCount: result.rowCount ?? 0 };
  };

  // A pool of its own, opened on first use: the setting belongs to the connection.
  let asynchronous: Db | undefined;
  const db: Db = {
    dialect: 'postgres',
    schema,
    query,
    asynchronousCommit() {
      if (options.synchronousCommit === false) return db;
      asynchronous ??= createPostgresDb({ ...options, synchronousCommit: false, applicationName: `${config.application_name} (asynchronous commit)` });
      return asynchronous;
    },
    async transaction(work) {
      const client = await pool.connect().catch(unavailable);
      // While a client is checked out the pool does not listen for its errors: a connection that
      // dies between two statements (server restart, network cut) would otherwise crash the process.
      let broken: Error | undefined;
      const onError = (error: Error) => {
        broken = error;
      };
      client.on('error', onError);
      // BEGIN waits for the first statement and travels with it when it has parameters (the usual
      // case); a transaction that runs no statement sends neither BEGIN nor COMMIT.
      let begun = false;
      try {
        const tx: Sql = {
          query: async <T>(text: string, params?: readonly unknown[]) => {
            const config = statement(text, params);
            let result: pg.QueryResult;
            if (begun) result = await client.query(config);
            else if (config.values) {
              begun = true;
              result = await beginWith(client, config);
            } else {
              begun = true;
              await client.query('BEGIN');
              result = await client.query(config);
            }
            return { rows: result.rows as T[], rowCount: result.rowCount ?? 0 };
          },
        };
        const value = await work(tx);
        if (begun) await client.query('COMMIT');
        return value;
      } catch (error) {
        if (!broken && begun) await client.query('ROLLBACK').catch(() => undefined);
        // Rethrown as a 503 when the connection, not the work, failed.
        if (broken || isTransientDatabaseError(error)) unavailable(broken ?? error);
        throw error;
      } finally {
        client.off('error', onError);
        // A broken client is destroyed rather than returned to the pool.
        client.release(broken);
      }
    },
    async openSession(): Promise<DbSession> {
      const client = await pool.connect().catch(unavailable);
      let broken: Error | undefined;
      const onError = (error: Error) => {
        broken = error;
      };
      client.on('error', onError);
      let closed = false;
      return {
        query: async <T>(text: string, params?: readonly unknown[]) => {
          if (broken) unavailable(broken);
          const result = await client.query(statement(text, params)).catch(unavailable);
          return { rows: result.rows as T[], rowCount: result.rowCount ?? 0 };
        },
        async close() {
          if (closed) return;
          closed = true;
          client.off('error', onError);
          // Destroyed, not returned to the pool: ending the backend releases its session locks.
          client.release(broken ?? true);
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
      await Promise.all([pool.end(), asynchronous?.close()]);
    },
  };
  return db;
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
