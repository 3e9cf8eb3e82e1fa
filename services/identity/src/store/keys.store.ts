import type { Db } from '@emporium/platform';
import type { Jwks } from '@emporium/contracts';

type PublicJwk = Jwks['keys'][number];

export interface SigningKeyRow {
  kid: string;
  alg: string;
  public_jwk: PublicJwk;
  private_key: string;
  created_at: Date;
  retired_at: Date | null;
  publish_until: Date | null;
}

export interface NewSigningKey {
  kid: string;
  alg: string;
  publicJwk: PublicJwk;
  sealedPrivateKey: string;
}

export function createKeysStore(db: Db) {
  return {
    /** The stored value of a setting, storing `create()`'s first if there is none (races: the first writer wins). */
    async setting(name: string, create: () => string): Promise<string> {
      await db.query('INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING', [name, create()]);
      const { rows } = await db.query<{ value: string }>('SELECT value FROM settings WHERE name = $1', [name]);
      return rows[0]!.value;
    },

    async activeKey(): Promise<SigningKeyRow | undefined> {
      const { rows } = await db.query<SigningKeyRow>('SELECT * FROM signing_keys WHERE retired_at IS NULL ORDER BY created_at DESC, kid LIMIT 1');
      return rows[0];
    },

    /** Keys that may have signed a token still valid at `now`: the active one and the recently retired. */
    async publishedKeys(now: Date): Promise<SigningKeyRow[]> {
      const { rows } = await db.query<SigningKeyRow>(
        'SELECT * FROM signing_keys WHERE retired_at IS NULL OR publish_until > $1 ORDER BY created_at DESC, kid',
        [now],
      );
      return rows;
    },

    /**
     * Retires the active key and stores a new one when `due(active)` says so (or there is none).
     * One instance at a time decides (advisory lock), so concurrent rotations do not pile up keys.
     */
    async rotateIf(
      due: (active: SigningKeyRow | undefined) => boolean,
      now: Date,
      publishUntil: Date,
      create: () => Promise<NewSigningKey>,
    ): Promise<boolean> {
      return db.transaction(async (tx) => {
        await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`identity:rotate:${db.schema}`]);
        const { rows } = await tx.query<SigningKeyRow>('SELECT * FROM signing_keys WHERE retired_at IS NULL ORDER BY created_at DESC, kid');
        if (!due(rows[0])) return false;
        await tx.query('UPDATE signing_keys SET retired_at = $1, publish_until = $2 WHERE retired_at IS NULL', [now, publishUntil]);
        const key = await create();
        await tx.query(
          'INSERT INTO signing_keys (kid, alg, public_jwk, private_key, created_at) VALUES ($1, $2, $3::jsonb, $4, $5)',
          [key.kid, key.alg, JSON.stringify(key.publicJwk), key.sealedPrivateKey, now],
        );
        return true;
      });
    },

    /** Deletes keys no longer published; resolves to how many. */
    async purge(now: Date): Promise<number> {
      const { rowCount } = await db.query('DELETE FROM signing_keys WHERE publish_until IS NOT NULL AND publish_until <= $1', [now]);
      return rowCount;
    },
  };
}

export type KeysStore = ReturnType<typeof createKeysStore>;
