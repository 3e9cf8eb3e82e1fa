import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { migrate } from '../db/migrate';
import type { Db } from '../db/types';
import { AppError } from '../errors';
import { createLogger } from '../logger';
import { createMetrics } from '../metrics';
import { createTestPlatform, eventually, type TestPlatform } from '../testing/index';
import { createIdempotency, type Idempotency } from './idempotency';
import { createHttpApp, problemResponses, type HttpApp } from './server';

/** A promise and its resolver, to hold a handler in the middle of its work. */
const gate = () => {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
};

describe('Idempotency-Key on a small app on the embedded database', () => {
  let platform: TestPlatform;
  let db: Db;
  let app: HttpApp;
  let idempotency: Idempotency;
  const calls: Record<string, number> = {};
  const gates = new Map<string, ReturnType<typeof gate>>();
  const count = (name: string) => (calls[name] = (calls[name] ?? 0) + 1);

  beforeAll(async () => {
    platform = await createTestPlatform();
    db = platform.pglite.forSchema('idem_test');
    await migrate(db);
    await db.query('CREATE TABLE things (id serial PRIMARY KEY, name text NOT NULL)');
    const logger = createLogger('idem-test', 'silent');
    app = await createHttpApp({ service: 'idem-test', logger, metrics: createMetrics('idem_test', { defaultMetrics: false }) });
    idempotency = createIdempotency({ db, logger, principal: (request) => request.headers['x-principal'] as string | undefined });
    const Body = z.object({ name: z.string(), hold: z.string().optional(), fail: z.enum(['404', '500', 'after-commit']).optional() }).strict();
    const Thing = z.object({ id: z.number(), name: z.string() });

    app.post('/things', idempotency.route({ schema: { body: Body, response: { 201: Thing, ...problemResponses } } }), async (request, reply) => {
      count(request.body.name);
      if (request.body.hold) await gates.get(request.body.hold)!.opened;
      if (request.body.fail === '404') throw new AppError('TEST.NOT_FOUND', 'No such thing.', { status: 404 });
      if (request.body.fail === '500') throw new Error('boom');
      const { rows } = await db.query<{ id: number }>('INSERT INTO things (name) VALUES ($1) RETURNING id', [request.body.name]);
      return reply.code(201).header('location', `/things/${rows[0]!.id}`).send({ id: rows[0]!.id, name: request.body.name });
    });

    // The work and its answer in one transaction, as orders' place order does.
    app.post('/things/:group/tx', idempotency.route({ schema: { params: z.object({ group: z.string() }), body: Body } }), async (request, reply) => {
      count(request.body.name);
      if (request.body.hold) await gates.get(request.body.hold)!.opened;
      const thing = await db.transaction(async (tx) => {
        const { rows } = await tx.query<{ id: number }>('INSERT INTO things (name) VALUES ($1) RETURNING id', [request.body.name]);
        const body = { id: rows[0]!.id, name: request.body.name };
        await idempotency.record(request, tx, { status: 201, body });
        return body;
      });
      if (request.body.fail === 'after-commit') throw new Error('lost after the commit');
      return reply.code(201).send(thing);
    });
  });
  afterAll(async () => {
    await app.close();
    await platform.close();
  });

  const post = (url: string, body: object, key?: string, headers: Record<string, string> = {}) =>
    app.inject({ method: 'POST', url, payload: body, headers: { ...(key === undefined ? {} : { 'idempotency-key': key }), ...headers } });
  const things = async (name: string) => (await db.query('SELECT id FROM things WHERE name = $1', [name])).rowCount;
  const stored = async (key: string) =>
    (await db.query<{ response_status: number | null }>('SELECT response_status FROM idempotency_requests WHERE key = $1', [key])).rows[0];

  it('when the same key and body are sent again, then the first status, body and location come back replayed and the handler ran once', async () => {
    const first = await post('/things', { name: 'replay' }, 'k-replay');
    const second = await post('/things', { name: 'replay' }, 'k-replay');
    expect(first.statusCode).toBe(201);
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    expect(second.statusCode).toBe(201);
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(second.headers['content-type']).toBe(first.headers['content-type']);
    expect(second.headers.location).toBe(first.headers.location);
    expect(second.body).toBe(first.body);
    expect(calls.replay).toBe(1);
    expect(await things('replay')).toBe(1);
  });

  it('when no key is sent, then every request does the work and nothing is stored', async () => {
    const before = (await db.query('SELECT 1 FROM idempotency_requests')).rowCount;
    await post('/things', { name: 'keyless' });
    await post('/things', { name: 'keyless' });
    expect(calls.keyless).toBe(2);
    expect((await db.query('SELECT 1 FROM idempotency_requests')).rowCount).toBe(before);
  });

  it('when the key comes back with another body, path or endpoint, then 422 IDEMPOTENCY.KEY_REUSED names idempotency-key and nothing runs', async () => {
    expect((await post('/things/a/tx', { name: 'reuse' }, 'k-reuse')).statusCode).toBe(201);
    const otherBody = await post('/things/a/tx', { name: 'reuse', hold: 'x' }, 'k-reuse');
    const otherPath = await post('/things/b/tx', { name: 'reuse' }, 'k-reuse');
    const otherEndpoint = await post('/things', { name: 'reuse' }, 'k-reuse');
    for (const res of [otherBody, otherPath, otherEndpoint]) {
      expect(res.statusCode).toBe(422);
      expect(res.headers['content-type']).toContain('application/problem+json');
      expect(res.json()).toMatchObject({ code: 'IDEMPOTENCY.KEY_REUSED', errors: [{ field: 'idempotency-key' }] });
    }
    expect(calls.reuse).toBe(1);
  });

  it('when the same body arrives with its keys in another order, then it is the same request and is replayed', async () => {
    const first = await app.inject({ method: 'POST', url: '/things', headers: { 'content-type': 'application/json', 'idempotency-key': 'k-order' }, payload: '{"name":"order","fail":"404"}' });
    const second = await app.inject({ method: 'POST', url: '/things', headers: { 'content-type': 'application/json', 'idempotency-key': 'k-order' }, payload: '{ "fail": "404", "name": "order" }' });
    expect(second.statusCode).toBe(first.statusCode);
    expect(second.headers['idempotent-replayed']).toBe('true');
  });

  it('when the first answer was a 4xx, then it is stored and replayed like any other answer', async () => {
    const first = await post('/things', { name: 'four', fail: '404' }, 'k-404');
    const second = await post('/things', { name: 'four', fail: '404' }, 'k-404');
    expect(first.statusCode).toBe(404);
    expect(second.statusCode).toBe(404);
    expect(second.headers['content-type']).toContain('application/problem+json');
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(second.json()).toEqual(first.json());
    expect(calls.four).toBe(1);
  });

  it('when the first request failed with a 5xx, then the key is released and a retry does the work', async () => {
    expect((await post('/things', { name: 'five', fail: '500' }, 'k-500')).statusCode).toBe(500);
    expect(await stored('k-500')).toBeUndefined();
    expect((await post('/things', { name: 'five', fail: '500' }, 'k-500')).statusCode).toBe(500);
    expect(calls.five).toBe(2);
  });

  it('when a request fails after its work and answer committed together, then a retry gets that answer and the work is not redone', async () => {
    expect((await post('/things/a/tx', { name: 'committed', fail: 'after-commit' }, 'k-commit')).statusCode).toBe(500);
    const retry = await post('/things/a/tx', { name: 'committed', fail: 'after-commit' }, 'k-commit');
    expect(retry.statusCode).toBe(201);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(retry.json()).toMatchObject({ name: 'committed' });
    expect(await things('committed')).toBe(1);
    expect(calls.committed).toBe(1);
  });

  it('when many requests share one key while the first is working, then the handler runs once and the others get 409 IN_PROGRESS with Retry-After, or the replay once it is done', async () => {
    gates.set('busy', gate());
    const settled: number[] = [];
    const requests = Array.from({ length: 10 }, () =>
      post('/things', { name: 'busy', hold: 'busy' }, 'k-busy').then((res) => {
        settled.push(res.statusCode);
        return res;
      }),
    );
    await eventually(async () => settled.length === 9, 20_000, 'nine requests to be turned away');
    gates.get('busy')!.open();
    const responses = await Promise.all(requests);
    const conflicts = responses.filter((r) => r.statusCode === 409);
    expect(conflicts).toHaveLength(9);
    for (const res of conflicts) {
      expect(res.headers['retry-after']).toBe('1');
      expect(res.json()).toMatchObject({ code: 'IDEMPOTENCY.IN_PROGRESS', errors: [{ field: 'idempotency-key' }] });
    }
    const created = responses.filter((r) => r.statusCode === 201);
    expect(created).toHaveLength(1);
    const retry = await post('/things', { name: 'busy', hold: 'busy' }, 'k-busy');
    expect(retry.statusCode).toBe(201);
    expect(retry.json()).toEqual(created[0]!.json());
    expect(calls.busy).toBe(1);
    expect(await things('busy')).toBe(1);
  });

  it('when a crashed first request left the key in progress past its lease, then the same request takes it over and the late first one cannot commit twice', async () => {
    gates.set('crash', gate());
    const first = post('/things/a/tx', { name: 'crash', hold: 'crash' }, 'k-crash');
    await eventually(async () => calls.crash === 1, 10_000, 'the first request to start working');
    await db.query("UPDATE idempotency_requests SET locked_until = now() - interval '1 second' WHERE key = 'k-crash'");
    const holder = gates.get('crash')!;
    gates.set('crash', { opened: Promise.resolve(), open: () => undefined });
    const retry = await post('/things/a/tx', { name: 'crash', hold: 'crash' }, 'k-crash');
    expect(retry.statusCode).toBe(201);
    expect(retry.headers['idempotent-replayed']).toBeUndefined();
    holder.open();
    const late = await first;
    expect(late.statusCode).toBe(409);
    expect(late.json().code).toBe('IDEMPOTENCY.IN_PROGRESS');
    expect(await things('crash')).toBe(1);
    const again = await post('/things/a/tx', { name: 'crash', hold: 'crash' }, 'k-crash');
    expect(again.json()).toEqual(retry.json());
    expect(calls.crash).toBe(2);
  });

  it('when a key is empty, too long or not printable ASCII, then 400 names idempotency-key and nothing runs', async () => {
    for (const key of ['', 'k'.repeat(256), 'clé-unique']) {
      const res = await post('/things', { name: 'bad-key' }, key);
      expect(res.statusCode, JSON.stringify(key)).toBe(400);
      expect(res.json()).toMatchObject({ code: 'REQUEST.INVALID', errors: [{ field: 'idempotency-key' }] });
    }
    expect((await post('/things', { name: 'good-key' }, `${'k'.repeat(250)} 4 ~`)).statusCode).toBe(201);
    expect(calls['bad-key']).toBeUndefined();
  });

  it('when two principals use the same key, then each gets its own answer', async () => {
    const a = await post('/things', { name: 'principal' }, 'k-shared', { 'x-principal': 'alice' });
    const b = await post('/things', { name: 'principal' }, 'k-shared', { 'x-principal': 'bob' });
    expect(a.json().id).not.toBe(b.json().id);
    expect(calls.principal).toBe(2);
  });

  it('when keys are older than 24 hours, then cleanup deletes them and keeps the younger ones', async () => {
    await post('/things', { name: 'old' }, 'k-old');
    await post('/things', { name: 'young' }, 'k-young');
    await db.query("UPDATE idempotency_requests SET created_at = now() - interval '25 hours' WHERE key = 'k-old'");
    await db.query("UPDATE idempotency_requests SET created_at = now() - interval '23 hours' WHERE key = 'k-young'");
    expect(await idempotency.cleanup()).toBe(1);
    expect(await stored('k-old')).toBeUndefined();
    expect(await stored('k-young')).toMatchObject({ response_status: 201 });
    const reused = await post('/things', { name: 'old' }, 'k-old');
    expect(reused.headers['idempotent-replayed']).toBeUndefined();
    expect(calls.old).toBe(2);
  });

  it('when the OpenAPI document is read, then an idempotent route lists the Idempotency-Key header', async () => {
    const doc = (await app.inject('/docs/json')).json();
    const parameters = doc.paths['/things'].post.parameters as Array<{ in: string; name: string }>;
    expect(parameters).toContainEqual(expect.objectContaining({ in: 'header', name: 'idempotency-key' }));
  });
});
