import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshPostgresDatabase } from '../testing/index';
import pg from 'pg';
import { createMetrics } from '../metrics';
import { createPostgresDb, pipelined } from './postgres';
import type { Db, Sql } from './types';

const synchronousCommit = async (sql: Sql) => (await sql.query<{ synchronous_commit: string }>('SHOW synchronous_commit')).rows[0]!.synchronous_commit;

describe('a PostgreSQL database handle', () => {
  let db: Db;
  let url: string;

  beforeAll(async () => {
    url = await freshPostgresDatabase('emporium_postgres_db_test');
    db = createPostgresDb({ connectionString: url, schema: 'things', max: 3, applicationName: 'things' });
    await db.query('CREATE SCHEMA IF NOT EXISTS things');
    await db.query('CREATE TABLE IF NOT EXISTS things.notes (id integer PRIMARY KEY, text text NOT NULL)');
  });
  afterAll(async () => {
    await db?.close();
  });

  it('when asked for asynchronous commit, then its statements and transactions do not wait for the WAL flush, while the ordinary ones still do', async () => {
    const relaxed = db.asynchronousCommit();
    expect(db.asynchronousCommit()).toBe(relaxed);
    expect(relaxed.asynchronousCommit()).toBe(relaxed);
    const setting = async (sql: Sql) => (await sql.query<{ s: string }>("SELECT current_setting('synchronous_commit') AS s, $1::int AS n", [1])).rows[0]!.s;
    expect(await setting(relaxed)).toBe('off');
    expect(await synchronousCommit(relaxed)).toBe('off');
    expect(await relaxed.transaction(synchronousCommit)).toBe('off');
    expect(await relaxed.transaction(async (tx) => [await setting(tx), await synchronousCommit(tx)])).toEqual(['off', 'off']);
    // The setting ends with its transaction: the connections go back to the pool as they were.
    for (let i = 0; i < 3; i++) {
      expect(await setting(db)).toBe('on');
      expect(await synchronousCommit(db)).toBe('on');
      expect(await db.transaction(synchronousCommit)).toBe('on');
    }
  });

  it('when asynchronous commit is used beside the ordinary statements, then both share one pool and never open more than its size (ADR 0014 amendment)', async () => {
    const relaxed = db.asynchronousCommit();
    const backend = (sql: Sql) => sql.query<{ pid: number }>('SELECT pg_backend_pid() AS pid, pg_sleep(0.05), $1::int AS n', [1]).then((r) => r.rows[0]!.pid);
    const pids = await Promise.all([db, db, db, relaxed, relaxed, relaxed].map(backend));
    expect(new Set(pids).size).toBeLessThanOrEqual(3);
  });

  it('when a row is written through asynchronous commit, then the ordinary connections see it at once, in the same schema', async () => {
    await db.asynchronousCommit().query('INSERT INTO notes (id, text) VALUES ($1, $2)', [1, 'written without waiting']);
    expect((await db.query<{ text: string }>('SELECT text FROM notes WHERE id = 1')).rows).toEqual([{ text: 'written without waiting' }]);
  });

  it('when the handle is closed, then its asynchronous-commit handle is closed with it', async () => {
    const own = createPostgresDb({ connectionString: await freshPostgresDatabase('emporium_postgres_db_close_test'), schema: 'things', max: 1 });
    const relaxed = own.asynchronousCommit();
    await relaxed.query('SELECT 1');
    await own.close();
    await expect(relaxed.query('SELECT 1')).rejects.toThrow();
  });

  it('when every pooled connection is busy, then /metrics shows the callers waiting and how long they waited for one', async () => {
    const metrics = createMetrics('postgres_pool_test');
    const own = createPostgresDb({ connectionString: url, schema: 'things', max: 2, metrics });
    const occupancy = async () => Object.fromEntries((await metrics.registry.getSingleMetric('db_pool_connections')!.get()).values.map((v) => [v.labels.state, v.value]));
    const waits = async () => {
      // A histogram's values name their series: `…_bucket` (with `le`), `…_sum`, `…_count`.
      const values = (await metrics.registry.getSingleMetric('db_pool_acquire_seconds')!.get()).values as Array<{ metricName?: string; labels: Record<string, unknown>; value: number }>;
      const of = (name: string, le?: number) => values.find((v) => v.metricName === name && (le === undefined || v.labels.le === le))!.value;
      return { count: of('db_pool_acquire_seconds_count'), sum: of('db_pool_acquire_seconds_sum'), within250ms: of('db_pool_acquire_seconds_bucket', 0.25) };
    };
    try {
      await own.query('SELECT 1');
      const holding = [own.transaction((tx) => tx.query('SELECT pg_sleep(0.6), $1::int AS n', [1])), own.query('SELECT pg_sleep(0.6), $1::int AS n', [2])];
      await new Promise((r) => setTimeout(r, 100));
      const waiter = own.query('SELECT $1::int AS n', [3]);
      await new Promise((r) => setTimeout(r, 20));
      expect(await occupancy()).toMatchObject({ in_use: 2, waiting: 1 });
      expect((await waiter).rows).toEqual([{ n: 3 }]);
      await Promise.all(holding);
      expect(await occupancy()).toEqual({ in_use: 0, idle: 2, waiting: 0 });
      // Four checkouts: the first three found (or opened) a connection at once, the fourth waited about 500 ms.
      const waited = await waits();
      expect(waited.count).toBe(4);
      expect(waited.within250ms).toBe(3);
      expect(waited.sum).toBeGreaterThan(0.3);
    } finally {
      await own.close();
    }
  });

  it('when a statement on its own fails, then its connection is replaced, as the pool itself does, and the pool goes on answering', async () => {
    const own = createPostgresDb({ connectionString: url, schema: 'things', max: 1 });
    try {
      const pid = async () => (await own.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      const first = await pid();
      await expect(own.query('SELECT 1 / $1::int AS n', [0])).rejects.toMatchObject({ code: '22012' });
      expect(await pid()).not.toBe(first);
    } finally {
      await own.close();
    }
  });

  describe('a transaction whose first statement travels with BEGIN (ADR 0012 amendment)', () => {
    const noteCount = async (text: string) => (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM notes WHERE text = $1', [text])).rows[0]!.n;

    it('when the first statement has parameters, then it already runs inside the transaction and answers its own rows', async () => {
      const [first, second] = await db.transaction(async (tx) => [
        (await tx.query<{ t: Date; id: number }>('SELECT now() AS t, $1::int AS id', [7])).rows,
        // now() is the transaction's start: the same for every statement of one transaction.
        (await tx.query<{ t: Date }>('SELECT now() AS t, clock_timestamp() > now() AS later', [])).rows,
      ]);
      expect(first).toEqual([{ t: expect.any(Date), id: 7 }]);
      expect(second[0]!.t.getTime()).toBe(first[0]!.t.getTime());
    });

    it('when the work fails after its first write, then that write is rolled back with the rest', async () => {
      await expect(
        db.transaction(async (tx) => {
          await tx.query('INSERT INTO notes (id, text) VALUES ($1, $2)', [101, 'rolled back with BEGIN']);
          throw new Error('the work failed');
        }),
      ).rejects.toThrow('the work failed');
      expect(await noteCount('rolled back with BEGIN')).toBe(0);
    });

    it('when the first statement fails, then nothing is written, the connection stays usable and the statement runs again later', async () => {
      await db.query('INSERT INTO notes (id, text) VALUES ($1, $2)', [102, 'taken']);
      // Every connection of the pool (max 3) meets the failing first statement and then reuses it.
      for (let round = 0; round < 4; round++) {
        await expect(
          Promise.all([1, 2, 3].map(() => db.transaction((tx) => tx.query('INSERT INTO notes (id, text) VALUES ($1, $2)', [102, 'again'])))),
        ).rejects.toMatchObject({ code: '23505' });
      }
      const ids = await db.transaction(async (tx) => {
        await tx.query('INSERT INTO notes (id, text) VALUES ($1, $2)', [103, 'after the failures']);
        return (await tx.query<{ id: number }>('SELECT id FROM notes WHERE id = ANY($1::int[]) ORDER BY id', [[102, 103]])).rows.map((r) => r.id);
      });
      expect(ids).toEqual([102, 103]);
      expect(await noteCount('again')).toBe(0);
    });

    it('when a statement fails to parse as the first of a transaction, then its name is not taken as prepared on that connection', async () => {
      const broken = 'SELECT no_such_column FROM notes WHERE id = $1';
      for (let round = 0; round < 3; round++) {
        await expect(db.transaction((tx) => tx.query(broken, [1]))).rejects.toMatchObject({ code: '42703' });
      }
      await db.query('ALTER TABLE notes ADD COLUMN IF NOT EXISTS no_such_column text');
      try {
        // Prepared statements are per connection: each of the pool's must parse it afresh now.
        const rows = await Promise.all([1, 2, 3].map(() => db.transaction(async (tx) => (await tx.query(broken, [102])).rows)));
        expect(rows).toEqual([[{ no_such_column: null }], [{ no_such_column: null }], [{ no_such_column: null }]]);
      } finally {
        await db.query('ALTER TABLE notes DROP COLUMN no_such_column');
      }
    });

    it('when BEGIN itself fails, then the statement sent with it does not run, and the connection prepares it again next time', async () => {
      const client = new pg.Client({ connectionString: url, options: '-c search_path=things' });
      await client.connect();
      try {
        const insert = { name: 'begin_test_insert', text: 'INSERT INTO notes (id, text) VALUES ($1, $2)', values: [201, 'must not run alone'] };
        await expect(pipelined(client, [{ text: 'BEGIN ISOLATION LEVEL NONSENSE' }], insert)).rejects.toMatchObject({ code: '42601' });
        expect(client.getTransactionStatus()).toBe('I');
        expect((await client.query('SELECT count(*)::int AS n FROM notes WHERE id = 201')).rows[0].n).toBe(0);

        await pipelined(client, [{ text: 'BEGIN' }], { ...insert, values: [202, 'inside its transaction'] });
        expect(client.getTransactionStatus()).toBe('T');
        await client.query('ROLLBACK');
        expect((await client.query('SELECT count(*)::int AS n FROM notes WHERE id = 202')).rows[0].n).toBe(0);
      } finally {
        await client.end();
      }
    });

    describe('deferred writes (Sql.defer)', () => {
      const INSERT = 'INSERT INTO notes (id, text) VALUES ($1, $2)';
      const texts = async (from: number, to: number) =>
        (await db.query<{ text: string }>('SELECT text FROM notes WHERE id BETWEEN $1 AND $2 ORDER BY id', [from, to])).rows.map((r) => r.text);
      // One connection, so every write below is deferred: only a statement already prepared on the
      // connection is held back (the first use of a text runs at once, and prepares it).
      let one: Db;
      beforeAll(async () => {
        one = createPostgresDb({ connectionString: url, schema: 'things', max: 1 });
        await one.transaction((tx) => tx.query(INSERT, [301, 'prepares the insert']));
      });
      afterAll(async () => {
        await one.close();
      });

      it('when writes are deferred, then they commit with the transaction, in order, and a later read in it sees them', async () => {
        for (let round = 0; round < 6; round++) {
          const base = 400 + round * 10;
          const seen = await one.transaction(async (tx) => {
            await tx.defer!(INSERT, [base + 1, `deferred ${round}.1`]);
            await tx.defer!(INSERT, [base + 2, `deferred ${round}.2`]);
            const read = (await tx.query<{ n: number }>('SELECT count(*)::int AS n FROM notes WHERE id BETWEEN $1 AND $2', [base, base + 9])).rows[0]!.n;
            await tx.defer!(INSERT, [base + 3, `deferred ${round}.3`]);
            return read;
          });
          expect(seen).toBe(2);
          expect(await texts(base, base + 9)).toEqual([`deferred ${round}.1`, `deferred ${round}.2`, `deferred ${round}.3`]);
        }
      });

      it('when a transaction only defers writes, then they all commit (BEGIN, the writes and COMMIT travel together)', async () => {
        for (let round = 0; round < 6; round++) {
          const base = 500 + round * 10;
          await one.transaction(async (tx) => {
            await tx.defer!(INSERT, [base + 1, 'only deferred']);
            await tx.defer!(INSERT, [base + 2, 'only deferred']);
          });
          expect(await texts(base, base + 9)).toEqual(['only deferred', 'only deferred']);
        }
      });

      it('when a deferred write fails, then the transaction fails where it is sent, and nothing of it is committed', async () => {
        for (let round = 0; round < 6; round++) {
          const base = 600 + round * 10;
          // Fails at the COMMIT it travels with.
          await expect(
            one.transaction(async (tx) => {
              await tx.query(INSERT, [base + 1, 'before the failure']);
              await tx.defer!(INSERT, [base + 1, 'the same id again']);
            }),
          ).rejects.toMatchObject({ code: '23505' });
          // Fails at the next statement (the deferring calls themselves resolve); what follows never runs.
          let deferred = 0;
          await expect(
            one.transaction(async (tx) => {
              await tx.defer!(INSERT, [base + 2, 'first']);
              await tx.defer!(INSERT, [base + 2, 'duplicate']);
              deferred = 2;
              await tx.query(INSERT, [base + 3, 'after the failure']);
            }),
          ).rejects.toMatchObject({ code: '23505' });
          expect(deferred).toBe(2);
          expect(await texts(base, base + 9)).toEqual([]);
        }
        expect(await one.transaction(async (tx) => (await tx.query<{ one: number }>('SELECT $1::int AS one', [1])).rows)).toEqual([{ one: 1 }]);
      });

      it('when the work throws after deferring a write, then the write is never sent', async () => {
        await expect(
          one.transaction(async (tx) => {
            await tx.defer!(INSERT, [701, 'never sent']);
            throw new Error('changed its mind');
          }),
        ).rejects.toThrow('changed its mind');
        expect(await texts(700, 709)).toEqual([]);
      });
    });

    it('when the work runs no statement, then the transaction resolves to its value', async () => {
      expect(await db.transaction(async () => 'nothing to do')).toBe('nothing to do');
      expect(await db.transaction(async (tx) => (await tx.query('SELECT 1 AS one')).rows)).toEqual([{ one: 1 }]);
    });
  });

  it('when thousands of statements travel with a step, then the queries and their rows die young: the old generation does not grow with them', async () => {
    // A query promoted to old space is freed only by a collection of the whole heap, and a young
    // collection that promotes copies it and its rows. With the accessor of its prepared name defined
    // on each query, every pipelined query was promoted: 4.7–8 MB of old space per 3,000 of these,
    // against 0.02–0.25 MB since.
    v8.setFlagsFromString('--expose-gc');
    const collectAll = runInNewContext('gc') as () => void;
    const oldSpace = () => v8.getHeapSpaceStatistics().find((space) => space.space_name === 'old_space')!.space_used_size;
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const read = { name: 'notes_up_to', text: 'SELECT id, text FROM things.notes WHERE id <= $1', values: [5] };
      for (let i = 0; i < 300; i++) await pipelined(client, [{ text: 'SELECT 1' }], read);
      collectAll();
      const before = oldSpace();
      for (let i = 0; i < 3_000; i++) await pipelined(client, [{ text: 'SELECT 1' }], read);
      expect(oldSpace() - before).toBeLessThan(2 * 1024 * 1024);
    } finally {
      await client.end();
    }
  });
});
