import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPglite, type SharedPglite } from './pglite';
import type { Db } from './types';

describe('the embedded database on its own thread', () => {
  let pglite: SharedPglite;
  let shop: Db;
  let other: Db;
  const INSERT = 'INSERT INTO notes (id, text) VALUES ($1, $2)';
  const texts = async (db: Db, from: number, to: number) =>
    (await db.query<{ text: string }>('SELECT text FROM notes WHERE id BETWEEN $1 AND $2 ORDER BY id', [from, to])).rows.map((r) => r.text);

  beforeAll(async () => {
    pglite = await openPglite();
    for (const schema of ['shop', 'other']) {
      await pglite.query(`CREATE SCHEMA ${schema}`);
      await pglite.query(`CREATE TABLE ${schema}.notes (id integer PRIMARY KEY, text text NOT NULL, n integer NOT NULL DEFAULT 0 CHECK (n >= 0))`);
    }
    shop = pglite.forSchema('shop');
    other = pglite.forSchema('other');
  });
  afterAll(async () => {
    await pglite?.close();
  });

  it('when values of every kind go in and come back, then they arrive as PostgreSQL gives them to the services', async () => {
    const at = new Date('2026-12-06T10:20:30.456Z');
    const { rows } = await shop.query<Record<string, unknown>>(
      'SELECT $1::int8 AS big, $2::timestamptz AS at, $3::jsonb AS doc, $4::bytea AS bytes, $5::text[] AS tags, $6::boolean AS yes, $7::numeric AS price, $8::text AS nothing',
      [2 ** 40 + 1, at, { quote: 'a "b"', list: [1, 2] }, Buffer.from([0, 1, 255]), ['plain', 'with "quotes", commas', null], true, '12.50', null],
    );
    expect(rows[0]).toEqual({ big: 2 ** 40 + 1, at, doc: { quote: 'a "b"', list: [1, 2] }, bytes: new Uint8Array([0, 1, 255]), tags: ['plain', 'with "quotes", commas', null], yes: true, price: '12.50', nothing: null });
  });

  it('when a statement breaks a rule, then the error keeps the fields PostgreSQL gave it and nothing is written', async () => {
    await shop.query(INSERT, [1, 'first']);
    await expect(shop.query(INSERT, [1, 'again'])).rejects.toMatchObject({ code: '23505', constraint: 'notes_pkey', message: expect.stringContaining('duplicate key') });
    await expect(shop.query('UPDATE notes SET n = -1 WHERE id = $1', [1])).rejects.toMatchObject({ code: '23514', constraint: 'notes_n_check' });
    expect(await texts(shop, 1, 1)).toEqual(['first']);
  });

  it('when statements change rows, then each answers how many it changed', async () => {
    await shop.query(INSERT, [10, 'ten']);
    await shop.query(INSERT, [11, 'eleven']);
    expect((await shop.query('UPDATE notes SET n = n + 1 WHERE id BETWEEN $1 AND $2', [10, 11])).rowCount).toBe(2);
    expect((await shop.query('INSERT INTO notes (id, text) VALUES ($1, $2) ON CONFLICT DO NOTHING', [10, 'ten'])).rowCount).toBe(0);
    expect((await shop.query('DELETE FROM notes WHERE id = ANY($1)', [[10, 11, 12]])).rowCount).toBe(2);
  });

  it('when two schemas work at once, then each statement and transaction runs in its own schema', async () => {
    await Promise.all(
      Array.from({ length: 20 }, (_, i) => {
        const db = i % 2 === 0 ? shop : other;
        return i % 4 < 2 ? db.query(INSERT, [100 + i, db.schema]) : db.transaction((tx) => tx.query(INSERT, [100 + i, db.schema]));
      }),
    );
    expect(new Set(await texts(shop, 100, 119))).toEqual(new Set(['shop']));
    expect(new Set(await texts(other, 100, 119))).toEqual(new Set(['other']));
    expect(await texts(shop, 100, 119)).toHaveLength(10);
  });

  it('when transactions overlap in time, then they never interleave: each one sees only its own uncommitted work', async () => {
    const seen = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        shop.transaction(async (tx) => {
          await tx.query(INSERT, [200 + i, `tx ${i}`]);
          await new Promise((r) => setTimeout(r, 5));
          return (await tx.query<{ n: number }>('SELECT count(*)::int AS n FROM notes WHERE id BETWEEN 200 AND 209')).rows[0]!.n;
        }),
      ),
    );
    // One at a time: the i-th to run sees the i rows committed before it and its own.
    expect([...seen].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('when the work fails after a write, then the write is rolled back and the next transaction starts clean', async () => {
    await expect(
      shop.transaction(async (tx) => {
        await tx.query(INSERT, [300, 'rolled back']);
        throw new Error('changed its mind');
      }),
    ).rejects.toThrow('changed its mind');
    await expect(
      shop.transaction(async (tx) => {
        await tx.query(INSERT, [301, 'rolled back too']);
        await tx.query(INSERT, [301, 'duplicate']);
      }),
    ).rejects.toMatchObject({ code: '23505' });
    expect(await texts(shop, 300, 309)).toEqual([]);
    expect(await other.transaction(async (tx) => (await tx.query<{ path: string }>("SELECT current_setting('search_path') AS path")).rows[0]!.path)).toBe('other, public');
  });

  it('when a statement fails inside a transaction, then going back to a savepoint lets the transaction go on and commit', async () => {
    const outcome = await shop.transaction(async (tx) => {
      await tx.query(INSERT, [400, 'kept']);
      await tx.query('SAVEPOINT second');
      try {
        await tx.query(INSERT, [400, 'duplicate']);
        return 'inserted twice';
      } catch (error) {
        expect(error).toMatchObject({ code: '23505' });
        await tx.query('ROLLBACK TO SAVEPOINT second');
      }
      await tx.query(INSERT, [401, 'after the savepoint']);
      return 'recovered';
    });
    expect(outcome).toBe('recovered');
    expect(await texts(shop, 400, 409)).toEqual(['kept', 'after the savepoint']);
  });

  describe('deferred writes (Sql.defer)', () => {
    it('when writes are deferred, then they commit with the transaction, in order, and a later read in it sees them', async () => {
      const seen = await shop.transaction(async (tx) => {
        await tx.defer!(INSERT, [501, 'deferred 1']);
        await tx.defer!(INSERT, [502, 'deferred 2']);
        const read = (await tx.query<{ n: number }>('SELECT count(*)::int AS n FROM notes WHERE id BETWEEN 500 AND 509')).rows[0]!.n;
        await tx.defer!(INSERT, [503, 'deferred 3']);
        return read;
      });
      expect(seen).toBe(2);
      expect(await texts(shop, 500, 509)).toEqual(['deferred 1', 'deferred 2', 'deferred 3']);
    });

    it('when a deferred write fails, then the transaction fails where it is sent, and nothing of it is committed', async () => {
      await expect(
        shop.transaction(async (tx) => {
          await tx.query(INSERT, [600, 'before the failure']);
          await tx.defer!(INSERT, [600, 'the same id again']);
        }),
      ).rejects.toMatchObject({ code: '23505' });
      let deferred = 0;
      await expect(
        shop.transaction(async (tx) => {
          await tx.defer!(INSERT, [601, 'first']);
          await tx.defer!(INSERT, [601, 'duplicate']);
          deferred = 2;
          await tx.query(INSERT, [602, 'after the failure']);
        }),
      ).rejects.toMatchObject({ code: '23505' });
      expect(deferred).toBe(2);
      expect(await texts(shop, 600, 609)).toEqual([]);
    });

    it('when the work throws after deferring a write, or runs nothing, then nothing is sent', async () => {
      await expect(
        shop.transaction(async (tx) => {
          await tx.defer!(INSERT, [701, 'never sent']);
          throw new Error('changed its mind');
        }),
      ).rejects.toThrow('changed its mind');
      expect(await texts(shop, 700, 709)).toEqual([]);
      expect(await shop.transaction(async () => 'nothing to do')).toBe('nothing to do');
    });
  });

  it('when a transaction notifies a channel, then its listeners hear it once it commits, and not after they stop listening', async () => {
    const heard: string[] = [];
    const unlisten = await shop.listen('note_events', (payload) => heard.push(payload));
    await shop.transaction(async (tx) => {
      await tx.query("SELECT pg_notify('note_events', 'in a transaction')");
      expect(heard).toEqual([]);
    });
    await shop.query("SELECT pg_notify('note_events', 'on its own')");
    await expect.poll(() => heard).toEqual(['in a transaction', 'on its own']);
    await unlisten();
    await shop.query("SELECT pg_notify('note_events', 'unheard')");
    await shop.query('SELECT 1');
    expect(heard).toEqual(['in a transaction', 'on its own']);
  });

  it('when it is closed, then it is no longer ready and later statements fail instead of hanging', async () => {
    const own = await openPglite();
    const db = own.forSchema('public');
    expect(await db.isReady()).toBe(true);
    await own.close();
    expect(await db.isReady()).toBe(false);
    await expect(db.query('SELECT 1')).rejects.toThrow(/embedded database stopped/);
  });
});
