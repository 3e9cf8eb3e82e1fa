import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Fastify, { type FastifyInstance } from 'fastify';
import { createLogger, createMetrics } from '@emporium/platform';
import { createGateway, type Gateway } from '../src/gateway';

describe('gateway forwarding', () => {
  let upstream: FastifyInstance;
  let gateway: Gateway;

  beforeAll(async () => {
    // A stand-in upstream that echoes what it received, so forwarding itself is what is tested.
    upstream = Fastify();
    upstream.all('/*', async (request) => ({ method: request.method, url: request.url, body: request.body ?? null, requestId: request.headers['x-request-id'], correlationId: request.headers['x-correlation-id'] }));
    await upstream.listen({ port: 0, host: '127.0.0.1' });
    const up = `http://127.0.0.1:${(upstream.server.address() as { port: number }).port}`;
    gateway = await createGateway({
      logger: createLogger('gateway', 'silent'),
      metrics: createMetrics('gateway', { defaultMetrics: false }),
      upstreams: { catalog: up, cart: up, inventory: up, orders: up, payments: up, shipping: 'http://127.0.0.1:1', identity: up },
    });
  });
  afterAll(async () => {
    await gateway.close();
    await upstream.close();
  });

  it('when a seed path is called, then it reaches its service unchanged with the body, query and ids', async () => {
    const res = await gateway.app.inject({ method: 'DELETE', url: '/cart/123/remove?x=1', payload: { productId: '456' }, headers: { 'x-correlation-id': 'corr-1' } });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ method: 'DELETE', url: '/cart/123/remove?x=1', body: { productId: '456' }, correlationId: 'corr-1' });
    expect(res.headers['x-correlation-id']).toBe('corr-1');
    expect(res.json().requestId).toBe(res.headers['x-request-id']);
  });

  it('when a service cannot be reached, then the gateway answers 503 as a problem document', async () => {
    const res = await gateway.app.inject('/shipments?orderId=ord_1');
    expect(res.statusCode).toBe(503);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.json()).toMatchObject({ code: 'GATEWAY.UPSTREAM_UNAVAILABLE', status: 503 });
  });

  it('when a path belongs to no service, then 404 is a problem document', async () => {
    const res = await gateway.app.inject('/admin/secrets');
    expect(res.statusCode).toBe(404);
    expect(res.json().code).toBe('ROUTE.NOT_FOUND');
  });

  it('when a body is larger than the limit, then 413 and nothing is forwarded', async () => {
    const res = await gateway.app.inject({ method: 'POST', url: '/api/orders', payload: { blob: 'x'.repeat(300 * 1024) } });
    expect(res.statusCode).toBe(413);
  });

  it('when readiness is asked, then it reports each service and is unavailable while one is down', async () => {
    const res = await gateway.app.inject('/health/ready');
    expect(res.statusCode).toBe(503);
    expect(res.json().checks).toMatchObject({ catalog: true, shipping: false });
  });
});
