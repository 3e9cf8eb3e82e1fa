import { createHash, createHmac, randomUUID } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Db, Sql } from '../db/types';
import { AppError } from '../errors';
import type { Logger } from '../logger';
import { every } from '../background';
import { principalOf } from './principal';

/**
 * `Idempotency-Key` on POSTs that create something or move money, with Stripe's semantics:
 *
 * - the first request with a key claims it — a row (key, route, hash of method + path + body,
 *   principal) committed as *in progress* BEFORE the handler runs — and completes it with the
 *   final status and body after (4xx included: they are answers too);
 * - a retry with the same key and request gets that answer back, with `Idempotent-Replayed: true`,
 *   and the handler does not run;
 * - the same key with another body, path or route → 422 `IDEMPOTENCY.KEY_REUSED`;
 * - while the first is still in progress → 409 `IDEMPOTENCY.IN_PROGRESS` with `Retry-After: 1`
 *   (never stored);
 * - a 5xx deletes the claim, so the key may be retried; a crashed instance leaves it in progress
 *   until its lease ends (`leaseMs`), after which a retry takes it over and does the work.
 *
 * The crash window: work committed, process gone before the answer was recorded. After the lease a
 * retry does the work again. Handlers whose work is one transaction close that window by calling
 * `record(request, tx, …)` inside it (orders' place order, payments' refund): the answer then
 * commits with the work or not at all, and a handler whose lease was taken over meanwhile rolls
 * back instead of doing the work twice.
 *
 * The claim is `INSERT … ON CONFLICT DO NOTHING` in its own (autocommitted) statement, so it is
 * correct across instances on PostgreSQL and on PGlite alike.
 */
export interface IdempotencyOptions {
  db: Db;
  logger: Logger;
  /** How long an in-progress claim is trusted before a retry may take it over. Default 30 s. */
  leaseMs?: number;
  /** Who is asking: keys are unique per principal. Default: the gateway's principal (ADR 0009). */
  principal?: (request: FastifyRequest) => string | undefined;
  /**
   * For routes whose bodies carry secrets (a new account's password): the stored request hash is
   * an HMAC-SHA-256 under this key instead of a plain SHA-256, so a copy of the table cannot be
   * used to guess the secret offline. Default: plain SHA-256.
   */
  requestHashKey?: () => Promise<Buffer>;
}

