import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVICE_NAMES, startDistributed, type DistributedPlatform } from '@emporium/launcher/distributed';
import { NO_RATE_LIMITS_ENV, TEST_ADMIN } from '../support/auth';
import { runOversellStorm } from './oversell';

const PREFIX = 'emporium_conc';
const ADMIN_URL = process.env.POSTGRES_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const ROOT = join(import.meta.dirname, '..', '..');
const LOG_DIR = join(ROOT, '.data', 'concurrency-logs');
const KAFKA_BROKERS = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';

async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect().catch((error: Error) => {
    throw new Error(`PostgreSQL is required for the distributed suite (${ADMIN_URL}): ${error.message}`);
  });
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** Deadlocks PostgreSQL detected per service database (counted by the backends, flushed when they go idle or exit). */
const deadlocks = () =>
  admin(async (client) => {
    const { rows } = await client.query<{ datname: string; deadlocks: string }>('SELECT datname, deadlocks FROM pg_stat_database WHERE datname LIKE $1', [`${PREFIX}\\_%`]);
    return Object.fromEntries(rows.map((r) => [r.datname.slice(PREFIX.length + 1), Number(r.deadlocks)]));
  });

/** Members of a Kafka consumer group (each running instance of a service is one). */
async function groupMembers(group: string): Promise<number> {
  const admin = new kafkajs.Kafka({ clientId: 'concurrency-test', brokers: KAFKA_BROKERS.split(','), logLevel: kafkajs.logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const { groups } = await admin.describeGroups([group]);
    return groups[0]?.state === 'Stable' ? groups[0].members.length : 0;
  } finally {
    await admin.disconnect();
  }
}

const stopProcess = (child: ChildProcess) =>
  new Promise<void>((done) => {
    if (child.exitCode !== null || child.signalCode !== null) return done();
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.once('exit', () => {
      clearTimeout(timer);
      done();
    });
    child.kill('SIGTERM');
  });

describe('oversell storm (distributed: a process per service, a second inventory, PostgreSQL, Kafka)', () => {
  let platform: DistributedPlatform | undefined;
  let secondInventory: ChildProcess | undefined;
  const stopAll = async () => {
    if (secondInventory) await stopProcess(secondInventory);
    await platform?.stop();
    secondInventory = undefined;
    platform = undefined;
  };

  beforeAll(async () => {
    // Each run starts from empty databases.
    await admin(async (client) => {
      for (const name of SERVICE_NAMES) await client.query(`DROP DATABASE IF EXISTS ${PREFIX}_${name} WITH (FORCE)`);
    });
    platform = await startDistributed({ gatewayPort: 3500, servicePortBase: 3500, databasePrefix: PREFIX, logLevel: 'warn', logDir: LOG_DIR, admin: TEST_ADMIN, env: { gateway: NO_RATE_LIMITS_ENV } });
    // A second inventory instance shares the partitions of order-events: reservations of
    // overlapping orders then really run at the same time, in two processes, on the same rows.
    const log = createWriteStream(join(LOG_DIR, 'inventory-2.log'), { flags: 'a' });
    secondInventory = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'services', 'inventory', 'src', 'main.ts')], {
      cwd: ROOT,
      env: { ...process.env, PORT: '0', DATABASE_PREFIX: PREFIX, LOG_LEVEL: 'warn', KAFKA_BROKERS },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    secondInventory.stdout!.pipe(log);
    secondInventory.stderr!.pipe(log);
    const deadline = Date.now() + 90_000;
    while ((await groupMembers('inventory').catch(() => 0)) < 2) {
      if (secondInventory.exitCode !== null) throw new Error(`the second inventory exited with ${secondInventory.exitCode}; see ${LOG_DIR}/inventory-2.log`);
      if (Date.now() > deadline) throw new Error('the second inventory did not join the consumer group within 90 s');
      await new Promise((r) => setTimeout(r, 500));
    }
  }, 240_000);
  afterAll(stopAll, 60_000);

  it('when 1,000 checkouts with overlapping product lists race for 100 scarce units, then exactly those units are sold, every other order is rejected naming the short product, and PostgreSQL saw no deadlock', async () => {
    const before = await deadlocks();
    await runOversellStorm({ mode: 'distributed', url: platform!.url, terminalTimeoutMs: 240_000 });
    expect(await groupMembers('inventory'), 'inventory instances still in the group').toBe(2);

    // The reconciliation command agrees with the endpoint, on the service's own database.
    const reconcile = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'services', 'inventory', 'src', 'reconcile.ts')], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: `postgres://postgres@127.0.0.1:5432/${PREFIX}_inventory` },
      encoding: 'utf8',
    });
    expect(reconcile.status, reconcile.stderr).toBe(0);
    expect(JSON.parse(reconcile.stdout)).toMatchObject({ ok: true, mismatches: [] });

    // Stopped services have flushed their statistics: the counts are final.
    await stopAll();
    const after = await deadlocks();
    console.log(`deadlocks per service database, before → after: ${JSON.stringify(before)} → ${JSON.stringify(after)}`);
    expect(after.inventory).toBeDefined();
    expect(after).toEqual(Object.fromEntries(Object.keys(after).map((name) => [name, before[name] ?? 0])));
  }, 600_000);
});
