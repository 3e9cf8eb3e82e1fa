import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT, decodeJwt, decodeProtectedHeader, exportSPKI, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import { createTestPlatform, type TestPlatform } from '@emporium/platform/testing';
import type { Service } from '@emporium/platform';
import { createIdentityService, createTokenVerifier } from '../src/service';
import { createKeyEncryption } from '../src/keys/key-encryption';
import { ACTIVE_KEY_READ_MS, createKeyRing } from '../src/keys/key-ring';
import { createKeysStore } from '../src/store/keys.store';
import { createLogger } from '@emporium/platform';

const ISSUER = 'https://identity.test';
const AUDIENCE = 'emporium-test';
const MINUTE = 60_000;

describe('signing keys, their rotation and the token verifier', () => {
  let platform: TestPlatform;
  let identity: Service;
  let clock = Date.parse('2025-03-01T10:00:00Z');
  const now = () => new Date(clock);

  beforeAll(async () => {
    platform = await createTestPlatform();
    identity = await createIdentityService(platform.deps('identity'), {
      issuer: ISSUER,
      audience: AUDIENCE,
      accessTokenTtlSeconds: 600,
      keyRotationMs: 60 * MINUTE,
      keyEncryptionKey: Buffer.alloc(32, 7).toString('base64'),
      maintenanceIntervalMs: 3_600_000,
      now,
    });
    await identity.start();
  });
  afterAll(async () => {
    await identity.stop();
    await platform.close();
  });

  const post = (url: string, payload?: object) => identity.app.inject({ method: 'POST', url, ...(payload ? { payload } : {}) });
  const jwks = async () => (await identity.app.inject('/.well-known/jwks.json')).json() as { keys: JWK[] };
  const kids = async () => (await jwks()).keys.map((k) => k.kid);
  const verifierAt = async (options: { audience?: string; issuer?: string } = {}) =>
    createTokenVerifier({ jwks: await jwks(), issuer: options.issuer ?? ISSUER, audience: options.audience ?? AUDIENCE, now });
  const guestToken = async (): Promise<string> => (await post('/auth/guest')).json().accessToken;
  const rejection = (promise: Promise<unknown>) => promise.then(() => 'accepted', (error: { code?: string }) => error.code);

  it('when the active key is older than the rotation interval, then a new key signs, the old one stays published until its tokens expire, then goes', async () => {
    const first = decodeProtectedHeader(await guestToken()).kid;
    clock += 59 * MINUTE;
    const signedByOld = await guestToken();
    expect(decodeProtectedHeader(signedByOld).kid).toBe(first);

    clock += 2 * MINUTE;
    const signedByNew = await guestToken();
    const second = decodeProtectedHeader(signedByNew).kid;
    expect(second).not.toBe(first);
    expect(await kids()).toEqual([second, first]);
    const verifier = await verifierAt();
    expect((await verifier.verify(signedByOld)).type).toBe('guest');
    expect((await verifier.verify(signedByNew)).type).toBe('guest');

    // The old key's last token expires 8 min after rotation; the key is kept 10 min + 1 min of skew.
    clock += 10 * MINUTE;
    await identity.app.inject('/health/live');
    expect(await kids()).toContain(first);
    clock += 2 * MINUTE;
    expect(await kids()).toEqual([second]);
    expect(await rejection((await verifierAt()).verify(signedByOld))).toMatch(/^AUTH\./);
  });

  it('when tokens are forged or misused, then the verifier rejects each of them', async () => {
    const token = await guestToken();
    const verifier = await verifierAt();
    expect((await verifier.verify(token)).subject).toMatch(/^gst_/);
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const claims = decodeJwt(token);
    const { kid } = decodeProtectedHeader(token);
    const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

    const none = `${encode({ alg: 'none', typ: 'at+jwt', kid })}.${payload}.`;
    const publicJwk = (await jwks()).keys.find((k) => k.kid === kid)!;
    const publicPem = await exportSPKI((await importJWK(publicJwk, 'ES256')) as CryptoKey);
    const hs256 = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid }).sign(new TextEncoder().encode(publicPem));
    const hs256Jwk = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid }).sign(new TextEncoder().encode(JSON.stringify(publicJwk)));
    const tampered = `${header}.${encode({ ...claims, sub: 'gst_someone_else' })}.${signature}`;
    const stranger = await generateKeyPair('ES256');
    const foreign = await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid }).sign(stranger.privateKey);
    const unknownKid = await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'key_unknown' }).sign(stranger.privateKey);

    expect(await rejection(verifier.verify(none))).toBe('AUTH.INVALID_TOKEN');
    expect(await rejection(verifier.verify(hs256))).toBe('AUTH.INVALID_TOKEN');
    expect(await rejection(verifier.verify(hs256Jwk))).toBe('AUTH.INVALID_TOKEN');
    expect(await rejection(verifier.verify(tampered))).toBe('AUTH.INVALID_TOKEN');
    expect(await rejection(verifier.verify(foreign))).toBe('AUTH.INVALID_TOKEN');
    expect(await rejection(verifier.verify(unknownKid))).toBe('AUTH.INVALID_TOKEN');
    expect(await rejection((await verifierAt({ audience: 'another-app' })).verify(token))).toBe('AUTH.INVALID_TOKEN');
    expect(await rejection((await verifierAt({ issuer: 'https://evil.test' })).verify(token))).toBe('AUTH.INVALID_TOKEN');
    expect(await rejection(verifier.verify('garbage'))).toBe('AUTH.INVALID_TOKEN');

    clock += 10 * MINUTE + 6_000;
    expect(await rejection(verifier.verify(token))).toBe('AUTH.TOKEN_EXPIRED');
    const me = await identity.app.inject({ method: 'GET', url: '/auth/me', headers: { authorization: `Bearer ${token}` } });
    expect(me.json()).toMatchObject({ status: 401, code: 'AUTH.TOKEN_EXPIRED' });
  });

  it('when the gateway verifies through the JWKS URL, then it picks up a rotated key without restarting', async () => {
    await identity.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = identity.app.server.address() as AddressInfo;
    const verifier = createTokenVerifier({ jwksUrl: `http://127.0.0.1:${port}/.well-known/jwks.json`, issuer: ISSUER, audience: AUDIENCE, now, refetchCooldownMs: 200 });
    const before = await guestToken();
    expect((await verifier.verify(before)).type).toBe('guest');
    clock += 61 * MINUTE;
    const after = await guestToken();
    expect(decodeProtectedHeader(after).kid).not.toBe(decodeProtectedHeader(before).kid);
    await new Promise((r) => setTimeout(r, 250)); // the verifier refetches an unknown kid at most every refetchCooldownMs
    expect((await verifier.verify(after)).type).toBe('guest');
  });

  it('when another instance rotates the key, then this one signs with the new key once its read of the active key is ACTIVE_KEY_READ_MS old, and its tokens meanwhile still verify', async () => {
    const other = createKeyRing({
      store: createKeysStore(platform.deps('identity').db),
      encryption: async () => createKeyEncryption(Buffer.alloc(32, 7)),
      rotationMs: 60 * MINUTE,
      retainMs: 11 * MINUTE,
      now,
      logger: createLogger('other-identity', 'silent'),
    });
    const before = decodeProtectedHeader(await guestToken()).kid;
    clock += 1_000; // the new key is the newer one
    expect(await other.rotate(true)).toBe(true);
    const rotated = (await jwks()).keys[0]!.kid;
    expect(rotated).not.toBe(before);

    // Signed with the key this instance read less than ACTIVE_KEY_READ_MS ago: retired, still published.
    const meanwhile = await guestToken();
    expect(decodeProtectedHeader(meanwhile).kid).toBe(before);
    expect((await (await verifierAt()).verify(meanwhile)).type).toBe('guest');

    clock += ACTIVE_KEY_READ_MS;
    expect(decodeProtectedHeader(await guestToken()).kid).toBe(rotated);
  });

  it('when the key-encryption key changes, then the undecryptable key is retired and a new one signs', async () => {
    const sealedWithOldKey = decodeProtectedHeader(await guestToken()).kid;
    const restarted = await createIdentityService(platform.deps('identity'), {
      issuer: ISSUER,
      audience: AUDIENCE,
      accessTokenTtlSeconds: 600,
      keyRotationMs: 60 * MINUTE,
      keyEncryptionKey: Buffer.alloc(32, 9).toString('hex'),
      now,
    });
    await restarted.start();
    const token = (await restarted.app.inject({ method: 'POST', url: '/auth/guest' })).json().accessToken;
    await restarted.stop();
    expect(decodeProtectedHeader(token).kid).not.toBe(sealedWithOldKey);
    expect(await kids()).toContain(sealedWithOldKey);
  });
});