export interface RecordedResponse {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export interface Idempotency {
  /** Makes a POST idempotent: `app.post(path, idempotency.route({ schema }), handler)`. */
  route<T extends { schema?: object }>(options: T): T;
  /**
   * Stores the answer in the transaction that does the work (see above). A no-op for requests
   * without a key; throws 409 IN_PROGRESS (rolling the work back) if the claim was taken over.
   */
  record(request: FastifyRequest, tx: Sql, response: RecordedResponse): Promise<void>;
  /** Deletes keys older than `olderThanMs` (default 24 h); resolves to how many. */
  cleanup(olderThanMs?: number): Promise<number>;
  /** `cleanup()` as a background task for `defineService({ background })`, hourly by default. */
  cleanupTask(intervalMs?: number): () => () => Promise<void>;
}

export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';
export const IDEMPOTENCY_KEYS_KEPT_MS = 24 * 60 * 60_000;
const PRINTABLE_ASCII = /^[\x20-\x7e]{1,255}$/;
const REPLAYED_HEADERS = ['content-type', 'location'];
const CLEANUP_BATCH = 1000;

/** The header as route schemas show it in OpenAPI (the hook checks it first, naming the field plainly). */
export const IdempotencyKeyHeaders = z.looseObject({
  [IDEMPOTENCY_KEY_HEADER]: z
    .string()
    .min(1)
    .max(255)
    .regex(PRINTABLE_ASCII, 'must be 1–255 printable ASCII characters')
    .optional()
    .describe('A unique key per operation (a UUID, say). A retry with the same key and body gets the first answer back (header Idempotent-Replayed: true) and changes nothing; keys are kept 24 hours.'),
});

const keyField = (message: string) => [{ field: IDEMPOTENCY_KEY_HEADER, message }];

const reused = () =>
  new AppError('IDEMPOTENCY.KEY_REUSED', 'This Idempotency-Key was already used for a different request (another body, path or endpoint); use a new key.', {
    status: 422,
    errors: keyField('was already used for a different request'),
  });

const inProgress = () =>
  new AppError('IDEMPOTENCY.IN_PROGRESS', 'A request with this Idempotency-Key is still being processed; retry in a moment to get its answer.', {
    status: 409,
    errors: keyField('is in use by a request still in progress'),
  });

interface Claim {
  principal: string;
  key: string;
  token: string;
}

interface StoredRow {
  route: string;
  request_hash: string;
  response_status: number | null;
  response_headers: Record<string, string> | null;
  response_body: string | null;
  expired: boolean;
}

type Decision = { claimed: Claim } | { replay: StoredRow };

export function createIdempotency(options: IdempotencyOptions): Idempotency {
  const { db } = options;
  const logger = options.logger.child({ component: 'idempotency' });
  const leaseMs = options.leaseMs ?? 30_000;
  const claims = new WeakMap<FastifyRequest, Claim>();
  // Keys are per caller: another shopper sending the same key gets their own answer, never this one's.
  const principalKey = (request: FastifyRequest): string => (options.principal ? options.principal(request) : principalOf(request)?.id) ?? '';

  const claim = async (principal: string, key: string, route: string, hash: string): Promise<Decision> => {
    // Three rounds cover a row released (5xx) or cleaned up between our INSERT and SELECT.
    for (let round = 0; round < 3; round++) {
      const token = randomUUID();
      const inserted = await db.query(
        `INSERT INTO idempotency_requests (principal, key, route, request_hash, lock_token, locked_until)
         VALUES ($1, $2, $3, $4, $5, now() + $6::float8 * interval '1 millisecond')
         ON CONFLICT (principal, key) DO NOTHING RETURNING key`,
        [principal, key, route, hash, token, leaseMs],
      );
      if (inserted.rows.length === 1) return { claimed: { principal, key, token } };

      const { rows } = await db.query<StoredRow>(
        `SELECT route, request_hash, response_status, response_headers, response_body, locked_until <= now() AS expired
         FROM idempotency_requests WHERE principal = $1 AND key = $2`,
        [principal, key],
      );
      const row = rows[0];
      if (!row) continue;
      if (row.route !== route || row.request_hash !== hash) throw reused();
      if (row.response_status !== null) return { replay: row };
      if (!row.expired) throw inProgress();
      const taken = await db.query(
        `UPDATE idempotency_requests SET lock_token = $3, locked_until = now() + $4::float8 * interval '1 millisecond'
         WHERE principal = $1 AND key = $2 AND response_status IS NULL AND locked_until <= now() RETURNING key`,
        [principal, key, token, leaseMs],
      );
      if (taken.rows.length === 1) {
        logger.warn({ idempotencyKey: key, route }, 'taking over an idempotency key whose first request never finished (lease expired)');
        return { claimed: { principal, key, token } };
      }
    }
    throw inProgress();
  };

  const complete = async (c: Claim, sql: Sql, status: number, headers: Record<string, string>, body: string | null): Promise<number> =>
    (
      await sql.query(
        `UPDATE idempotency_requests SET response_status = $4, response_headers = $5::jsonb, response_body = $6, completed_at = now(), locked_until = NULL
         WHERE principal = $1 AND key = $2 AND lock_token = $3 AND response_status IS NULL RETURNING key`,
        [c.principal, c.key, c.token, status, JSON.stringify(headers), body],
      )
    ).rows.length;

  const release = (c: Claim) =>
    db.query('DELETE FROM idempotency_requests WHERE principal = $1 AND key = $2 AND lock_token = $3 AND response_status IS NULL', [c.principal, c.key, c.token]);

  const headerKey = (request: FastifyRequest): string | undefined => {
    const raw = request.headers[IDEMPOTENCY_KEY_HEADER];
    return Array.isArray(raw) ? raw.join(', ') : raw;
  };

  const checkKey = async (request: FastifyRequest) => {
    const key = headerKey(request);
    if (key !== undefined && !PRINTABLE_ASCII.test(key)) {
      throw new AppError('REQUEST.INVALID', 'The Idempotency-Key header must be 1–255 printable ASCII characters.', {
        status: 400,
        errors: keyField('must be 1–255 printable ASCII characters'),
      });
    }
  };

  const claimOrReplay = async (request: FastifyRequest, reply: FastifyReply) => {
    const key = headerKey(request);
    if (key === undefined) return;
    const route = `${request.method} ${request.routeOptions.url ?? request.url}`;
    const hashed = `${request.method} ${request.url}\n${canonicalJson(request.body)}`;
    const hash = (options.requestHashKey ? createHmac('sha256', await options.requestHashKey()) : createHash('sha256')).update(hashed).digest('hex');
    let decision: Decision;
    try {
      decision = await claim(principalKey(request), key, route, hash);
    } catch (error) {
      if (error instanceof AppError && error.code === 'IDEMPOTENCY.IN_PROGRESS') reply.header('retry-after', '1');
      throw error;
    }
    if ('claimed' in decision) {
      claims.set(request, decision.claimed);
      return;
    }
    const { replay } = decision;
    request.log.info({ idempotencyKey: key, status: replay.response_status }, 'idempotent request replayed');
    reply.code(replay.response_status!);
    for (const [name, value] of Object.entries(replay.response_headers ?? {})) reply.header(name, value);
    reply.header('idempotent-replayed', 'true');
    return reply.send(replay.response_body ?? undefined);
  };

  const recordAnswer = async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    const c = claims.get(request);
    if (!c) return payload;
    claims.delete(request);
    try {
      if (reply.statusCode >= 500) {
        await release(c);
      } else {
        const headers: Record<string, string> = {};
        for (const name of REPLAYED_HEADERS) {
          const value = reply.getHeader(name);
          if (value !== undefined) headers[name] = String(value);
        }
        const body = typeof payload === 'string' ? payload : Buffer.isBuffer(payload) ? payload.toString('utf8') : null;
        await complete(c, db, reply.statusCode, headers, body);
      }
    } catch (error) {
      // The answer still goes out; the claim stays in progress until its lease ends.
      request.log.error({ err: error, idempotencyKey: c.key }, 'could not record the answer to an idempotent request');
    }
    return payload;
  };

