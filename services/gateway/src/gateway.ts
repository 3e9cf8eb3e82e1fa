import type { FastifyReply, FastifyRequest, HTTPMethods } from 'fastify';
import { Pool, type Dispatcher } from 'undici';
import { z } from 'zod';
import {
  AppError,
  bearerToken,
  createHttpApp,
  missingToken,
  PRINCIPAL_HEADERS,
  PROBLEM_CONTENT_TYPE,
  problemDocument,
  principalHeaders,
  type HttpApp,
  type Logger,
  type Metrics,
  type Principal,
  type TokenVerifier,
  type VerifiedToken,
} from '@emporium/platform';
import { POLICY, type Rule } from './policy';
import { createRateLimiter, type Bucket, type RateLimiter } from './rate-limit';
import { OPS_PREFIX, opsPathOf, ROUTES, UPSTREAMS, type Upstream } from './routes';
import { corsHook, securityHeadersHook } from './edge';
import { createSharedCache } from './shared-cache';
import { registerStorefront } from './storefront';

export { parseBucket, type Bucket } from './rate-limit';

export interface RateLimits {
  /** Per client address. */
  client?: Bucket | false;
  /** Per account (the token's subject). */
  account?: Bucket | false;
  /** Sign-up, sign-in and guest sessions, per client address. */
  signIn?: Bucket | false;
}

export const DEFAULT_RATE_LIMITS: Required<RateLimits> = {
  client: { burst: 300, perSecond: 60 },
  account: { burst: 120, perSecond: 20 },
  signIn: { burst: 20, perSecond: 0.2 },
};

export interface GatewayOptions {
  logger: Logger;
  metrics: Metrics;
  /** Base URL of each service, e.g. `{ catalog: 'http://127.0.0.1:3101', … }`. */
  upstreams: Record<Upstream, string>;
  /** Checks access tokens (identity's JWKS). */
  verifier: TokenVerifier;
  /** Largest request body forwarded. Default 256 KiB. */
  bodyLimit?: number;
  /** Upstream response timeout. Default 10 s. */
  timeoutMs?: number;
  /** Each limit may be turned off with `false` (load tests). Defaults: DEFAULT_RATE_LIMITS. */
  rateLimits?: RateLimits;
  /** Origins allowed to call the API from a browser on another origin. Default none. */
  corsOrigins?: readonly string[];
  /** The card processor the storefront tokenizes cards with (its origin is allowed by the CSP). */
  paymentProcessor?: { url: string; publishableKey: string };
  /** The built web storefront (`apps/storefront/dist`), served at `/` and `/assets/*`; without it `/` answers a JSON index. */
  storefrontDir?: string;
}

