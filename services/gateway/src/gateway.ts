import type { FastifyReply, FastifyRequest } from 'fastify';
import { Pool, type Dispatcher } from 'undici';
import { z } from 'zod';
import { AppError, createHttpApp, type HttpApp, type Logger, type Metrics } from '@emporium/platform';
import { opsPathOf, ROUTES, UPSTREAMS, type Upstream } from './routes';
import { registerStorefront } from './storefront';

export interface GatewayOptions {
  logger: Logger;
  metrics: Metrics;
  /** Base URL of each service, e.g. `{ catalog: 'http://127.0.0.1:3101', … }`. */
  upstreams: Record<Upstream, string>;
  /** Largest request body forwarded. Default 256 KiB. */
  bodyLimit?: number;
  /** Upstream response timeout. Default 10 s. */
  timeoutMs?: number;
  /** The built web storefront (`apps/storefront/dist`), served at `/` and `/assets/*`; without it `/` answers a JSON index. */
  storefrontDir?: string;
}

export interface Gateway {
  app: HttpApp;
  close(): Promise<void>;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host', 'content-length']);

/**
 * The single public entry: forwards each seed path to the service that owns it, with the
 * request and correlation ids, and answers problem+json when a service cannot be reached.
 */
export async function createGateway(options: GatewayOptions): Promise<Gateway> {
  const pools = new Map<Upstream, Pool>(
    UPSTREAMS.map((name) => [name, new Pool(options.upstreams[name], { connections: 64, pipelining: 1, keepAliveTimeout: 30_000 })]),
  );
  const timeoutMs = options.timeoutMs ?? 10_000;

  const readyOf = (name: Upstream) => async () => {
    try {
      const res = await pools.get(name)!.request({ method: 'GET', path: '/health/ready', headersTimeout: 2000, bodyTimeout: 2000 });
      await res.body.dump();
      return res.statusCode === 200;
    } catch {
      return false;
    }
  };

  const app = await createHttpApp({
    service: 'gateway',
    description: 'The public entry of Emporium. Each service documents its API at /api-docs/{service}.',
    logger: options.logger,
    metrics: options.metrics,
    bodyLimit: options.bodyLimit,
    readiness: Object.fromEntries(UPSTREAMS.map((name) => [name, readyOf(name)])),
  });

  // Bodies pass through untouched; the owning service parses and validates them.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  const forward = (service: Upstream, pathOf: (url: string) => string = (url) => url) => async (request: FastifyRequest, reply: FastifyReply) => {
    const headers: Record<string, string> = {};
    for (const name in request.headers) {
      const value = request.headers[name];
      if (value === undefined || HOP_BY_HOP.has(name)) continue;
      headers[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    headers['x-request-id'] = request.id;
    headers['x-correlation-id'] = request.correlationId;
    headers['x-forwarded-for'] = request.ip;
    headers['x-forwarded-proto'] = request.protocol;
    const body = Buffer.isBuffer(request.body) && request.body.length > 0 ? request.body : undefined;
    let upstream: Dispatcher.ResponseData;
    try {
      upstream = await pools.get(service)!.request({
        method: request.method as 'GET',
        path: pathOf(request.url),
        headers,
        body,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
    } catch (error) {
      throw new AppError('GATEWAY.UPSTREAM_UNAVAILABLE', `The ${service} service is not answering; try again shortly.`, { status: 503, cause: error });
    }
    // API answers are small: read them whole and send them with a length, rather than piping a
    // stream chunk by chunk (which cost more than the rest of the proxying).
    let payload: Buffer;
    try {
      payload = Buffer.from(await upstream.body.arrayBuffer());
    } catch (error) {
      throw new AppError('GATEWAY.UPSTREAM_UNAVAILABLE', `The ${service} service broke off its answer; try again shortly.`, { status: 503, cause: error });
    }
    reply.code(upstream.statusCode);
    for (const name in upstream.headers) {
      const value = upstream.headers[name];
      if (value === undefined || HOP_BY_HOP.has(name) || name === 'x-request-id' || name === 'x-correlation-id') continue;
      reply.header(name, value);
    }
    return reply.send(payload);
  };

  for (const route of ROUTES) {
    app.all(route.prefix, { schema: { hide: true } }, forward(route.service));
    app.all(`${route.prefix}/*`, { schema: { hide: true } }, forward(route.service));
  }

  for (const service of UPSTREAMS) {
    const toService = forward(service, (url) => opsPathOf(service, url));
    app.all(`/ops/${service}/dead-letters`, { schema: { hide: true } }, toService);
    app.all(`/ops/${service}/dead-letters/*`, { schema: { hide: true } }, toService);
  }

  app.get('/api-docs/:service', {
    schema: { summary: "A service's OpenAPI document", params: z.object({ service: z.enum(UPSTREAMS) }) },
  }, async (request, reply) => {
    const res = await pools.get(request.params.service)!.request({ method: 'GET', path: '/docs/json', headersTimeout: timeoutMs }).catch((error: unknown) => {
      throw new AppError('GATEWAY.UPSTREAM_UNAVAILABLE', `The ${request.params.service} service is not answering.`, { status: 503, cause: error });
    });
    reply.code(res.statusCode).type('application/json');
    return reply.send(res.body);
  });

  if (options.storefrontDir) registerStorefront(app, { root: options.storefrontDir });
  else app.get('/', { schema: { hide: true } }, async () => ({
    name: 'Emporium',
    description: 'Open-source e-commerce platform. The storefront arrives here in a later release; the APIs are below.',
    apis: Object.fromEntries(ROUTES.map((r) => [r.prefix, { service: r.service, openapi: `/api-docs/${r.service}` }])),
    health: '/health/ready',
  }));

  return {
    app,
    async close() {
      await app.close();
      await Promise.all([...pools.values()].map((p) => p.close()));
    },
  };
}