  const cleanup = async (olderThanMs = IDEMPOTENCY_KEYS_KEPT_MS): Promise<number> => {
    let deleted = 0;
    for (;;) {
      const { rowCount } = await db.query(
        `DELETE FROM idempotency_requests WHERE (principal, key) IN (
           SELECT principal, key FROM idempotency_requests WHERE created_at < now() - $1::float8 * interval '1 millisecond' LIMIT ${CLEANUP_BATCH})`,
        [olderThanMs],
      );
      deleted += rowCount;
      if (rowCount < CLEANUP_BATCH) return deleted;
    }
  };

  const hooks = {
    preValidation: checkKey,
    preHandler: claimOrReplay,
    onSend: recordAnswer,
  };

  return {
    route<T extends { schema?: object }>(routeOptions: T): T {
      const schema = (routeOptions.schema ?? {}) as { headers?: unknown };
      if (schema.headers !== undefined && !(schema.headers instanceof z.ZodObject)) {
        throw new Error('idempotency.route(): the route already has a headers schema that is not a zod object');
      }
      const headers = schema.headers instanceof z.ZodObject ? schema.headers.extend(IdempotencyKeyHeaders.shape) : IdempotencyKeyHeaders;
      const withHooks: Record<string, unknown> = { ...routeOptions, schema: { ...schema, headers } };
      for (const [name, hook] of Object.entries(hooks)) {
        const existing = (routeOptions as Record<string, unknown>)[name];
        withHooks[name] = existing === undefined ? [hook] : [...(Array.isArray(existing) ? existing : [existing]), hook];
      }
      return withHooks as T;
    },

    async record(request, tx, response) {
      const c = claims.get(request);
      if (!c) return;
      const headers = { 'content-type': 'application/json; charset=utf-8', ...response.headers };
      const body = response.body === undefined ? null : JSON.stringify(response.body);
      if ((await complete(c, tx, response.status, headers, body)) === 0) {
        request.log.warn({ idempotencyKey: c.key }, 'idempotency claim lost to a retry while working; rolling back');
        throw inProgress();
      }
    },

    cleanup,

    cleanupTask: (intervalMs = 60 * 60_000) => every(intervalMs, logger, 'idempotency-cleanup', () => cleanup()),
  };
}

/** JSON with object keys sorted, so the same body always hashes the same. */
function canonicalJson(value: unknown): string {
  if (value === undefined) return '';
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}
