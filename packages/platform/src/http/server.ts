import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import Fastify, { LogController, type FastifyInstance, type FastifyError, type FastifyBaseLogger, type FastifyReply } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import {
  hasZodFastifySchemaValidationErrors,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import { z } from 'zod';
import { lazyChild, type Logger } from '../logger';
import { openApiTransform, openApiTransformObject } from './openapi';
import type { Metrics } from '../metrics';
import { AppError, PROBLEM_CONTENT_TYPE, problemDocument, type FieldError } from '../errors';

export type HttpApp = FastifyInstance<
  Server,
  IncomingMessage,
  ServerResponse,
  FastifyBaseLogger,
  ZodTypeProvider
>;

export type ReadinessCheck = () => Promise<boolean>;

export interface HttpAppOptions {
  service: string;
  description?: string;
  logger: Logger;
  metrics: Metrics;
  /** Named checks for /health/ready: e.g. `{ database: db.isReady, bus: bus.isReady }`. */
  readiness?: Record<string, ReadinessCheck>;
  /** Largest accepted request body in bytes. Default 256 KiB. */
  bodyLimit?: number;
}

const REQUEST_ID = 'x-request-id';
const CORRELATION_ID = 'x-correlation-id';

declare module 'fastify' {
  interface FastifyRequest {
    correlationId: string;
  }
}

const ProblemSchema = z
  .looseObject({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    code: z.string(),
    instance: z.string().optional(),
    errors: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
  })
  .meta({ id: 'Problem', description: 'RFC 9457 problem document' });

/** Standard error responses to list in route schemas, so /docs shows them. */
export const problemResponses = {
  400: ProblemSchema,
  404: ProblemSchema,
  409: ProblemSchema,
  422: ProblemSchema,
} as const;

/**
 * Builds a Fastify app with the platform's defaults: zod schemas as validator, type and
 * OpenAPI at once; problem+json errors; request and correlation ids in logs; health, metrics
 * and docs routes. Opens no port: callers `listen()` (main) or `inject()` (tests).
 */
export async function createHttpApp(options: HttpAppOptions): Promise<HttpApp> {
  const { service, metrics } = options;
  const app = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    // We log one line per request ourselves (onResponse), with route, status and duration.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'requestId' }),
    bodyLimit: options.bodyLimit ?? 256 * 1024,
    genReqId: (req) => {
      const given = req.headers[REQUEST_ID];
      return typeof given === 'string' && /^[\w.-]{1,128}$/.test(given) ? given : randomUUID();
    },
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    // Errors the router raises before any route runs (a path parameter over 100 characters, a
    // malformed percent-encoding) are problem documents too, not Fastify's own JSON.
    frameworkErrors: (error, _request, reply) => {
      const tooLong = error.code === 'FST_ERR_MAX_PARAM_LENGTH';
      const status = tooLong ? 414 : 400;
      const problem = problemDocument(status, tooLong ? 'REQUEST.URI_TOO_LONG' : 'REQUEST.BAD_URL', tooLong ? 'A path segment is too long.' : 'The request URL is malformed.', {
        errors: [{ field: 'path', message: tooLong ? 'is too long' : 'is malformed' }],
      });
      void (reply as unknown as FastifyReply).code(status).type(PROBLEM_CONTENT_TYPE).send(problem);
    },
    // One child logger per request carrying both ids (instead of Fastify's child and then ours),
    // made only if the request logs something.
    childLoggerFactory: (logger, bindings, childOptions, raw) =>
      lazyChild(
        logger as Logger,
        () => ({ ...bindings, correlationId: correlationIdOf((raw as IncomingMessage).headers[CORRELATION_ID], String(bindings.requestId ?? bindings.reqId ?? '')) }),
        childOptions,
      ),
  }).withTypeProvider<ZodTypeProvider>();

  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.decorateRequest('correlationId', '');

  // Hooks on every request: synchronous (no promise per hook) and without per-request allocations
  // beyond what they must record.
  app.addHook('onRequest', (request, reply, done) => {
    request.correlationId = correlationIdOf(request.headers[CORRELATION_ID], request.id);
    reply.header(REQUEST_ID, request.id);
    reply.header(CORRELATION_ID, request.correlationId);
    done();
  });

  /** Labelled metric children per (method, route, status): label hashing once, not per request. */
  const perRoute = new Map<string, { count: { inc(): void }; duration: { observe(v: number): void } }>();
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    if (route.startsWith('/docs')) return done();
    const status = reply.statusCode;
    const key = `${request.method} ${status} ${route}`;
    let series = perRoute.get(key);
    if (!series) {
      const labels = { method: request.method, route, status: String(status) };
      series = { count: metrics.httpRequests.labels(labels), duration: metrics.httpDuration.labels(labels) };
      perRoute.set(key, series);
    }
    series.count.inc();
    series.duration.observe(reply.elapsedTime / 1000);
    const level = status >= 500 ? 'error' : 'info';
    if ((request.log as Logger).isLevelEnabled(level)) {
      request.log[level]({ method: request.method, url: request.url, status, ms: Math.round(reply.elapsedTime * 10) / 10 }, 'request completed');
    }
    done();
  });

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const send = (status: number, code: string, detail: string, errors?: FieldError[], extensions?: Record<string, unknown>) =>
      reply
        .code(status)
        .type(PROBLEM_CONTENT_TYPE)
        .send(problemDocument(status, code, detail, { instance: request.url, errors, extensions }));

    if (hasZodFastifySchemaValidationErrors(error)) {
      const where = error.validationContext ?? 'body';
      const errors = error.validation.flatMap((v) => {
        const keys = (v.params as { keys?: unknown } | undefined)?.keys;
        if (v.keyword === 'unrecognized_keys' && Array.isArray(keys)) {
          const parent = v.instancePath.replace(/\/$/, '');
          return (keys as string[]).map((key) => ({ field: fieldPath(where, `${parent}/${key}`), message: 'is not a known field' }));
        }
        return [{ field: fieldPath(where, v.instancePath), message: v.message ?? 'is invalid' }];
      });
      return send(400, 'REQUEST.INVALID', `The request ${where} is invalid: ${errors.map((e) => `${e.field} ${e.message}`).join('; ')}`, errors);
    }
    if (error instanceof AppError) {
      if (error.status === 503) {
        // Unavailable for now, not broken: say so, and when to come back.
        request.log.warn({ err: error }, error.message);
        reply.header('retry-after', '1');
        return send(503, error.code, error.message, error.errors, error.extensions);
      }
      if (error.status >= 500) request.log.error({ err: error }, error.message);
      return send(error.status, error.code, error.status >= 500 ? 'An unexpected error occurred.' : error.message, error.errors, error.extensions);
    }
    switch (error.code) {
      case 'FST_ERR_CTP_INVALID_JSON_BODY':
      case 'FST_ERR_CTP_EMPTY_JSON_BODY':
        return send(400, 'REQUEST.MALFORMED_JSON', `The request body is not valid JSON: ${error.message}`, [{ field: 'body', message: 'is not valid JSON' }]);
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        return send(413, 'REQUEST.TOO_LARGE', error.message, [{ field: 'body', message: 'is too large' }]);
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
        return send(415, 'REQUEST.UNSUPPORTED_MEDIA_TYPE', 'Send the body as application/json.', [{ field: 'content-type', message: 'must be application/json' }]);
      case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
        return send(400, 'REQUEST.INVALID_CONTENT_LENGTH', error.message);
    }
    const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    if (status >= 500) {
      request.log.error({ err: error }, 'unhandled error');
      return send(500, 'INTERNAL', 'An unexpected error occurred.');
    }
    return send(status, error.code ?? 'REQUEST.REJECTED', error.message);
  });

  app.setNotFoundHandler((request, reply) => {
    reply
      .code(404)
      .type(PROBLEM_CONTENT_TYPE)
      .send(problemDocument(404, 'ROUTE.NOT_FOUND', `No route ${request.method} ${request.url.split('?')[0]}.`, { instance: request.url }));
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: `Emporium ${service}`, description: options.description ?? '', version: '0.1.0' },
    },
    transform: openApiTransform,
    // Puts the schemas with a meta id (Order, ShippingAddress, Problem…) under components.schemas
    // (without it every `$ref` pointed at nothing), and leaves optional bodies not required.
    transformObject: openApiTransformObject,
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  const checks = options.readiness ?? {};
  const HealthSchema = z.object({ status: z.enum(['ok', 'unavailable']), checks: z.record(z.string(), z.boolean()) });
  app.get('/health/live', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/health/ready', { schema: { hide: true, response: { 200: HealthSchema, 503: HealthSchema } } }, async (_request, reply) => {
    const results = Object.fromEntries(
      await Promise.all(
        Object.entries(checks).map(async ([name, check]) => [name, await check().catch(() => false)] as const),
      ),
    );
    const ok = Object.values(results).every(Boolean);
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ok' : 'unavailable', checks: results });
  });
  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    reply.type(metrics.registry.contentType);
    return metrics.registry.metrics();
  });

  return app;
}

const GIVEN_ID = /^[\w.-]{1,128}$/;

/** The caller's correlation id when it is a sane token, else the request id. */
function correlationIdOf(given: string | string[] | undefined, requestId: string): string {
  return typeof given === 'string' && GIVEN_ID.test(given) ? given : requestId;
}

function fieldPath(where: string, instancePath: string): string {
  const path = instancePath.replace(/^\//, '').replace(/\//g, '.');
  if (where === 'body') return path || 'body';
  const prefix = where === 'querystring' ? 'query' : where;
  return path ? `${prefix}.${path}` : prefix;
}
