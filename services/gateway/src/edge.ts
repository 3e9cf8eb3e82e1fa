import type { onRequestHookHandler, onSendHookHandler } from 'fastify';
import { PROBLEM_CONTENT_TYPE, problemDocument } from '@emporium/platform';

const ALLOWED_HEADERS = 'authorization, content-type, idempotency-key, x-request-id, x-correlation-id';
const EXPOSED_HEADERS = 'location, retry-after, x-request-id, x-correlation-id, idempotent-replayed';
const ALLOWED_METHODS = 'GET, HEAD, POST, PUT, PATCH, DELETE';

/**
 * CORS for the origins a store lists (its own web apps on other origins); bearer tokens, not
 * cookies, so credentials are never allowed. A preflight from any other origin is refused.
 */
export function corsHook(origins: readonly string[]): onRequestHookHandler {
  const allowed = new Set(origins);
  return (request, reply, done) => {
    const origin = request.headers.origin;
    if (origin === undefined) return done();
    const ok = allowed.has(origin);
    if (ok) {
      reply.header('access-control-allow-origin', origin);
      reply.header('access-control-expose-headers', EXPOSED_HEADERS);
    }
    reply.header('vary', 'Origin');
    if (request.method === 'OPTIONS' && request.headers['access-control-request-method'] !== undefined) {
      if (!ok) {
        return void reply
          .code(403)
          .type(PROBLEM_CONTENT_TYPE)
          .send(problemDocument(403, 'CORS.ORIGIN_NOT_ALLOWED', `Origin ${origin} may not call this API from a browser.`, { instance: request.url }));
      }
      return void reply
        .code(204)
        .header('access-control-allow-methods', ALLOWED_METHODS)
        .header('access-control-allow-headers', ALLOWED_HEADERS)
        .header('access-control-max-age', '600')
        .send();
    }
    done();
  };
}

/**
 * Security headers on every answer. The CSP fits the storefront (its own scripts and styles only,
 * API calls to this origin and the card processor's); the API docs pages keep their own needs.
 */
export function securityHeadersHook(options: { connectSources: readonly string[] }): onSendHookHandler {
  const csp = [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    `connect-src ${["'self'", ...options.connectSources].join(' ')}`,
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "object-src 'none'",
  ].join('; ');
  return (request, reply, payload, done) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    reply.header('x-frame-options', 'DENY');
    reply.header('cross-origin-opener-policy', 'same-origin');
    reply.header('permissions-policy', 'camera=(), microphone=(), geolocation=(), payment=(self)');
    if (!request.url.startsWith('/docs')) reply.header('content-security-policy', csp);
    if (request.protocol === 'https') reply.header('strict-transport-security', 'max-age=31536000; includeSubDomains');
    done(null, payload);
  };
}
