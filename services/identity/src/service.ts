import { createHmac, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { createHttpApp, createIdempotency, defineService, every, type Service, type ServiceDeps } from '@emporium/platform';
import { createAuth } from './auth';
import { decodeKeyEncryptionKey, loadIdentityConfig } from './config';
import { createPasswordHasher } from './domain/passwords';
import { authRoutes, verifiedCaller } from './http/auth.routes';
import { jwksRoutes } from './http/jwks.routes';
import { createKeyEncryption } from './keys/key-encryption';
import { createKeyRing } from './keys/key-ring';
import { createTokenIssuer } from './keys/token-issuer';
import { createIdentityStore } from './store/identity.store';
import { createKeysStore } from './store/keys.store';
import { createTokenVerifier } from './verify';

export { createTokenVerifier, bearerToken, ACCESS_TOKEN_ALG, type TokenVerifier, type TokenVerifierOptions, type VerifiedToken } from './verify';

export const SERVICE = 'identity';
const MIGRATIONS = fileURLToPath(new URL('../migrations', import.meta.url));

/** Every option defaults to its environment key (config.ts), then to the documented default. */
export interface IdentityOptions {
  issuer?: string;
  audience?: string;
  accessTokenTtlSeconds?: number;
  refreshTokenTtlSeconds?: number;
  /** A new signing key once the active one is this old. */
  keyRotationMs?: number;
  /** 32 bytes, base64 or hex. Without it a generated key is kept in the database (embedded mode only). */
  keyEncryptionKey?: string;
  /** The first admin, created at start when no staff account has that email. */
  admin?: { email: string; password: string };
  /** How often keys are rotated/unpublished and expired refresh tokens deleted in the background. */
  maintenanceIntervalMs?: number;
  /** The service's clock (tests). */
  now?: () => Date;
}

const once = <T>(load: () => Promise<T>): (() => Promise<T>) => {
  let value: Promise<T> | undefined;
  return () => (value ??= load().catch((error: unknown) => {
    value = undefined;
    throw error;
  }));
};

export async function createIdentityService(deps: ServiceDeps, options: IdentityOptions = {}): Promise<Service> {
  const env = loadIdentityConfig();
  const now = options.now ?? (() => new Date());
  const issuerName = options.issuer ?? env.IDENTITY_ISSUER;
  const audience = options.audience ?? env.IDENTITY_AUDIENCE;
  const accessSeconds = options.accessTokenTtlSeconds ?? env.IDENTITY_ACCESS_TOKEN_TTL_SECONDS;
  const refreshSeconds = options.refreshTokenTtlSeconds ?? env.IDENTITY_REFRESH_TOKEN_TTL_DAYS * 86_400;
  const keyEncryptionKey = options.keyEncryptionKey ?? env.IDENTITY_KEY_ENCRYPTION_KEY;
  const admin = options.admin ?? (env.IDENTITY_ADMIN_EMAIL && env.IDENTITY_ADMIN_PASSWORD ? { email: env.IDENTITY_ADMIN_EMAIL, password: env.IDENTITY_ADMIN_PASSWORD } : undefined);
  const logger = deps.logger;

  const app = await createHttpApp({
    service: SERVICE,
    description: 'Customers, staff and guests: sign-up, sign-in, access and refresh tokens, the JWKS that verifies them.',
    logger,
    metrics: deps.metrics,
    readiness: { database: deps.db.isReady, bus: deps.bus.isReady },
    bodyLimit: 16 * 1024,
  });
  const keysStore = createKeysStore(deps.db);
  const store = createIdentityStore(deps.db, SERVICE);

  const saltKey = once(async () => Buffer.from(await keysStore.setting('password_salt_key', () => randomBytes(32).toString('base64')), 'base64'));
  const encryption = once(async () => {
    if (keyEncryptionKey) return createKeyEncryption(decodeKeyEncryptionKey(keyEncryptionKey));
    logger.warn('IDENTITY_KEY_ENCRYPTION_KEY is not set: signing keys are sealed with a generated key kept in the database (embedded mode only)');
    return createKeyEncryption(Buffer.from(await keysStore.setting('key_encryption_key', () => randomBytes(32).toString('base64')), 'base64'));
  });
  const ring = createKeyRing({
    store: keysStore,
    encryption,
    rotationMs: options.keyRotationMs ?? env.IDENTITY_KEY_ROTATION_HOURS * 3_600_000,
    // A retired key stays published as long as the last token it signed can live, plus clock skew.
    retainMs: accessSeconds * 1000 + 60_000,
    now,
    logger: logger.child({ component: 'keys' }),
  });
  const verifier = createTokenVerifier({ jwks: () => ring.jwks(), issuer: issuerName, audience, now });
  const auth = createAuth({
    store,
    hasher: createPasswordHasher(saltKey),
    issuer: createTokenIssuer({ ring, issuer: issuerName, audience, accessSeconds, now }),
    verifier,
    lifetimes: { accessSeconds, refreshSeconds },
    now,
    logger,
  });
  const idempotency = createIdempotency({
    db: deps.db,
    logger,
    principal: verifiedCaller,
    // The body of a new staff account holds its password: what is stored is keyed by a secret of this installation.
    requestHashKey: once(async () => createHmac('sha256', await saltKey()).update('idempotency-request-hash').digest()),
  });
  authRoutes(app, auth, idempotency);
  jwksRoutes(app, ring);

  const service = defineService({
    name: SERVICE,
    deps,
    app,
    migrationsDir: MIGRATIONS,
    background: [
      idempotency.cleanupTask(),
      every(options.maintenanceIntervalMs ?? 60_000, logger, 'identity-maintenance', async () => {
        await ring.maintain();
        await store.deleteExpired(now());
      }),
    ],
  });
  return {
    ...service,
    async start() {
      await service.start();
      await ring.signingKey();
      if (admin) await auth.ensureFirstAdmin(admin.email, admin.password);
    },
  };
}
