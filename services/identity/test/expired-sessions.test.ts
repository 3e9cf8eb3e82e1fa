import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, type TestPlatform } from '@emporium/platform/testing';
import { PRUNE_BATCH, type Db, type Service } from '@emporium/platform';
import { createIdentityService } from '../src/service';
import { createIdentityStore } from '../src/store/identity.store';

describe('expired sign-in sessions on the embedded database', () => {
  let platform: TestPlatform;
  let identity: Service;
  let db: Db;

  beforeAll(async () => {
    platform = await createTestPlatform();
    db = platform.deps('identity').db;
    identity = await createIdentityService(platform.deps('identity'), { issuer: 'https://identity.test', audience: 'emporium-test', maintenanceIntervalMs: 3_600_000 });
    await identity.start();
  });
  afterAll(async () => {
    await identity.stop();
    await platform.close();
  });

  const NOW = new Date('2026-12-07T12:00:00Z');
  const hour = (h: number) => new Date(NOW.getTime() + h * 3_600_000);
  /** A family of one guest's sign-in and its refresh tokens, each expiring at the given time. */
  const family = async (id: string, expiries: Date[]) => {
    await db.query("INSERT INTO refresh_families (id, subject_type, subject_id, created_at) VALUES ($1, 'guest', $2, $3)", [id, `gst_${id}`, hour(-48)]);
    for (const [i, expiresAt] of expiries.entries()) {
      await db.query('INSERT INTO refresh_tokens (token_hash, family_id, issued_at, expires_at) VALUES ($1, $2, $3, $4)', [`${id}-${i}`, id, hour(-48), expiresAt]);
    }
  };
  const ids = async (sql: string) => (await db.query<{ id: string }>(sql)).rows.map((r) => r.id).sort();

  it('when refresh tokens expire, then they are deleted with the families they leave without a token, and a family with a live token stays', async () => {
    await family('ended', [hour(-1)]);
    await family('rotated', [hour(-2), hour(+24)]);
    await family('live', [hour(+1)]);
    // More expired sessions than one batch deletes.
    await db.query(
      `WITH f AS (INSERT INTO refresh_families (id, subject_type, subject_id, created_at) SELECT 'old-' || i, 'guest', 'gst_old-' || i, $2 FROM generate_series(1, $1::int) i RETURNING id)
       INSERT INTO refresh_tokens (token_hash, family_id, issued_at, expires_at) SELECT id || '-0', id, $2, $3 FROM f`,
      [PRUNE_BATCH + 500, hour(-48), hour(-3)],
    );

    expect(await createIdentityStore(db, 'identity').deleteExpired(NOW)).toBe(PRUNE_BATCH + 502);

    expect(await ids("SELECT id FROM refresh_families WHERE id IN ('ended', 'rotated', 'live') OR id LIKE 'old-%'")).toEqual(['live', 'rotated']);
    expect(await ids("SELECT token_hash AS id FROM refresh_tokens WHERE family_id IN ('ended', 'rotated', 'live') OR family_id LIKE 'old-%'")).toEqual(['live-0', 'rotated-1']);
    expect(await createIdentityStore(db, 'identity').deleteExpired(NOW)).toBe(0);
  });
});
