import { exportJWK, exportPKCS8, generateKeyPair, importPKCS8, type CryptoKey } from 'jose';
import type { Jwks } from '@emporium/contracts';
import type { Logger } from '@emporium/platform';
import { newId } from '../domain/tokens';
import { ACCESS_TOKEN_ALG } from '../verify';
import type { KeyEncryption } from './key-encryption';
import type { KeysStore, SigningKeyRow } from '../store/keys.store';

export interface KeyRingOptions {
  store: KeysStore;
  /** Resolved on first use: the key-encryption key may live in the database (embedded mode). */
  encryption: () => Promise<KeyEncryption>;
  /** A new signing key once the active one is this old. */
  rotationMs: number;
  /** How long a retired key stays published: the longest a token it signed can live, plus clock skew. */
  retainMs: number;
  now: () => Date;
  logger: Logger;
}

export interface KeyRing {
  /** The key to sign with now, rotating first when the active one is due. */
  signingKey(): Promise<{ kid: string; key: CryptoKey }>;
  /** Public keys of every key whose tokens may still be valid. */
  jwks(): Promise<Jwks>;
  /** Rotates if due (or now, when forced); resolves to whether a new key was made. */
  rotate(force?: boolean): Promise<boolean>;
  /** Rotation and removal of keys no longer needed: the background task. */
  maintain(): Promise<void>;
}

/**
 * How long a process signs with the active key it read before it reads it again (a token used to
 * cost that read). Another instance's rotation reaches this one up to this much later; the tokens it
 * signs meanwhile still verify, since a retired key stays published for the tokens' lifetime plus a
 * minute of clock skew. A rotation made here takes effect here at once.
 */
export const ACTIVE_KEY_READ_MS = 5_000;

/**
 * Signing keys live in the database (private halves sealed with AES-256-GCM), so every instance
 * signs with the same active key and publishes the same set. Private keys are decrypted once per
 * process and kept in memory, and the active key's row is read again every ACTIVE_KEY_READ_MS.
 */
export function createKeyRing(options: KeyRingOptions): KeyRing {
  const { store, now, logger } = options;
  const privateKeys = new Map<string, CryptoKey>();
  const isDue = (active: SigningKeyRow | undefined) => !active || active.created_at.getTime() + options.rotationMs <= now().getTime();
  let lastRead: { row: SigningKeyRow; at: number } | undefined;
  const activeKey = async (): Promise<SigningKeyRow | undefined> => {
    const at = now().getTime();
    if (lastRead && at >= lastRead.at && at - lastRead.at < ACTIVE_KEY_READ_MS) return lastRead.row;
    const row = await store.activeKey();
    lastRead = row ? { row, at } : undefined;
    return row;
  };

  const create = async (encryption: KeyEncryption) => {
    const { publicKey, privateKey } = await generateKeyPair(ACCESS_TOKEN_ALG, { extractable: true });
    const kid = newId('key');
    const jwk = await exportJWK(publicKey);
    privateKeys.set(kid, privateKey);
    return {
      kid,
      alg: ACCESS_TOKEN_ALG,
      publicJwk: { kty: jwk.kty!, crv: jwk.crv, x: jwk.x, y: jwk.y, kid, alg: ACCESS_TOKEN_ALG, use: 'sig' },
      sealedPrivateKey: encryption.encrypt(await exportPKCS8(privateKey), kid),
    };
  };

  const rotateWhen = async (due: (active: SigningKeyRow | undefined) => boolean) => {
    // Resolved before the transaction: it may read the database itself.
    const encryption = await options.encryption();
    const at = now();
    const rotated = await store.rotateIf(due, at, new Date(at.getTime() + options.retainMs), () => create(encryption));
    // Read again next time: this instance's rotation, or another's that rotateIf found, is the news.
    lastRead = undefined;
    if (rotated) logger.info('signing key rotated');
    return rotated;
  };

  const unseal = async (row: SigningKeyRow): Promise<CryptoKey | undefined> => {
    const cached = privateKeys.get(row.kid);
    if (cached) return cached;
    try {
      const key = await importPKCS8((await options.encryption()).decrypt(row.private_key, row.kid), ACCESS_TOKEN_ALG);
      privateKeys.set(row.kid, key);
      return key;
    } catch (error) {
      // Typically IDENTITY_KEY_ENCRYPTION_KEY changed: its tokens still verify (public key), but it can sign no more.
      logger.error({ err: error, kid: row.kid }, 'signing key cannot be decrypted; retiring it');
      return undefined;
    }
  };

  return {
    async signingKey() {
      for (let attempt = 0; attempt < 3; attempt++) {
        let active = await activeKey();
        if (isDue(active)) {
          await rotateWhen(isDue);
          active = await activeKey();
        }
        if (!active) continue;
        const key = await unseal(active);
        if (key) return { kid: active.kid, key };
        await rotateWhen((current) => current?.kid === active.kid);
      }
      throw new Error('no usable signing key');
    },
    async jwks() {
      return { keys: (await store.publishedKeys(now())).map((row) => row.public_jwk) };
    },
    rotate: (force = false) => rotateWhen((active) => force || isDue(active)),
    async maintain() {
      await rotateWhen(isDue);
      const purged = await store.purge(now());
      if (purged > 0) logger.info({ purged }, 'retired signing keys unpublished');
    },
  };
}
