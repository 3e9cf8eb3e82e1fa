import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createLogger } from '../logger';
import { createMetrics } from '../metrics';
import { createHttpApp, type HttpApp } from './server';

describe('the OpenAPI document at /docs', () => {
  let app: HttpApp;
  const Reason = z.object({ reason: z.string().max(500) }).strict();

  beforeAll(async () => {
    app = await createHttpApp({ service: 'openapi-test', logger: createLogger('openapi-test', 'silent'), metrics: createMetrics('openapi_test', { defaultMetrics: false }) });
    app.post('/orders/:id/cancel', { schema: { body: Reason.nullish() } }, async (request) => ({ reason: request.body?.reason ?? null }));
    app.post('/orders/:id/notes', { schema: { body: Reason } }, async (request) => ({ reason: request.body.reason }));
    await app.ready();
  });
  afterAll(() => app.close());

  it('when a route takes an optional body (`.nullish()`: Fastify hands a missing body to the validator as null), then its request body is documented as not required, and a call without one is accepted', async () => {
    const doc = (await app.inject('/docs/json')).json();
    expect(doc.paths['/orders/{id}/cancel'].post.requestBody.required).toBe(false);
    const schema = doc.paths['/orders/{id}/cancel'].post.requestBody.content['application/json'].schema;
    expect(schema.anyOf).toContainEqual(expect.objectContaining({ type: 'object', properties: { reason: expect.objectContaining({ type: 'string' }) } }));
    expect(JSON.stringify(doc)).not.toContain('x-emporium-optional-body');
    const base = await app.listen({ port: 0, host: '127.0.0.1' });
    const res = await fetch(`${base}/orders/o1/cancel`, { method: 'POST' });
    expect(await res.json()).toEqual({ reason: null });
  });

  it('when a route needs its body, then its request body stays required', async () => {
    const doc = (await app.inject('/docs/json')).json();
    expect(doc.paths['/orders/{id}/notes'].post.requestBody.required).toBe(true);
  });
});
