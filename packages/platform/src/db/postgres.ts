import pg from 'pg';
import { AppError } from '../errors';
import { assertIdentifier, INT8_OID, parseInt8, type Db, type Sql } from './types';

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
}

/** Every pooled connection stayed busy past the wait: a clear, retryable 503 rather than a 500. */
function busy(error: unknown): never {
  if (error instanceof Error && /timeout exceeded when trying to connect/i.test(error.message)) {
    throw new AppError('PLATFORM.DATABASE_BUSY', 'The service is busy; try again shortly.', { status: 503, cause: error, extensions: { retryAfterSeconds: 1 } });
  }
  throw error;
}

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

  const query: Sql['query'] = async <T>(text: string, params?: readonly unknown[]) => {
    const result = await pool.query(text, params as unknown[]).catch(busy);
    return { rows: result.rows as T[], rowCount: result.rowCount ?? 0 };
  };

  return {
    dialect: 'postgres',
    schema,
    query,
    async transaction(work) {
      const client = await pool.connect().catch(busy);
      try {
        await client.query('BEGIN');
        const tx: Sql = {
          query: async <T>(text: string, params?: readonly unknown[]) => {
            const result = await client.query(text, params as unknown[]);
            return { rows: result.rows as T[], rowCount: result.rowCount ?? 0 };
          },
        };
        const value = await work(tx);
        await client.query('COMMIT');
        return value;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      } finally {
        client.release();
      }
    },
    async listen(channel, onNotify) {
      const name = assertIdentifier(channel);
      const client = new pg.Client({ ...config });
      client.on('error', () => undefined);
      await client.connect();
      client.on('notification', (message) => {
        if (message.channel === name) onNotify(message.payload ?? '');
      });
      await client.query(`LISTEN ${name}`);
      return async () => {
        await client.end().catch(() => undefined);
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
