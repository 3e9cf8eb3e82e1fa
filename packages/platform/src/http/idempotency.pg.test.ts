import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { migrate } from '../db/migrate';
import { createPostgresDb } from '../db/postgres';
import type { Db } from '../db/types';
import { createLogger } from '../logger';
import { createMetrics } from '../metrics';
import { eventually, freshPostgresDatabase } from '../testing/index';
import { createIdempotency } from './idempotency';
import { createHttpApp, type HttpApp } from './server';

const DATABASE = 'emporium_idempotency_test';

/** Two instances of one service, each with its own pool, on one PostgreSQL database. */
describe('Idempotency-Key across two instances on PostgreSQL', () => {
  const instances: Array<{ db: Db; app: HttpApp }> = [];
  let hold: Promise<void> = Promise.resolve();
  let release: () => void = () => undefined;
  let calls = 0;

  beforeAll(async () => {
    const url = await freshPostgresDatabase(DATABASE);
    for (const n of [1, 2]) {
      const db = createPostgresDb({ connectionString: url, schema: 'things', max: 5 });
      await migrate(db);
      await db.query('CREATE TABLE IF NOT EXISTS things (id serial PRIMARY KEY, name text NOT NULL)');
      const logger = createLogger(`instance-${n}`, 'silent');
      const app = await createHttpApp({ service: 'things', logger, metrics: createMetrics(`things_${n}`, { defaultMetrics: false }) });
      const idempotency = createIdempotency({ db, logger });
      app.post('/things', idempotency.route({ schema: { body: z.object({ name: z.string() }) } }), async (request, reply) => {
        calls++;
        await hold;
        const thing = await db.transaction(async (tx) => {
          const { rows } = await tx.query<{ id: number }>('INSERT INTO things (name) VALUES ($1) RETURNING id', [request.body.name]);
          const body = { id: rows[0]!.id, name: request.body.name };
          await idempotency.record(request, tx, { status: 201, body });
          return body;
        });
        return reply.code(201).send(thing);
      });
      instances.push({ db, app });
    }
  }, 60_000);
  afterAll(async () => {
    for (const { app, db } of instances) {
      await app.close();
      await db.close();
    }
  });

  const post = (instance: number, name: string, key: string) =>
    instances[instance % 2]!.app.inject({ method: 'POST', url: '/things', payload: { name }, headers: { 'idempotency-key': key } });
  const count = async (name: string) => (await instances[0]!.db.query('SELECT 1 FROM things WHERE name = $1', [name])).rowCount;

  it('when 20 requests with one key hit both instances at once, then the work is done once and every answer is the 201 or 409', async () => {
    calls = 0;
    hold = new Promise((resolve) => (release = resolve));
    const settled: number[] = [];
    const requests = Array.from({ length: 20 }, (_, i) => post(i, 'race', 'k-race').then((res) => (settled.push(res.statusCode), res)));
    await eventually(async () => settled.length === 19, 20_000, '19 requests to be turned away');
    release();
    const responses = await Promise.all(requests);
    expect(responses.filter((r) => r.statusCode === 201)).toHaveLength(1);
    expect(responses.filter((r) => r.statusCode === 409)).toHaveLength(19);
    const replay = await post(1, 'race', 'k-race');
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.json()).toEqual(responses.find((r) => r.statusCode === 201)!.json());
    expect(calls).toBe(1);
    expect(await count('race')).toBe(1);
  });

  it('when a key is left in progress past its lease and both instances get the retry at once, then exactly one takes it over', async () => {
    calls = 0;
    hold = Promise.resolve();
    await instances[0]!.db.query(
      "INSERT INTO idempotency_requests (key, route, request_hash, lock_token, locked_until) VALUES ('k-stale', 'POST /things', $1, gen_random_uuid(), now() - interval '1 second')",
      ['unknown'],
    );
    // The crashed request's hash is unknown here: store the one the retries will send.
    await post(0, 'stale-probe', 'k-probe');
    const { rows } = await instances[0]!.db.query<{ request_hash: string }>('SELECT request_hash FROM idempotency_requests WHERE key = $1', ['k-probe']);
    const probeHash = rows[0]!.request_hash;
    await instances[0]!.db.query("UPDATE idempotency_requests SET request_hash = $1 WHERE key = 'k-stale'", [probeHash]);
    await instances[0]!.db.query("DELETE FROM idempotency_requests WHERE key = 'k-probe'");
    calls = 0;
    const responses = await Promise.all(Array.from({ length: 10 }, (_, i) => post(i, 'stale-probe', 'k-stale')));
    const statuses = responses.map((r) => r.statusCode);
    expect(statuses.every((s) => s === 201 || s === 409)).toBe(true);
    expect(calls).toBe(1);
    expect(await count('stale-probe')).toBe(2);
    const done = await post(0, 'stale-probe', 'k-stale');
    expect(done.statusCode).toBe(201);
    expect(done.headers['idempotent-replayed']).toBe('true');
  });
});