export interface Gateway {
  app: HttpApp;
  close(): Promise<void>;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host', 'content-length']);
/** Never forwarded from a client: the gateway alone says who the caller is. */
const NOT_FROM_CLIENTS = new Set<string>([...Object.values(PRINCIPAL_HEADERS), 'authorization']);
const SIGN_IN_PATHS = new Set(['/auth/signup', '/auth/signin', '/auth/staff/signin', '/auth/guest', '/auth/password']);
const TOKEN_CACHE_SIZE = 10_000;

const problem = (reply: FastifyReply, request: FastifyRequest, status: number, code: string, detail: string) =>
  reply.code(status).type(PROBLEM_CONTENT_TYPE).send(problemDocument(status, code, detail, { instance: request.url }));

const forbidden = () => new AppError('AUTH.FORBIDDEN', 'Your account may not do this.', { status: 403 });
const notYours = () => new AppError('AUTH.NOT_FOUND', 'There is nothing here.', { status: 404 });

/**
 * The single public entry: checks who is calling and whether they may (ADR 0009), limits how
 * often, and forwards each public path to the service that owns it with the caller's principal,
 * the request and correlation ids; answers problem+json when a service cannot be reached.
 */
export async function createGateway(options: GatewayOptions): Promise<Gateway> {
  const pools = new Map<Upstream, Pool>(
    UPSTREAMS.map((name) => [name, new Pool(options.upstreams[name], { connections: 64, pipelining: 1, keepAliveTimeout: 30_000 })]),
  );
  const timeoutMs = options.timeoutMs ?? 10_000;
  const cache = createSharedCache();
  // An unset limit (undefined) takes its default; `false` turns it off.
  const limits = Object.fromEntries(
    (Object.keys(DEFAULT_RATE_LIMITS) as Array<keyof RateLimits>).map((k) => [k, options.rateLimits?.[k] ?? DEFAULT_RATE_LIMITS[k]]),
  ) as Required<RateLimits>;
  const limiter = (bucket: Bucket | false): RateLimiter | undefined => (bucket ? createRateLimiter(bucket) : undefined);
  const perClient = limiter(limits.client);
  const perAccount = limiter(limits.account);
  const perSignIn = limiter(limits.signIn);

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

  const limited = (reply: FastifyReply, request: FastifyRequest, seconds: number, what: string) => {
    reply.header('retry-after', String(seconds));
    return problem(reply, request, 429, 'RATE_LIMITED', `Too many requests ${what}; try again in ${seconds} s.`);
  };

  app.addHook('onRequest', corsHook(options.corsOrigins ?? []));
  app.addHook('onRequest', (request, reply, done) => {
    if (!perClient || request.url.startsWith('/health/')) return done();
    const wait = perClient.take(request.ip);
    if (wait > 0) return void limited(reply, request, wait, 'from your address');
    done();
  });
  app.addHook('onSend', securityHeadersHook({ connectSources: options.paymentProcessor ? [new URL(options.paymentProcessor.url).origin] : [] }));

  // Verifying a signature costs more than forwarding; a token seen before is answered from memory until it expires.
  const verified = new Map<string, VerifiedToken>();
  const verify = async (token: string): Promise<VerifiedToken> => {
    const known = verified.get(token);
    if (known && known.expiresAt.getTime() > Date.now()) return known;
    const result = await options.verifier.verify(token);
    if (verified.size >= TOKEN_CACHE_SIZE) verified.clear();
    verified.set(token, result);
    return result;
  };

  /** Who is calling: anonymous without a token; a token that is sent must be valid (401 otherwise). */
  const principalOfRequest = async (request: FastifyRequest): Promise<Principal> => {
    const header = request.headers.authorization;
    if (header === undefined) return { type: 'anonymous', id: null, roles: [] };
    const token = await verify(bearerToken(header));
    return { type: token.type, id: token.subject, roles: token.roles };
  };

  /** Throws 401/403/404 unless the rule lets this principal through. */
  const authorize = (rule: Rule, principal: Principal, params: Record<string, string>): void => {
    const { access } = rule;
    if (access.kind === 'anyone') return;
    if (principal.type === 'anonymous') throw missingToken();
    const staffMay = (roles: readonly string[]) => principal.type === 'staff' && principal.roles.some((r) => roles.includes(r));
    switch (access.kind) {
      case 'staff':
        if (!staffMay(access.roles)) throw forbidden();
        return;
      case 'shopper':
        if (principal.type === 'staff' && !staffMay(access.staff)) throw forbidden();
        return;
      case 'owner':
        if (principal.type === 'staff') {
          if (!staffMay(access.staff)) throw forbidden();
          return;
        }
        if (params.customerId !== principal.id) throw notYours();
    }
  };

  const upstreamOf = (rule: Rule, params: Record<string, string>, url: string): { service: Upstream; path: string } => {
    if (rule.path.startsWith(`${OPS_PREFIX}/`)) {
      const service = params.service as Upstream;
      if (!UPSTREAMS.includes(service)) throw new AppError('ROUTE.NOT_FOUND', `No service ${params.service}.`, { status: 404 });
      return { service, path: opsPathOf(service, url) };
    }
    const route = ROUTES.find((r) => rule.path === r.prefix || rule.path.startsWith(`${r.prefix}/`));
    if (!route) throw new Error(`policy rule ${rule.method} ${rule.path} has no upstream in routes.ts`);
    return { service: route.service, path: url };
  };

  const forward = (rule: Rule) => async (request: FastifyRequest, reply: FastifyReply) => {
    const params = request.params as Record<string, string>;
    const { service, path } = upstreamOf(rule, params, request.url);
    const identityChecksToken = rule.identityChecksToken === true;
    let principal: Principal = { type: 'anonymous', id: null, roles: [] };
    if (!identityChecksToken) {
      try {
        principal = await principalOfRequest(request);
        authorize(rule, principal, params);
      } catch (error) {
        if (error instanceof AppError && error.status === 401) reply.header('www-authenticate', error.code === 'AUTH.MISSING_TOKEN' ? 'Bearer' : 'Bearer error="invalid_token"');
        throw error;
      }
    }
    if (perSignIn && SIGN_IN_PATHS.has(path.split('?')[0]!)) {
      const wait = perSignIn.take(request.ip);
      if (wait > 0) return limited(reply, request, wait, 'to sign in from your address');
    }
    if (perAccount && principal.id) {
      const wait = perAccount.take(principal.id);
      if (wait > 0) return limited(reply, request, wait, 'for your account');
    }

    // Public reads a service marked `Cache-Control: public, max-age=…` are answered from memory
    // (a request saying `Cache-Control: no-cache` goes to the service).
    const cacheable = request.method === 'GET' && rule.access.kind === 'anyone' && !rule.stream && !/no-cache/i.test(request.headers['cache-control'] ?? '');
    const generation = cache.generation(service);
    if (cacheable) {
      const hit = cache.lookup(service, path);
      if (hit) {
        reply.code(hit.status).headers(hit.headers);
        reply.header('age', String(Math.floor((Date.now() - hit.storedAt) / 1000)));
        return reply.send(hit.payload);
      }
    }

    const headers: Record<string, string> = {};
    for (const name in request.headers) {
      const value = request.headers[name];
      if (value === undefined || HOP_BY_HOP.has(name) || (NOT_FROM_CLIENTS.has(name) && !(identityChecksToken && name === 'authorization'))) continue;
      headers[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    if (!identityChecksToken) Object.assign(headers, principalHeaders(principal));
    headers['x-request-id'] = request.id;
    headers['x-correlation-id'] = request.correlationId;
    headers['x-forwarded-for'] = request.ip;
    headers['x-forwarded-proto'] = request.protocol;
    const body = Buffer.isBuffer(request.body) && request.body.length > 0 ? request.body : undefined;
    let upstream: Dispatcher.ResponseData;
    try {
      upstream = await pools.get(service)!.request({
        method: request.method as 'GET',
        path,
        headers,
        body,
        headersTimeout: timeoutMs,
        bodyTimeout: rule.stream ? 0 : timeoutMs,
      });
    } catch (error) {
      throw new AppError('GATEWAY.UPSTREAM_UNAVAILABLE', `The ${service} service is not answering; try again shortly.`, { status: 503, cause: error });
    }
    reply.code(upstream.statusCode);
    const answerHeaders: Record<string, string | string[]> = {};
    for (const name in upstream.headers) {
      const value = upstream.headers[name];
      if (value === undefined || HOP_BY_HOP.has(name) || name === 'x-request-id' || name === 'x-correlation-id') continue;
      answerHeaders[name] = value;
    }
    reply.headers(answerHeaders);
    if (rule.stream && String(upstream.headers['content-type'] ?? '').startsWith('text/event-stream')) {
      // Server-sent events flow through as they come; the upstream stream ends when the client leaves.
      reply.raw.once('close', () => upstream.body.destroy());
      reply.header('x-accel-buffering', 'no');
      return reply.send(upstream.body);
    }
    // API answers are small: read them whole and send them with a length, rather than piping a
    // stream chunk by chunk (which cost more than the rest of the proxying).
    let payload: Buffer;
    try {
      payload = Buffer.from(await upstream.body.arrayBuffer());
    } catch (error) {
      throw new AppError('GATEWAY.UPSTREAM_UNAVAILABLE', `The ${service} service broke off its answer; try again shortly.`, { status: 503, cause: error });
    }
    if (cacheable) cache.store(service, path, { status: upstream.statusCode, headers: answerHeaders, payload }, generation);
    else if (request.method !== 'GET' && request.method !== 'HEAD' && upstream.statusCode < 400) cache.forget(service);
    return reply.send(payload);
  };

  for (const rule of POLICY) {
    const method: HTTPMethods | HTTPMethods[] = rule.method === '*' ? ['DELETE', 'GET', 'PATCH', 'POST', 'PUT'] : (rule.method as HTTPMethods);
    app.route({ method, url: rule.path, schema: { hide: true }, handler: forward(rule) });
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

  app.get('/storefront/config.json', { schema: { hide: true } }, async (_request, reply) => {
    reply.header('cache-control', 'no-cache');
    return { paymentProcessor: options.paymentProcessor ?? null };
  });

  if (options.storefrontDir) registerStorefront(app, { root: options.storefrontDir });
  else app.get('/', { schema: { hide: true } }, async () => ({
    name: 'Emporium',
    description: 'Open-source e-commerce platform. The APIs are below.',
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
