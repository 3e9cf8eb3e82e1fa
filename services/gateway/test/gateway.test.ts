import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Fastify, { type FastifyInstance } from 'fastify';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { createLogger, createMetrics, createTokenVerifier } from '@emporium/platform';
import { createGateway, type Gateway, type GatewayOptions } from '../src/gateway';

const ISSUER = 'https://emporium.test/identity';
const AUDIENCE = 'emporium';

describe('gateway', () => {
  let upstream: FastifyInstance;
  let up: string;
  let key: CryptoKey;
  const gateways: Gateway[] = [];

  const token = async (sub: string, extra: { roles?: string[]; expiresIn?: number; iss?: string } = {}) => {
    const typ = sub.startsWith('stf_') ? 'staff' : sub.startsWith('gst_') ? 'guest' : 'customer';
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ typ, ...(extra.roles ? { roles: extra.roles } : {}) })
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'k1' })
      .setSubject(sub)
      .setIssuer(extra.iss ?? ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt(now)
      .setExpirationTime(now + (extra.expiresIn ?? 600))
      .setJti(randomUUID())
      .sign(key);
  };
  const bearer = async (sub: string, extra?: Parameters<typeof token>[1]) => ({ authorization: `Bearer ${await token(sub, extra)}` });

  const start = async (options: Partial<GatewayOptions> = {}) => {
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    key = privateKey;
    const gateway = await createGateway({
      logger: createLogger('gateway', 'silent'),
      metrics: createMetrics('gateway', { defaultMetrics: false }),
      upstreams: { catalog: up, cart: up, inventory: up, orders: up, payments: up, shipping: 'http://127.0.0.1:1', identity: up },
      verifier: createTokenVerifier({ jwks: { keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }] }, issuer: ISSUER, audience: AUDIENCE }),
      rateLimits: { client: false, account: false, signIn: false },
      ...options,
    });
    gateways.push(gateway);
    return gateway;
  };

  let gateway: Gateway;
  const productReads = new Map<string, number>();

  beforeAll(async () => {
    // A stand-in upstream that echoes what it received, so the gateway itself is what is tested.
    upstream = Fastify();
    upstream.all('/*', async (request) => ({
      method: request.method,
      url: request.url,
      body: request.body ?? null,
      requestId: request.headers['x-request-id'],
      correlationId: request.headers['x-correlation-id'],
      principal: { type: request.headers['x-principal-type'], id: request.headers['x-principal-id'] ?? null, roles: request.headers['x-principal-roles'] ?? null },
      authorization: request.headers.authorization ?? null,
    }));
    // Product reads count their calls; `pub-*` ones may be kept by a shared cache, the others may not.
    upstream.get('/products/:id', async (request, reply) => {
      const { id } = request.params as { id: string };
      productReads.set(id, (productReads.get(id) ?? 0) + 1);
      reply.header('cache-control', id.startsWith('pub-') ? 'public, max-age=1' : id.startsWith('priv-') ? 'private, max-age=60' : 'no-store');
      return { id, read: productReads.get(id) };
    });
    upstream.get('/api/orders/:id/events', async (_request, reply) => {
      reply.hijack();
      reply.raw.writeHead(200, { 'content-type': 'text/event-stream' });
      reply.raw.write('event: order\ndata: {"n":1}\n\n');
      setTimeout(() => reply.raw.end('event: order\ndata: {"n":2}\n\n'), 200);
    });
    await upstream.listen({ port: 0, host: '127.0.0.1' });
    up = `http://127.0.0.1:${(upstream.server.address() as { port: number }).port}`;
    gateway = await start({ corsOrigins: ['https://shop.example'], paymentProcessor: { url: 'http://127.0.0.1:4242/v1', publishableKey: 'pk_test_1' } });
  });
  afterAll(async () => {
    for (const g of gateways) await g.close();
    await upstream.close();
  });

  describe('forwarding', () => {
    it('when a public path is called, then it reaches its service unchanged with the query and ids, as an anonymous principal', async () => {
      const res = await gateway.app.inject({ method: 'GET', url: '/products?q=lamp', headers: { 'x-correlation-id': 'corr-1' } });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({ method: 'GET', url: '/products?q=lamp', correlationId: 'corr-1', principal: { type: 'anonymous', id: null } });
      expect(res.headers['x-correlation-id']).toBe('corr-1');
      expect(res.json().requestId).toBe(res.headers['x-request-id']);
    });

    it('when a customer calls their own cart, then the body and their principal reach cart, and the token does not', async () => {
      const res = await gateway.app.inject({ method: 'DELETE', url: '/cart/cus_a/remove?x=1', payload: { productId: '456' }, headers: await bearer('cus_a') });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({ url: '/cart/cus_a/remove?x=1', body: { productId: '456' }, principal: { type: 'customer', id: 'cus_a' }, authorization: null });
    });

    it('when a client sends principal headers of its own, then they are replaced by what its token says', async () => {
      const res = await gateway.app.inject({
        url: '/api/orders/ord_0000000000000001',
        headers: { ...(await bearer('cus_a')), 'x-principal-type': 'staff', 'x-principal-id': 'stf_boss', 'x-principal-roles': 'admin' },
      });
      expect(res.json().principal).toEqual({ type: 'customer', id: 'cus_a', roles: null });
      const anonymous = await gateway.app.inject({ url: '/products', headers: { 'x-principal-type': 'staff', 'x-principal-roles': 'admin' } });
      expect(anonymous.json().principal).toEqual({ type: 'anonymous', id: null, roles: null });
    });

    it('when identity routes are called, then the Authorization header reaches identity, which checks it itself', async () => {
      const res = await gateway.app.inject({ url: '/auth/me', headers: { authorization: 'Bearer not-even-a-jwt' } });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({ url: '/auth/me', authorization: 'Bearer not-even-a-jwt' });
    });

    it("when a staff route of a service's parked events is called, then it reaches that service's /ops path", async () => {
      const res = await gateway.app.inject({ url: '/ops/orders/dead-letters?limit=5', headers: await bearer('stf_ops', { roles: ['operations'] }) });
      expect(res.json()).toMatchObject({ url: '/ops/dead-letters?limit=5', principal: { type: 'staff', id: 'stf_ops', roles: 'operations' } });
      expect((await gateway.app.inject({ url: '/ops/nowhere/dead-letters', headers: await bearer('stf_ops', { roles: ['operations'] }) })).statusCode).toBe(404);
    });

    it('when an answer is a server-sent event stream, then each event passes through as it comes', async () => {
      await gateway.app.listen({ port: 0, host: '127.0.0.1' });
      const { port } = gateway.app.server.address() as { port: number };
      const res = await fetch(`http://127.0.0.1:${port}/api/orders/ord_0000000000000001/events`, { headers: await bearer('cus_a') });
      expect(res.headers.get('content-type')).toContain('text/event-stream');
      const reader = res.body!.getReader();
      const first = new TextDecoder().decode((await reader.read()).value);
      expect(first).toContain('{"n":1}');
      let rest = '';
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) rest += new TextDecoder().decode(chunk.value);
      expect(rest).toContain('{"n":2}');
    });

    it('when a service cannot be reached, then the gateway answers 503 as a problem document', async () => {
      const res = await gateway.app.inject({ url: '/shipments?orderId=ord_1', headers: await bearer('cus_a') });
      expect(res.statusCode).toBe(503);
      expect(res.headers['content-type']).toContain('application/problem+json');
      expect(res.json()).toMatchObject({ code: 'GATEWAY.UPSTREAM_UNAVAILABLE', status: 503 });
    });

    it('when a path or method is in no rule, then 404 is a problem document and no service is asked', async () => {
      for (const [method, url] of [['GET', '/admin/secrets'], ['DELETE', '/products/456'], ['GET', '/cart'], ['PUT', '/inventory/456']] as const) {
        const res = await gateway.app.inject({ method, url, headers: await bearer('stf_admin', { roles: ['admin'] }) });
        expect(res.statusCode, `${method} ${url}`).toBe(404);
        expect(res.json().code).toBe('ROUTE.NOT_FOUND');
      }
    });

    it('when a body is larger than the limit, then 413 and nothing is forwarded', async () => {
      const res = await gateway.app.inject({ method: 'POST', url: '/api/orders', payload: { blob: 'x'.repeat(300 * 1024) }, headers: await bearer('cus_a') });
      expect(res.statusCode).toBe(413);
    });

    it('when readiness is asked, then it reports each service and is unavailable while one is down', async () => {
      const res = await gateway.app.inject('/health/ready');
      expect(res.statusCode).toBe(503);
      expect(res.json().checks).toMatchObject({ catalog: true, shipping: false });
    });
  });

  describe('who may call what', () => {
    it('when a shopper route is called without a token, then 401 asks for a Bearer token', async () => {
      const res = await gateway.app.inject({ method: 'POST', url: '/api/orders', payload: {} });
      expect(res.statusCode).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Bearer');
      expect(res.json()).toMatchObject({ code: 'AUTH.MISSING_TOKEN', status: 401 });
    });

    it('when a token is expired, tampered, unsigned or from another issuer, then 401 — on public routes too', async () => {
      const good = await token('cus_a');
      const [header, payload, signature] = good.split('.') as [string, string, string];
      const tampered = `${header}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), sub: 'cus_b' })).toString('base64url')}.${signature}`;
      const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt' })).toString('base64url')}.${payload}.`;
      const cases = {
        expired: await token('cus_a', { expiresIn: -60 }),
        tampered,
        unsigned,
        otherIssuer: await token('cus_a', { iss: 'https://evil.example' }),
        garbage: 'abc.def.ghi',
      };
      for (const [name, bad] of Object.entries(cases)) {
        for (const url of ['/cart/cus_a', '/products']) {
          const res = await gateway.app.inject({ url, headers: { authorization: `Bearer ${bad}` } });
          expect(res.statusCode, `${name} on ${url}`).toBe(401);
          expect(res.headers['www-authenticate']).toContain('invalid_token');
          expect(res.headers['content-type']).toContain('application/problem+json');
        }
      }
    });

    it("when a shopper asks for another shopper's cart, then 404 — the same as for nothing at all", async () => {
      for (const [method, url] of [['GET', '/cart/cus_b'], ['POST', '/cart/cus_b/add'], ['DELETE', '/cart/cus_b'], ['PUT', '/cart/cus_b/lines/456']] as const) {
        const res = await gateway.app.inject({ method, url, headers: await bearer('cus_a'), payload: method === 'GET' || method === 'DELETE' ? undefined : {} });
        expect(res.statusCode, `${method} ${url}`).toBe(404);
        expect(res.json()).toMatchObject({ code: 'AUTH.NOT_FOUND' });
        expect(res.json().detail).not.toContain('cus_b');
      }
      expect((await gateway.app.inject({ url: '/cart/gst_1', headers: await bearer('gst_1') })).statusCode).toBe(200);
    });

    it('when a shopper calls a staff route, then 403; staff need the role the route names', async () => {
      const customer = await bearer('cus_a');
      const support = await bearer('stf_s', { roles: ['support'] });
      const operations = await bearer('stf_o', { roles: ['operations'] });
      const staffRoutes = [
        ['POST', '/products', operations],
        ['PATCH', '/products/456', operations],
        ['POST', '/inventory/456/update', operations],
        ['GET', '/inventory/456/movements', operations],
        ['GET', '/inventory/reconciliation', operations],
        ['GET', '/discounts', operations],
        ['POST', '/discounts', operations],
        ['POST', '/shipments/shp_1/status', operations],
        ['GET', '/ops/cart/dead-letters', operations],
        ['POST', '/api/payments/pay_1/refund', support],
      ] as const;
      for (const [method, url, allowed] of staffRoutes) {
        const payload = method === 'GET' ? undefined : {};
        expect((await gateway.app.inject({ method, url, payload })).statusCode, `${method} ${url} anonymous`).toBe(401);
        expect((await gateway.app.inject({ method, url, payload, headers: customer })).statusCode, `${method} ${url} customer`).toBe(403);
        expect((await gateway.app.inject({ method, url, payload, headers: await bearer('gst_1') })).statusCode, `${method} ${url} guest`).toBe(403);
        const wrong = allowed === support ? operations : support;
        expect((await gateway.app.inject({ method, url, payload, headers: wrong })).statusCode, `${method} ${url} other role`).toBe(403);
        // Let through (shipping, down in this test, answers 503 from the gateway instead of 200).
        expect([200, 503], `${method} ${url} right role`).toContain((await gateway.app.inject({ method, url, payload, headers: allowed })).statusCode);
        expect([200, 503], `${method} ${url} admin`).toContain((await gateway.app.inject({ method, url, payload, headers: await bearer('stf_a', { roles: ['admin'] }) })).statusCode);
      }
    });

    it("when staff look at a customer's cart, then they may; changing it is the customer's alone", async () => {
      const support = await bearer('stf_s', { roles: ['support'] });
      expect((await gateway.app.inject({ url: '/cart/cus_a', headers: support })).statusCode).toBe(200);
      expect((await gateway.app.inject({ method: 'POST', url: '/cart/cus_a/add', payload: {}, headers: support })).statusCode).toBe(403);
      expect((await gateway.app.inject({ method: 'POST', url: '/api/orders', payload: {}, headers: support })).statusCode).toBe(403);
    });
  });

  describe('shared cache of public reads', () => {
    const read = async (id: string, headers: Record<string, string> = {}) => {
      const res = await gateway.app.inject({ url: `/products/${id}`, headers });
      return { read: res.json().read as number, age: res.headers.age, cacheControl: res.headers['cache-control'] };
    };

    it('when a service marks a read public with a max-age, then repeats within it are answered by the gateway with an Age, and later ones reach the service again', async () => {
      const id = `pub-${randomUUID()}`;
      expect(await read(id)).toMatchObject({ read: 1, age: undefined });
      expect(await read(id)).toMatchObject({ read: 1, age: '0', cacheControl: 'public, max-age=1' });
      // A token on a public read changes nothing: the service said every caller gets this answer.
      expect((await read(id, await bearer('cus_a'))).read).toBe(1);
      expect(productReads.get(id)).toBe(1);
      await new Promise((resolve) => setTimeout(resolve, 1_050));
      expect((await read(id)).read).toBe(2);
    });

    it('when an answer is private, not to be stored, or asked for with no-cache, then every request reaches the service', async () => {
      for (const id of [`priv-${randomUUID()}`, `none-${randomUUID()}`]) {
        expect((await read(id)).read).toBe(1);
        expect((await read(id)).read).toBe(2);
      }
      const id = `pub-${randomUUID()}`;
      expect((await read(id)).read).toBe(1);
      expect((await read(id, { 'cache-control': 'no-cache' })).read).toBe(2);
    });

    it('when a write to the service passes through the gateway, then its kept reads are forgotten and the next read asks the service', async () => {
      const id = `pub-${randomUUID()}`;
      expect((await read(id)).read).toBe(1);
      expect((await read(id)).read).toBe(1);
      const write = await gateway.app.inject({ method: 'PATCH', url: `/products/${id}`, payload: {}, headers: await bearer('stf_o', { roles: ['operations'] }) });
      expect(write.statusCode).toBe(200);
      expect((await read(id)).read).toBe(2);
    });
  });

  describe('edges', () => {
    it('when a client sends more than its share, then 429 with Retry-After, per address and per account', async () => {
      const limited = await start({ rateLimits: { client: { burst: 5, perSecond: 0.5 }, account: false, signIn: false } });
      const statuses = [];
      for (let i = 0; i < 7; i++) statuses.push((await limited.app.inject('/products')).statusCode);
      expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429]);
      const res = await limited.app.inject('/products');
      expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(res.json()).toMatchObject({ code: 'RATE_LIMITED', status: 429 });
      // Another address has its own bucket.
      expect((await limited.app.inject({ url: '/products', remoteAddress: '10.0.0.9' })).statusCode).toBe(200);

      const perAccount = await start({ rateLimits: { client: false, account: { burst: 3, perSecond: 0.5 }, signIn: false } });
      const headers = await bearer('cus_busy');
      const forAccount = [];
      for (let i = 0; i < 4; i++) forAccount.push((await perAccount.app.inject({ url: '/cart/cus_busy', headers, remoteAddress: `10.0.1.${i}` })).statusCode);
      expect(forAccount).toEqual([200, 200, 200, 429]);
      expect((await perAccount.app.inject({ url: '/cart/cus_other', headers: await bearer('cus_other') })).statusCode).toBe(200);
    });

    it('when sign-ins come in a burst, then the stricter sign-in limit answers 429', async () => {
      const limited = await start({ rateLimits: { client: false, account: false, signIn: { burst: 2, perSecond: 0.1 } } });
      const statuses = [];
      for (let i = 0; i < 3; i++) statuses.push((await limited.app.inject({ method: 'POST', url: '/auth/signin', payload: {} })).statusCode);
      expect(statuses).toEqual([200, 200, 429]);
      expect((await limited.app.inject('/products')).statusCode).toBe(200);
    });

    it('when any answer goes out, then it carries the security headers and a CSP allowing the card processor', async () => {
      const res = await gateway.app.inject('/products');
      expect(res.headers).toMatchObject({ 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer', 'x-frame-options': 'DENY' });
      expect(res.headers['content-security-policy']).toContain("connect-src 'self' http://127.0.0.1:4242");
      expect(res.headers['content-security-policy']).toContain("script-src 'self'");
    });

    it('when a listed origin asks first, then CORS allows it; any other origin is refused', async () => {
      const preflight = (origin: string) =>
        gateway.app.inject({ method: 'OPTIONS', url: '/api/orders', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' } });
      const ok = await preflight('https://shop.example');
      expect(ok.statusCode).toBe(204);
      expect(ok.headers['access-control-allow-origin']).toBe('https://shop.example');
      expect(ok.headers['access-control-allow-headers']).toContain('authorization');
      expect(ok.headers['access-control-allow-credentials']).toBeUndefined();
      const refused = await preflight('https://evil.example');
      expect(refused.statusCode).toBe(403);
      expect(refused.headers['access-control-allow-origin']).toBeUndefined();
      const simple = await gateway.app.inject({ url: '/products', headers: { origin: 'https://evil.example' } });
      expect(simple.headers['access-control-allow-origin']).toBeUndefined();
    });

    it('when the storefront asks for its settings, then it learns the card processor and its publishable key', async () => {
      const res = await gateway.app.inject('/storefront/config.json');
      expect(res.json()).toEqual({ paymentProcessor: { url: 'http://127.0.0.1:4242/v1', publishableKey: 'pk_test_1' } });
    });
  });
});
