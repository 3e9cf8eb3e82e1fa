import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresDb, migrate, type Db } from '@emporium/platform';
import { freshPostgresDatabase } from '@emporium/platform/testing';
import { createIdentityStore } from '../src/store/identity.store';

const MIGRATIONS = fileURLToPath(new URL('../migrations', import.meta.url));

describe('expired sign-in sessions on PostgreSQL, among many live ones', () => {
  let db: Db;

  beforeAll(async () => {
    // One connection, so the counts the test flushes are those of the statements it ran.
    db = createPostgresDb({ connectionString: await freshPostgresDatabase('emporium_identity_sessions_test'), schema: 'identity', max: 1 });
    await migrate(db, MIGRATIONS);
  });
  afterAll(async () => {
    await db.close();
  });

  /** `count` families of one refresh token each, expiring at `expiresAt`. */
  const sessions = (prefix: string, count: number, expiresAt: Date) =>
    db.query(
      `WITH f AS (INSERT INTO refresh_families (id, subject_type, subject_id, created_at) SELECT $1 || i, 'guest', 'gst_' || $1 || i, now() FROM generate_series(1, $2::int) i RETURNING id)
       INSERT INTO refresh_tokens (token_hash, family_id, issued_at, expires_at) SELECT md5(id), id, now(), $3 FROM f`,
      [prefix, count, expiresAt],
    );
  /** Rows of the two tables read by sequential scans so far (this backend's counts flushed first). */
  const rowsScanned = async () => {
    await db.query('SELECT pg_stat_force_next_flush()');
    const { rows } = await db.query<{ relname: string; n: string }>(
      "SELECT relname, seq_tup_read AS n FROM pg_stat_user_tables WHERE relname IN ('refresh_families', 'refresh_tokens')",
    );
    return rows.reduce((sum, r) => sum + Number(r.n), 0);
  };

  it('when a few sessions expired among many live ones, then the cleanup reads the expired ones, not every session', async () => {
    await sessions('live-', 20_000, new Date(Date.now() + 86_400_000));
    await sessions('ended-', 10, new Date(Date.now() - 1_000));
    await db.query('ANALYZE refresh_families, refresh_tokens');
    const before = await rowsScanned();
    expect(await createIdentityStore(db, 'identity').deleteExpired(new Date())).toBe(10);
    expect(await rowsScanned()).toBe(before);
    expect(Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM refresh_families')).rows[0]!.n)).toBe(20_000);
  });
});
