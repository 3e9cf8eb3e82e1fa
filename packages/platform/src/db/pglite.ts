import { Worker } from 'node:worker_threads';
import pg from 'pg';
import { assertIdentifier, type Db, type QueryResult, type Sql } from './types';

/**
 * One embedded PostgreSQL (WASM) shared by every service of the process: starting one costs
 * seconds and hundreds of MB, so services share it and each gets its own schema.
 * PGlite runs one transaction at a time, so transactions are serialized, never interleaved.
 *
 * It runs on a worker thread of its own (db/pglite-worker.mjs), so the database's work — more than
 * half of a checkout's CPU in `npm start` — runs beside the services' instead of in turn with it.
 * Statements go there as messages and answers come back as messages: rows, dates and bytes arrive
 * as they left, and an error keeps its PostgreSQL fields (code, constraint, detail). As on
 * PostgreSQL (ADR 0012), a transaction's BEGIN travels with its first statement and deferred
 * writes with its next statement or its COMMIT, so a transaction costs few trips between threads.
 */
export interface SharedPglite {
  /** One statement, schema names written out (for tests and tools). */
  query<R = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<QueryResult<R>>;
  /** A Db whose unqualified names resolve in `schema`. */
  forSchema(schema: string): Db;
  close(): Promise<void>;
}

interface Step {
  text: string;
  params?: readonly unknown[];
}

/**
 * Parameters are serialized here, by node-postgres' own rules (dates, arrays, JSON, bytes): the
 * same text reaches PGlite as reaches PostgreSQL in production, and the database thread does less.
 */
const { prepareValue } = (pg as unknown as { utils: { prepareValue(value: unknown): unknown } }).utils;
const step = (text: string, params?: readonly unknown[]): Step => ({ text, params: params?.map(prepareValue) });

/** See db/pglite-worker.mjs for what each message does. */
type Message =
  | { kind: 'run'; schema?: string; tx?: number; begin?: boolean; finish?: 'commit' | 'rollback'; steps: Step[] }
  | { kind: 'listen'; channel: string; listenId: number }
  | { kind: 'unlisten'; listenId: number }
  | { kind: 'close' };

type Reply = { ready: true } | { failed: Record<string, unknown> } | { notify: number; payload: string } | { id: number; result?: unknown; error?: Record<string, unknown> };

/** An error from the database thread, with the fields PostgreSQL gave it (code, detail, constraint…). */
const revive = ({ message, ...fields }: Record<string, unknown>): Error => Object.assign(new Error(String(message)), fields);

/** The PGlite thread, spoken to by messages. Every waiting call fails if the thread dies. */
async function startEngine(dataDir: string | undefined) {
  const worker = new Worker(new URL('./pglite-worker.mjs', import.meta.url), { workerData: { dataDir } });
  const waiting = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  const listeners = new Map<number, (payload: string) => void>();
  let nextId = 1;
  let gone: Error | undefined;

  await new Promise<void>((resolve, reject) => {
    worker.on('message', (reply: Reply) => {
      if ('ready' in reply) return resolve();
      if ('failed' in reply) return reject(revive(reply.failed));
      if ('notify' in reply) return listeners.get(reply.notify)?.(reply.payload);
      const call = waiting.get(reply.id);
      waiting.delete(reply.id);
      if (reply.error) call?.reject(revive(reply.error));
      else call?.resolve(reply.result);
    });
    const end = (error: Error) => {
      gone ??= error;
      reject(gone);
      for (const call of waiting.values()) call.reject(gone);
      waiting.clear();
    };
    worker.on('error', (error) => end(new Error(`the embedded database stopped: ${error.message}`, { cause: error })));
    worker.on('exit', (code) => end(new Error(`the embedded database stopped (thread exit ${code})`)));
  });

  const call = <T>(message: Message): Promise<T> => {
    if (gone) return Promise.reject(gone);
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      waiting.set(id, { resolve: resolve as (value: unknown) => void, reject });
      worker.postMessage({ id, ...message });
    });
  };

  let nextListenId = 1;
  return {
    call,
    async listen(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>> {
      const listenId = nextListenId++;
      listeners.set(listenId, onNotify);
      await call({ kind: 'listen', channel, listenId });
      return async () => {
        listeners.delete(listenId);
        if (!gone) await call({ kind: 'unlisten', listenId });
      };
    },
    get open() {
      return gone === undefined;
    },
    async close() {
      if (gone) return;
      await call({ kind: 'close' });
      await worker.terminate();
    },
  };
}

/** `dataDir` undefined → in memory (tests); a folder path → data survives restarts. */
export async function openPglite(dataDir?: string): Promise<SharedPglite> {
  const engine = await startEngine(dataDir);
  let closed = false;
  let nextTx = 1;
  /** One statement on its own, in `schema` (or wherever the connection is): it commits by itself (autocommit). */
  const statement =
    (schema?: string) =>
    async <R>(text: string, params?: readonly unknown[]) =>
      (await engine.call({ kind: 'run', schema, steps: [step(text, params)] })) as QueryResult<R>;

  const forSchema = (rawSchema: string): Db => {
    const schema = assertIdentifier(rawSchema);

    const transaction = async <T>(work: (tx: Sql) => Promise<T>): Promise<T> => {
      const tx = nextTx++;
      let begun = false;
      let finished = false;
      const ahead: Step[] = [];
      const send = (steps: Step[], finish?: 'commit' | 'rollback') => {
        const begin = !begun;
        begun = true;
        if (finish) finished = true;
        return engine.call<QueryResult<never> | undefined>({ kind: 'run', schema, tx, begin, finish, steps: ahead.splice(0).concat(steps) });
      };
      const sql: Sql = {
        query: async <R>(text: string, params?: readonly unknown[]) => (await send([step(text, params)])) as QueryResult<R>,
        defer: async (text: string, params?: readonly unknown[]) => {
          ahead.push(step(text, params));
        },
      };
      try {
        const value = await work(sql);
        if (begun || ahead.length > 0) await send([], 'commit');
        return value;
      } catch (error) {
        // A failed COMMIT has been rolled back on the database thread already.
        if (begun && !finished) await send([], 'rollback').catch(() => undefined);
        throw error;
      }
    };

    const db: Db = {
      dialect: 'pglite',
      schema,
      query: statement(schema),
      transaction,
      asynchronousCommit: () => db,
      async listen(channel, onNotify) {
        const unlisten = await engine.listen(assertIdentifier(channel), onNotify);
        return async () => {
          if (!closed) await unlisten();
        };
      },
      async isReady() {
        return !closed && engine.open;
      },
      async close() {
        // The shared instance is closed once, by its owner.
      },
    };
    return db;
  };

  return {
    query: statement(),
    forSchema,
    async close() {
      if (closed) return;
      closed = true;
      await engine.close();
    },
  };
}
