import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../logger';
import { freshPostgresDatabase } from '../testing/index';
import { createPostgresDb } from './postgres';
import { createStatisticsKeeper } from './statistics';
import type { Db } from './types';

describe('statistics keeper on PostgreSQL', () => {
  let db: Db;
  const logger = createLogger('statistics-test', 'silent');

  beforeAll(async () => {
    // One connection: the statement below is planned, and its plan kept, by the backend the test reads through.
    db = createPostgresDb({ connectionString: await freshPostgresDatabase('emporium_statistics_test'), schema: 'keeper', max: 1 });
    await db.query('CREATE SCHEMA IF NOT EXISTS keeper');
    // Like orders: rows of a few columns, a deadline only while a step waits, indexed for the sweep that finds the late ones.
    await db.query("CREATE TABLE steps (id bigserial PRIMARY KEY, owner text NOT NULL, status text NOT NULL DEFAULT 'done', reason text, note text, deadline timestamptz)");
    await db.query('CREATE INDEX steps_by_deadline ON steps (deadline) WHERE deadline IS NOT NULL');
  });
  afterAll(async () => {
    await db.close();
  });

  const finished = (count: number) => db.query("INSERT INTO steps (owner) SELECT 'owner-' || md5(i::text) FROM generate_series(1, $1::int) i", [count]);
  const sweep = () => db.query('SELECT id FROM steps WHERE deadline <= $1 ORDER BY deadline LIMIT 100', [new Date()]);
  /** Sends this backend's counts (rows scanned, changed) to the server's statistics now, not within the next second. */
  const flushCounts = () => db.query('SELECT pg_stat_force_next_flush()');
  /** Rows of `steps` read by sequential scans so far. */
  const rowsScanned = async () => {
    await flushCounts();
    return Number((await db.query<{ n: string }>("SELECT seq_tup_read AS n FROM pg_stat_user_tables WHERE relid = 'keeper.steps'::regclass")).rows[0]!.n);
  };
  const analyzeCount = async () => Number((await db.query<{ n: string }>("SELECT analyze_count AS n FROM pg_stat_user_tables WHERE relid = 'keeper.steps'::regclass")).rows[0]!.n);

  it('when a table grew past what autovacuum would wait for, on a server that does not analyze, then it is analyzed, and a plan made while it was small is made again', async () => {
    await finished(100);
    // From its sixth run, the sweep runs a plan made for a table of a few pages: a scan from its start.
    for (let i = 0; i < 7; i++) await sweep();
    await finished(50_000);
    const before = await rowsScanned();
    await sweep();
    expect(await rowsScanned()).toBeGreaterThanOrEqual(before + 50_000);

    const keeper = createStatisticsKeeper({ db, logger, serverAnalyzes: false });
    expect(await keeper.tick()).toEqual(['keeper.steps']);
    const after = await rowsScanned();
    await sweep();
    await sweep();
    expect(await rowsScanned()).toBe(after);

    // Nothing changed since: nothing is due.
    expect(await keeper.tick()).toEqual([]);
  });

  it('when the server analyzes tables itself, then the keeper leaves them to it', async () => {
    await finished(10_000);
    await flushCounts();
    // Counts ANALYZE commands only, not the server's own (autoanalyze_count).
    const before = await analyzeCount();
    expect(await createStatisticsKeeper({ db, logger, serverAnalyzes: true }).tick()).toEqual([]);
    expect(await analyzeCount()).toBe(before);
  });

  it("when not told, then the keeper follows the server's autovacuum setting", async () => {
    await finished(10_000);
    await flushCounts();
    const autovacuum = (await db.query<{ autovacuum: string }>('SHOW autovacuum')).rows[0]!.autovacuum;
    expect(await createStatisticsKeeper({ db, logger }).tick()).toEqual(autovacuum === 'on' ? [] : ['keeper.steps']);
  });
});
