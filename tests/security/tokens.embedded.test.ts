import { exportJWK, generateKeyPair, type CryptoKey } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EmbeddedPlatform } from '@emporium/launcher/embedded';
import { signUpCustomer, type Session } from '../support/auth';
import { call, expectProblem, show } from './support/platform';
import { startSecurityPlatform } from './support/platform';
import { claimsFor, decodePart, identitySigningKey, KEY_ENCRYPTION_KEY, publicPem, sign, tamper, unsigned } from './support/tokens';

/**
 * ADR 0009: the gateway verifies every access token it is sent (ES256, typ at+jwt, issuer,
 * audience, expiry), on protected and public routes alike. Each bad token below differs from a
 * good one in one way only; the good one is shown to pass first, so a 401 is about that one way.
 */
const TTL_SECONDS = 3;

describe('access tokens at the gateway', () => {
  let platform: EmbeddedPlatform;
  let customer: Session;
  let signingKey: { kid: string; key: CryptoKey };

  /** Routes a token is checked on: the gateway's (shopper, owner, public) and identity's own. */
  const routes = (c: Session) => [
    { method: 'GET', path: '/api/orders' },
    { method: 'GET', path: `/cart/${c.id}` },
    { method: 'GET', path: '/products' },
    { method: 'GET', path: '/auth/me' },
  ];
  const withToken = (token: string) => ({ authorization: `Bearer ${token}` });
  /** A good token (the control proves it passes): identity's real ones live only TTL_SECONDS here. */
  const good = () => sign(claimsFor(customer.id), signingKey.key, { alg: 'ES256', kid: signingKey.kid });

  beforeAll(async () => {
    platform = await startSecurityPlatform({ identity: { accessTokenTtlSeconds: TTL_SECONDS, keyEncryptionKey: KEY_ENCRYPTION_KEY } });
    customer = await signUpCustomer(platform.url);
    signingKey = await identitySigningKey(platform);
  }, 120_000);
  afterAll(() => platform?.stop(), 60_000);

  it('when a token is minted with identity’s own key and proper claims, then every route accepts it (the control for the cases below)', async () => {
    const token = await good();
    for (const route of routes(customer)) {
      const res = await call(platform.url, route.method, route.path, { headers: withToken(token) });
      expect(res.status, `${route.method} ${route.path}: ${show(res)}`).toBe(200);
    }
  });

  it('when no token is sent to a protected route, then 401 AUTH.MISSING_TOKEN with WWW-Authenticate: Bearer', async () => {
    for (const path of ['/api/orders', `/cart/${customer.id}`, '/api/payments?orderId=ord_0000000000000000', '/shipments?orderId=x', '/discounts', '/auth/me']) {
      const res = await call(platform.url, 'GET', path);
      expectProblem(res, 401);
      expect(res.json?.code, path).toBe('AUTH.MISSING_TOKEN');
      if (!path.startsWith('/auth/')) expect(res.headers.get('www-authenticate') ?? '', path).toMatch(/^Bearer/);
    }
  });

  const badTokens: Array<{ name: string; make: () => Promise<string> | string }> = [
    { name: 'garbage', make: () => 'not-a-token' },
    { name: 'three dots of garbage', make: () => 'abc.def.ghi' },
    { name: 'empty signature', make: async () => `${(await good()).split('.').slice(0, 2).join('.')}.` },
    { name: 'tampered payload (another subject), signature kept', make: async () => tamper(await good(), (c) => ({ ...c, sub: 'cus_someoneelse' })) },
    { name: 'tampered payload (made staff admin), signature kept', make: async () => tamper(await good(), (c) => ({ ...c, typ: 'staff', roles: ['admin'] })) },
    { name: 'tampered payload (later expiry), signature kept', make: async () => tamper(await good(), (c) => ({ ...c, exp: Number(c.exp) + 3600 })) },
    { name: 'alg: none', make: async () => unsigned(await good()) },
    {
      name: 'signed by another key with identity’s kid',
      make: async () => {
        const { privateKey } = await generateKeyPair('ES256');
        return sign(claimsFor(customer.id), privateKey, { alg: 'ES256', kid: signingKey.kid });
      },
    },
    {
      name: 'signed by another key with its own kid',
      make: async () => {
        const { privateKey, publicKey } = await generateKeyPair('ES256');
        return sign(claimsFor(customer.id), privateKey, { alg: 'ES256', kid: (await exportJWK(publicKey)).kid ?? 'attacker-key' });
      },
    },
    {
      name: 'HS256 signed with the public key as the secret',
      make: async () => {
        const jwks = (await call(platform.url, 'GET', '/.well-known/jwks.json')).json as { keys: Array<Record<string, unknown>> };
        const jwk = jwks.keys.find((k) => k.kid === signingKey.kid)!;
        return sign(claimsFor(customer.id), new TextEncoder().encode(publicPem(jwk)), { alg: 'HS256', kid: signingKey.kid });
      },
    },
    { name: 'expired (identity’s key)', make: () => sign(claimsFor(customer.id, { iat: Math.floor(Date.now() / 1000) - 3600, exp: Math.floor(Date.now() / 1000) - 60 }), signingKey.key, { alg: 'ES256', kid: signingKey.kid }) },
    { name: 'wrong issuer (identity’s key)', make: () => sign(claimsFor(customer.id, { iss: 'https://evil.example/identity' }), signingKey.key, { alg: 'ES256', kid: signingKey.kid }) },
    { name: 'wrong audience (identity’s key)', make: () => sign(claimsFor(customer.id, { aud: 'another-app' }), signingKey.key, { alg: 'ES256', kid: signingKey.kid }) },
    { name: 'not an access token: typ JWT (identity’s key)', make: () => sign(claimsFor(customer.id), signingKey.key, { alg: 'ES256', kid: signingKey.kid, typ: 'JWT' }) },
    { name: 'unknown kid (identity’s key)', make: () => sign(claimsFor(customer.id), signingKey.key, { alg: 'ES256', kid: 'key_unknown' }) },
  ];

  for (const bad of badTokens) {
    it(`when the token is ${bad.name}, then every route answers 401 problem+json`, async () => {
      const token = await bad.make();
      for (const route of routes(customer)) {
        const res = await call(platform.url, route.method, route.path, { headers: withToken(token) });
        expect(res.status, `${route.method} ${route.path} with ${bad.name}: ${show(res)}`).toBe(401);
        expectProblem(res, 401);
        expect(String(res.json?.code), show(res)).toMatch(/^AUTH\.(INVALID_TOKEN|TOKEN_EXPIRED|MISSING_TOKEN)$/);
      }
    });
  }

  it('when the Authorization header is not a Bearer token, then 401', async () => {
    for (const header of ['Basic dXNlcjpwYXNz', 'Bearer', 'Bearer ', `Token ${await good()}`, `Bearer ${await good()} extra`]) {
      const res = await call(platform.url, 'GET', '/api/orders', { headers: { authorization: header } });
      expectProblem(res, 401);
    }
  });

  it(`when identity's own token outlives its ${TTL_SECONDS} s lifetime (plus the 5 s clock skew), then it is refused as expired though it was accepted before`, async () => {
    const session = await signUpCustomer(platform.url);
    const exp = Number(decodePart(session.accessToken.split('.')[1]!).exp);
    const before = await call(platform.url, 'GET', '/api/orders', { headers: session.headers });
    expect(before.status, show(before)).toBe(200);
    await new Promise((r) => setTimeout(r, Math.max(0, exp * 1000 + 5_000 + 1_500 - Date.now())));
    for (const route of routes(session)) {
      const after = await call(platform.url, route.method, route.path, { headers: session.headers });
      expectProblem(after, 401);
      expect(after.json?.code, `${route.path}: ${show(after)}`).toBe('AUTH.TOKEN_EXPIRED');
    }
  }, 30_000);
});
