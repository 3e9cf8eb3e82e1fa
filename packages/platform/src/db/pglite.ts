import { PGlite } from '@electric-sql/pglite';
import { assertIdentifier, INT8_OID, parseInt8, type Db, type Sql } from './types';

/**
 * One embedded PostgreSQL (WASM) shared by every service of the process: starting one costs
 * seconds and hundreds of MB, so services share it and each gets its own schema.
 * PGlite runs one transaction at a time, so transactions are serialized, never interleaved.
 */
export interface SharedPglite {
  pglite: PGlite;
  /** A Db whose unqualified names resolve in `schema`. */
  forSchema(schema: string): Db;
  close(): Promise<void>;
}

/** `dataDir` undefined → in memory (tests); a folder path → data survives restarts. */
export async function openPglite(dataDir?: string): Promise<SharedPglite> {
  const pglite = await PGlite.create({ dataDir, parsers: { [INT8_OID]: parseInt8 } });
  let currentSearchPath: string | undefined;
  let closed = false;
  /**
   * Our own turn-taking over the one connection: the search path checked and the statement run
   * cannot be split by another schema's work. PGlite serializes anyway, so nothing runs less in parallel.
   */
  let turn: Promise<unknown> = Promise.resolve();
  const exclusive = <T>(work: () => Promise<T>): Promise<T> => {
    const result = turn.then(work, work);
    turn = result.catch(() => undefined);
    return result;
  };

  const forSchema = (rawSchema: string): Db => {
    const schema = assertIdentifier(rawSchema);
    const searchPath = `${schema},public`;

    const inSchema = <T>(work: (tx: Sql) => Promise<T>): Promise<T> =>
      exclusive(() =>
        pglite.transaction(async (tx) => {
          if (currentSearchPath !== searchPath) {
            // A plain SET lasts past COMMIT (but not past ROLLBACK), so it is remembered.
            await tx.exec(`SET search_path TO ${searchPath}`);
          }
          currentSearchPath = searchPath;
          const sql: Sql = {
            query: async <R>(text: string, params?: readonly unknown[]) => {
              const result = await tx.query<R>(text, params as unknown[]);
              return { rows: result.rows, rowCount: result.affectedRows || result.rows.length };
            },
          };
          try {
            return await work(sql);
          } catch (error) {
            currentSearchPath = undefined;
            throw error;
          }
        }),
      );

    /**
     * One statement on its own commits by itself (autocommit): no BEGIN/COMMIT around it, which
     * were two of every three statements PGlite ran for a plain read.
     */
    const single = <R>(text: string, params?: readonly unknown[]) =>
      exclusive(async () => {
        if (currentSearchPath !== searchPath) {
          currentSearchPath = undefined;
          await pglite.exec(`SET search_path TO ${searchPath}`);
          currentSearchPath = searchPath;
        }
        const result = await pglite.query<R>(text, params as unknown[]);
        return { rows: result.rows, rowCount: result.affectedRows || result.rows.length };
      });

    const db: Db = {
      dialect: 'pglite',
      schema,
      query: single,
      transaction: inSchema,
      asynchronousCommit: () => db,
      async listen(channel, onNotify) {
        const unlisten = await pglite.listen(assertIdentifier(channel), onNotify);
        return async () => {
          if (!closed) await unlisten();
        };
      },
      async isReady() {
        return !closed && pglite.ready && !pglite.closed;
      },
      async close() {
        // The shared instance is closed once, by its owner.
      },
    };
    return db;
  };

  return {
    pglite,
    forSchema,
    async close() {
      if (closed) return;
      closed = true;
      await pglite.close();
    },
  };
}
