import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshPostgresDatabase } from '../testing/index';
import { createPostgresDb } from './postgres';
import type { Db, Sql } from './types';

const synchronousCommit = async (sql: Sql) => (await sql.query<{ synchronous_commit: string }>('SHOW synchronous_commit')).rows[0]!.synchronous_commit;

describe('a PostgreSQL database handle', () => {
  let db: Db;

  beforeAll(async () => {
    db = createPostgresDb({ connectionString: await freshPostgresDatabase('emporium_postgres_db_test'), schema: 'things', max: 3, applicationName: 'things' });
    await db.query('CREATE SCHEMA IF NOT EXISTS things');
    await db.query('CREATE TABLE IF NOT EXISTS things.notes (id integer PRIMARY KEY, text text NOT NULL)');
  });
  afterAll(async () => {
    await db?.close();
  });

  it('when asked for asynchronous commit, then those connections do not wait for the WAL flush, in statements and transactions alike, while its own still do', async () => {
    const relaxed = db.asynchronousCommit();
    expect(db.asynchronousCommit()).toBe(relaxed);
    expect(relaxed.asynchronousCommit()).toBe(relaxed);
    expect(await synchronousCommit(relaxed)).toBe('off');
    expect(await relaxed.transaction(synchronousCommit)).toBe('off');
    expect(await synchronousCommit(db)).toBe('on');
    expect(await db.transaction(synchronousCommit)).toBe('on');
    // Staff looking at pg_stat_activity can tell the two apart.
    expect((await relaxed.query<{ name: string }>("SELECT current_setting('application_name') AS name")).rows[0]!.name).toBe('things (asynchronous commit)');
  });

  it('when a row is written through asynchronous commit, then the ordinary connections see it at once, in the same schema', async () => {
    await db.asynchronousCommit().query('INSERT INTO notes (id, text) VALUES ($1, $2)', [1, 'written without waiting']);
    expect((await db.query<{ text: string }>('SELECT text FROM notes WHERE id = 1')).rows).toEqual([{ text: 'written without waiting' }]);
  });

  it('when the handle is closed, then its asynchronous-commit connections are closed with it', async () => {
    const own = createPostgresDb({ connectionString: await freshPostgresDatabase('emporium_postgres_db_close_test'), schema: 'things', max: 1 });
    const relaxed = own.asynchronousCommit();
    await relaxed.query('SELECT 1');
    await own.close();
    await expect(relaxed.query('SELECT 1')).rejects.toThrow();
  });
});
