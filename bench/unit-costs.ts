/**
 * What one exchange of each kind costs on this machine, both ends counted (`tsx bench/unit-costs.ts`):
 * a PostgreSQL statement through our pool, a small write transaction (BEGIN, INSERT, COMMIT), an HTTP
 * request to a Fastify process, and a Kafka message produced and consumed with the broker's share.
 * Each is run one after another (no batching), as a checkout's steps mostly are at low load.
 * Multiplied by how many of each a checkout makes (`tsx bench/profile.ts --log-statements` counts
 * the statements), they give the CPU a checkout cannot go below without making fewer of them.
 * Needs PostgreSQL; the Kafka part needs the broker (`npm run kafka:start`) and is skipped with --no-kafka.
 *   tsx bench/unit-costs.ts [--count 10000] [--no-kafka]
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createPostgresDb, deferWrite, ensureDatabase } from '@emporium/platform';
import { client, cpuMsOf, kafkaPid, ownCpuMs, round, startHelloWorld } from './lib';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
};
const COUNT = Number(arg('count', '10000'));
const ADMIN_URL = process.env.POSTGRES_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const DATABASE = 'bench_unit_costs';
const PORT = Number(arg('port', '3995'));

interface Cost {
  kind: string;
  /** µs of CPU per exchange in this process (the caller) and in the process that answers. */
  caller: number;
  callee: number;
  wallMs: number;
}

/** Runs `once` COUNT times one after another; CPU of this process and of `callee` (a pid), per run. */
async function measure(kind: string, callee: number, once: (i: number) => Promise<unknown>, count = COUNT): Promise<Cost> {
  // Warms both ends up: the first few hundred calls run unoptimized code and cost twice as much.
  for (let i = 0; i < Math.min(1000, count); i++) await once(i);
  const [callerStart, calleeStart, wallStart] = [ownCpuMs(), cpuMsOf(callee) ?? 0, performance.now()];
  for (let i = 0; i < count; i++) await once(i);
  const per = (ms: number) => round((ms * 1000) / count, 0);
  return { kind, caller: per(ownCpuMs() - callerStart), callee: per((cpuMsOf(callee) ?? 0) - calleeStart), wallMs: round((performance.now() - wallStart) / count, 3) };
}

async function postgresCosts(): Promise<Cost[]> {
  await ensureDatabase(ADMIN_URL, DATABASE);
  const db = createPostgresDb({ connectionString: ADMIN_URL.replace(/\/[^/]*$/, `/${DATABASE}`), schema: 'public', max: 1, applicationName: 'bench-unit-costs' });
  try {
    await db.query('CREATE TABLE IF NOT EXISTS unit_costs (id bigserial PRIMARY KEY, v int NOT NULL)');
    await db.query('TRUNCATE unit_costs');
    await db.query('INSERT INTO unit_costs (v) SELECT g FROM generate_series(1, 1000) AS g');
    const { rows } = await db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    const backend = rows[0]!.pid;
    return [
      await measure('PostgreSQL: one statement (a primary-key read)', backend, (i) => db.query('SELECT id, v FROM unit_costs WHERE id = $1', [(i % 1000) + 1])),
      await measure('PostgreSQL: a write transaction (BEGIN sent with the INSERT, then COMMIT: 2 round trips and a WAL flush)', backend, (i) => db.transaction((tx) => tx.query('INSERT INTO unit_costs (v) VALUES ($1)', [i])), Math.ceil(COUNT / 2)),
      await measure('PostgreSQL: the same transaction with its INSERT deferred (Sql.defer: BEGIN, INSERT and COMMIT in 1 round trip)', backend, (i) => db.transaction((tx) => deferWrite(tx, 'INSERT INTO unit_costs (v) VALUES ($1)', [i])), Math.ceil(COUNT / 2)),
      await measure('PostgreSQL: one write statement (an INSERT, autocommit: a WAL flush)', backend, (i) => db.query('INSERT INTO unit_costs (v) VALUES ($1)', [i]), Math.ceil(COUNT / 2)),
      // The pool holds one connection: the setting stays on it for the rest of the run.
      await db.query('SET synchronous_commit = off').then(() =>
        measure('PostgreSQL: the same with synchronous_commit off (the commit does not wait for its flush)', backend, (i) => db.query('INSERT INTO unit_costs (v) VALUES ($1)', [i]), Math.ceil(COUNT / 2)),
      ),
    ];
  } finally {
    await db.close();
  }
}

async function httpCost(): Promise<Cost> {
  const server = await startHelloWorld(PORT);
  const http = client(server.url, 1);
  try {
    return await measure('HTTP: one request to a Fastify process (keep-alive, JSON answer)', server.pid, () => http.request('GET', '/', undefined, {}));
  } finally {
    await http.close();
    await server.stop();
  }
}

/** kafka-client.ts in a child process (its producer and consumer report their own CPU), and the broker's CPU meanwhile. */
async function kafkaCosts(): Promise<Cost[]> {
  const broker = kafkaPid();
  if (!broker) throw new Error('no Kafka broker listens on 127.0.0.1:9092: start it (npm run kafka:start) or pass --no-kafka');
  const messages = Math.min(COUNT, 3000);
  const brokerStart = cpuMsOf(broker) ?? 0;
  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(new URL('./kafka-client.ts', import.meta.url)), '--messages', String(messages), '--rate', '300'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  if (code !== 0) throw new Error(`kafka-client.ts exited with ${code}`);
  // The broker also served the topic's creation, the group's join and heartbeats: a slight overcount.
  const brokerUs = round((((cpuMsOf(broker) ?? 0) - brokerStart) * 1000) / messages, 0);
  const reports = out.trim().split('\n').map((l) => JSON.parse(l) as { role: string; cpuMsPerMessage: number; seconds: number });
  const of = (role: string) => reports.find((r) => r.role === role)!;
  const us = (ms: number) => round(ms * 1000, 0);
  return [
    { kind: 'Kafka: a message produced (one per request, acks all); broker CPU is for produce and consume together', caller: us(of('produce').cpuMsPerMessage), callee: brokerUs, wallMs: round((of('produce').seconds * 1000) / messages, 3) },
    { kind: 'Kafka: a message consumed by a group member (fetch at 300/s)', caller: us(of('consume').cpuMsPerMessage), callee: 0, wallMs: NaN },
  ];
}

const costs = [...(await postgresCosts()), await httpCost(), ...(process.argv.includes('--no-kafka') ? [] : await kafkaCosts())];
const lines = ['| exchange | caller CPU µs | callee CPU µs | both µs | wall ms each |', '| --- | --- | --- | --- | --- |'];
for (const c of costs) lines.push(`| ${c.kind} | ${c.caller} | ${c.callee} | ${c.caller + c.callee} | ${Number.isNaN(c.wallMs) ? '' : c.wallMs} |`);
process.stdout.write(`${lines.join('\n')}\n`);
process.exit(0);
