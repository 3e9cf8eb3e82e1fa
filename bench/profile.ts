/**
 * Where one distributed checkout's CPU and database work go (`tsx bench/profile.ts`): runs checkouts
 * at a fixed rate and divides, by the checkouts completed, each process's CPU time (every service,
 * the gateway, the card processor, the PostgreSQL backends of this run's databases, the Kafka broker,
 * the load generator) and how often its threads were woken, each database's transactions and row operations, each
 * service's waits for a pooled connection, and the server's WAL records and flushes.
 *   tsx bench/profile.ts --rate 20 --duration 20 [--warm-up 40] [--cpu-prof <dir>] [--log-statements] [--round-trips]
 * --cpu-prof writes a V8 profile per process (CPU.<pid>.cpuprofile) into <dir> when it stops (open in Chrome DevTools, or
 * summarize with `tsx bench/profile-summary.ts <dir>`); --log-statements sets `log_statement = all` on
 * this run's databases, so the PostgreSQL server log holds every statement (counted per database at the end);
 * --round-trips counts, with `perf stat` on the syscall tracepoints (root), the sends and receives of every
 * PostgreSQL process during the measured window: a backend sends once per answered round trip.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { dropServiceDatabases, SANDBOX_NAMES, SERVICE_NAMES, type ServiceName } from '@emporium/launcher/distributed';
import { signInStaff } from '../tests/support/auth';
import { argOf, client, cpuMsOf, kafkaPid, percentiles, postgresBackends, round, startBenchPlatform, wakeUpsOf, watchOrders } from './lib';

const RATE = Number(argOf('rate', '20'));
const DURATION = Number(argOf('duration', '20'));
const PREFIX = argOf('db-prefix', 'perf2_prof');
const PORT = Number(argOf('port', '3870'));
const CPU_PROF = argOf('cpu-prof', '');
const WARM_UP = Number(argOf('warm-up', '40'));
const LOG_STATEMENTS = process.argv.includes('--log-statements');
const ROUND_TRIPS = process.argv.includes('--round-trips');
const PERF_OUT = `/tmp/emporium-profile-${process.pid}.perf`;
const ADMIN_URL = process.env.POSTGRES_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const SERVER_LOG = '/var/log/postgresql/postgresql-15-main.log';
const NAMESPACE = `prof-${Math.random().toString(36).slice(2, 8)}`;
const DATABASES = [...SERVICE_NAMES, ...SANDBOX_NAMES].map((n) => `${PREFIX}_${n.replace(/-/g, '_')}`);
const log = (message: string) => process.stderr.write(`[profile] ${message}\n`);

/** Per service, its pool's connection checkouts so far (`db_pool_acquire_seconds` on /metrics): how many, their summed wait, how many waited over 1 ms. */
async function poolWaits(urls: Record<string, string>): Promise<Map<string, { count: number; sum: number; over1ms: number }>> {
  const waits = new Map<string, { count: number; sum: number; over1ms: number }>();
  for (const name of SERVICE_NAMES) {
    const text = await (await fetch(`${urls[name]}/metrics`)).text();
    const value = (pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? NaN);
    const count = value(/^db_pool_acquire_seconds_count\{[^}]*\} (\S+)$/m);
    waits.set(name, { count, sum: value(/^db_pool_acquire_seconds_sum\{[^}]*\} (\S+)$/m), over1ms: count - value(/^db_pool_acquire_seconds_bucket\{le="0\.001"[^}]*\} (\S+)$/m) });
  }
  return waits;
}

/** CPU ms and wake-ups of this run's PostgreSQL backends, keyed `database|pid` (from their process titles). */
function postgresCpu(): Map<string, { cpu: number; wakeUps: number }> {
  return new Map(postgresBackends(DATABASES).map(({ pid, db }) => [`${db}|${pid}`, { cpu: cpuMsOf(pid) ?? 0, wakeUps: wakeUpsOf(pid) ?? 0 }]));
}

const machineTicks = () => {
  const n = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  return { idle: n[3]! + n[4]!, total: n.reduce((a, b) => a + b, 0) };
};

const WAL = '(wal)';

/** pg_stat_database of this run's databases, and pg_stat_wal under WAL. */
async function dbStats(): Promise<Map<string, Record<string, number>>> {
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  try {
    const { rows } = await admin.query<Record<string, string>>(
      'SELECT datname, xact_commit, xact_rollback, tup_returned, tup_fetched, tup_inserted, tup_updated, tup_deleted, blks_hit FROM pg_stat_database WHERE datname = ANY($1)',
      [DATABASES],
    );
    // pg_stat_wal is the whole server's: other work on it during the run is counted too.
    const wal = await admin.query<Record<string, string>>('SELECT wal_records, wal_bytes, wal_write, wal_sync FROM pg_stat_wal');
    return new Map([...rows, { ...wal.rows[0], datname: WAL }].map((r) => [r.datname!, Object.fromEntries(Object.entries(r).filter(([k]) => k !== 'datname').map(([k, v]) => [k, Number(v)]))]));
  } finally {
    await admin.end();
  }
}

async function prepareDatabases() {
  await dropServiceDatabases(PREFIX, ADMIN_URL);
  if (!LOG_STATEMENTS) return;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  try {
    for (const db of DATABASES) {
      await admin.query(`CREATE DATABASE ${db}`);
      await admin.query(`ALTER DATABASE ${db} SET log_statement = 'all'`);
    }
  } finally {
    await admin.end();
  }
}

// Node 20 refuses --cpu-prof in NODE_OPTIONS: a preloaded module runs the profiler instead.
if (CPU_PROF) mkdirSync(CPU_PROF, { recursive: true });
const profiling: Record<string, string> = CPU_PROF ? { NODE_OPTIONS: `--import ${join(import.meta.dirname, 'cpu-profiler.mjs')}`, CPU_PROFILE_DIR: resolve(CPU_PROF) } : {};
const extra = Object.fromEntries((process.env.PROFILE_ENV ?? '').split(',').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
await prepareDatabases();
const platform = await startBenchPlatform({ prefix: PREFIX, port: PORT, namespace: NAMESPACE, env: { ...profiling, ...extra }, gatewayEnv: { ...profiling, ...extra } });
const names: ServiceName[] = [...SERVICE_NAMES, ...SANDBOX_NAMES, 'gateway'];
const http = client(platform.url);
try {
  const staff = await signInStaff(platform.url);
  const run = Math.random().toString(36).slice(2, 7);
  const ids: string[] = [];
  for (let i = 0; i < 20; i++) {
    const id = `prof-${run}-${i}`;
    const res = await http.request('POST', '/products', { id, sku: `PROF-${run.toUpperCase()}-${i}`, name: `Profile product ${i}`, description: 'profile', category: 'bench', price: { amount: 1000 + i, currency: 'EUR' } }, staff.headers);
    if (res.status !== 201) throw new Error(`product: ${res.status}`);
    ids.push(id);
  }
  for (const id of ids) {
    while ((await http.request('POST', `/inventory/${id}/update`, { set: 1_000_000, reason: 'profile stock' }, staff.headers)).status !== 200) await new Promise((r) => setTimeout(r, 50));
  }

  const checkout = async (i: number): Promise<{ id?: string; ms?: number }> => {
    const g = await http.request('POST', '/auth/guest', {});
    if (g.status !== 201) return {};
    const body = g.body as { accessToken: string; guest: { id: string } };
    const headers = { authorization: `Bearer ${body.accessToken}` };
    const product = ids[i % ids.length]!;
    await http.request('GET', '/products?category=bench&limit=20', undefined, headers);
    await http.request('GET', `/products/${product}`, undefined, headers);
    const add = await http.request('POST', `/cart/${body.guest.id}/add`, { productId: product, quantity: 1 }, headers);
    if (add.status !== 200) return {};
    const placed = await http.request('POST', '/api/orders', { from_cart: true, payment_method: 'credit_card', payment_token: 'tok_success' }, headers);
    return placed.status === 201 ? { id: (placed.body as { id: string }).id, ms: placed.ms } : {};
  };
  const waitDone = async (orderIds: string[]) => {
    const { ended, pending } = await watchOrders(http, staff.headers, orderIds, 120_000);
    // An accepted order that has not ended is a fault of the platform, not a slow figure: name it.
    for (const id of pending) {
      const order = (await http.request('GET', `/api/orders/${id}`, undefined, staff.headers)).body as { status?: string; history?: unknown };
      log(`not ended after 120 s: ${id} ${order.status} ${JSON.stringify(order.history)}`);
    }
    for (const o of ended.filter((e) => e.status !== 'completed')) log(`ended ${o.status}: ${o.id}`);
    const completed = ended.filter((o) => o.status === 'completed');
    return { completed: completed.length, confirmed: percentiles(completed.map((o) => o.at('confirmed') - o.at('placed'))) };
  };

  /** Open model: a checkout every 1/rate s for `count` checkouts, whatever the answers' times. */
  const offer = async (count: number, rate: number) => {
    const began = performance.now();
    const journeys: Promise<{ id?: string; ms?: number }>[] = [];
    for (let i = 0; i < count; i++) {
      const wait = began + (i * 1000) / rate - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      journeys.push(checkout(i));
    }
    return Promise.all(journeys);
  };

  // V8 compiles the hot paths of every process while the first few hundred checkouts run: without
  // a warm-up, the optimizing compiler's work is counted as the checkouts' CPU.
  log(`warm-up: ${WARM_UP} checkouts at ${Math.max(RATE, 5)}/s`);
  await waitDone((await offer(WARM_UP, Math.max(RATE, 5))).flatMap((r) => (r.id ? [r.id] : [])));

  const pids = Object.fromEntries(names.map((n) => [n, platform.pid(n)!]));
  const broker = kafkaPid();
  log(`pids: ${JSON.stringify(pids)}`);
  if (CPU_PROF) {
    writeFileSync(join(CPU_PROF, 'pids.json'), JSON.stringify(pids));
    for (const pid of Object.values(pids)) process.kill(pid, 'SIGUSR2');
  }
  const before = {
    procs: Object.fromEntries(Object.entries(pids).map(([n, p]) => [n, cpuMsOf(p) ?? 0])),
    wakeUps: Object.fromEntries(Object.entries(pids).map(([n, p]) => [n, wakeUpsOf(p) ?? 0])),
    pg: postgresCpu(),
    kafka: broker ? (cpuMsOf(broker) ?? 0) : 0,
    kafkaWakeUps: broker ? (wakeUpsOf(broker) ?? 0) : 0,
    self: process.cpuUsage(),
    db: await dbStats(),
    pool: await poolWaits(platform.urls),
    machine: machineTicks(),
    load: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '),
  };
  const logStart = LOG_STATEMENTS ? statSync(SERVER_LOG).size : 0;
  const perf = ROUND_TRIPS
    ? spawn('perf', ['stat', '-x', ',', '--per-thread', '-a', '-e', 'syscalls:sys_enter_sendto,syscalls:sys_enter_recvfrom', '-o', PERF_OUT], { stdio: 'ignore' })
    : undefined;
  const started = performance.now();
  log(`checkouts at ${RATE}/s for ${DURATION} s`);
  // --rate 0: the platform idle for the duration (per-second figures below are then per 1 s … 'checkout').
  if (RATE === 0) await new Promise((r) => setTimeout(r, DURATION * 1000));
  const results = await offer(RATE * DURATION, RATE);
  const { completed, confirmed } = await waitDone(results.flatMap((r) => (r.id ? [r.id] : [])));
  const seconds = (performance.now() - started) / 1000;
  let postgresCalls: { sendto: number; recvfrom: number } | undefined;
  if (perf) {
    const exited = once(perf, 'exit');
    perf.kill('SIGINT');
    await exited;
    postgresCalls = { sendto: 0, recvfrom: 0 };
    // Lines: <comm>-<tid>,<count>,,syscalls:sys_enter_<call>,…
    for (const line of readFileSync(PERF_OUT, 'utf8').split('\n')) {
      const [thread, count, , event] = line.split(',');
      const call = event?.replace('syscalls:sys_enter_', '') as 'sendto' | 'recvfrom' | undefined;
      if (thread?.startsWith('postgres-') && call && call in postgresCalls) postgresCalls[call] += Number(count) || 0;
    }
  }
  const after = {
    procs: Object.fromEntries(Object.entries(pids).map(([n, p]) => [n, cpuMsOf(p) ?? 0])),
    wakeUps: Object.fromEntries(Object.entries(pids).map(([n, p]) => [n, wakeUpsOf(p) ?? 0])),
    pg: postgresCpu(),
    kafka: broker ? (cpuMsOf(broker) ?? 0) : 0,
    kafkaWakeUps: broker ? (wakeUpsOf(broker) ?? 0) : 0,
    self: process.cpuUsage(before.self),
    db: await dbStats(),
    pool: await poolWaits(platform.urls),
    machine: machineTicks(),
  };
  const per = (ms: number) => round(ms / (RATE === 0 ? seconds : Math.max(completed, 1)), 2);
  const lines: string[] = [];
  lines.push(`${completed} of ${RATE * DURATION} checkouts completed in ${round(seconds, 1)} s (load before: ${before.load}; machine busy ${round((1 - (after.machine.idle - before.machine.idle) / (after.machine.total - before.machine.total)) * 100, 0)}%)`);
  lines.push(`acceptance p50/p99 ${round(percentiles(results.flatMap((r) => (r.ms ? [r.ms] : []))).p50)} / ${round(percentiles(results.flatMap((r) => (r.ms ? [r.ms] : []))).p99)} ms; placement → confirmed p50/p99 ${confirmed.p50} / ${confirmed.p99} ms`);
  // Wake-ups: context switches of every thread (see wakeUpsOf); a backend that started during the window counts from zero.
  lines.push('', '| process | CPU ms per checkout | wake-ups per checkout |', '| --- | --- | --- |');
  let total = 0;
  let totalWakeUps = 0;
  for (const n of names) {
    const ms = after.procs[n]! - before.procs[n]!;
    const wakeUps = after.wakeUps[n]! - before.wakeUps[n]!;
    total += ms;
    totalWakeUps += wakeUps;
    lines.push(`| ${n} | ${per(ms)} | ${per(wakeUps)} |`);
  }
  const pgByDb = new Map<string, { cpu: number; wakeUps: number }>();
  for (const [key, now] of after.pg) {
    const db = key.split('|')[0]!;
    const then = before.pg.get(key) ?? { cpu: 0, wakeUps: 0 };
    const sum = pgByDb.get(db) ?? { cpu: 0, wakeUps: 0 };
    pgByDb.set(db, { cpu: sum.cpu + now.cpu - then.cpu, wakeUps: sum.wakeUps + now.wakeUps - then.wakeUps });
  }
  for (const [db, { cpu, wakeUps }] of [...pgByDb].sort()) {
    total += cpu;
    totalWakeUps += wakeUps;
    lines.push(`| postgres backends of ${db} | ${per(cpu)} | ${per(wakeUps)} |`);
  }
  const kafkaMs = after.kafka - before.kafka;
  const kafkaWakeUps = after.kafkaWakeUps - before.kafkaWakeUps;
  total += kafkaMs;
  totalWakeUps += kafkaWakeUps;
  lines.push(`| kafka broker (shared with other runs) | ${per(kafkaMs)} | ${per(kafkaWakeUps)} |`);
  const selfMs = (after.self.user + after.self.system) / 1000;
  lines.push(`| load generator (not in the total) | ${per(selfMs)} | |`);
  lines.push(`| **total** | **${per(total)}** | **${per(totalWakeUps)}** |`);
  lines.push('', '| database | commits | rollbacks | rows returned | fetched | inserted | updated | deleted | per checkout |', '| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const db of DATABASES) {
    const a = after.db.get(db);
    const b = before.db.get(db);
    if (!a || !b) continue;
    const d = (k: string) => per(a[k]! - b[k]!);
    lines.push(`| ${db} | ${d('xact_commit')} | ${d('xact_rollback')} | ${d('tup_returned')} | ${d('tup_fetched')} | ${d('tup_inserted')} | ${d('tup_updated')} | ${d('tup_deleted')} | |`);
  }
  lines.push('', '| service | connections checked out per checkout | waited over 1 ms for one | mean wait ms | wait ms per checkout |', '| --- | --- | --- | --- | --- |');
  for (const name of SERVICE_NAMES) {
    const a = after.pool.get(name)!;
    const b = before.pool.get(name)!;
    const count = a.count - b.count;
    const waitMs = (a.sum - b.sum) * 1000;
    lines.push(`| ${name} | ${per(count)} | ${round(((a.over1ms - b.over1ms) / Math.max(count, 1)) * 100, 1)}% | ${round(waitMs / Math.max(count, 1), 3)} | ${per(waitMs)} |`);
  }
  const wal = (k: string) => per(after.db.get(WAL)![k]! - before.db.get(WAL)![k]!);
  if (postgresCalls) {
    lines.push('', `PostgreSQL processes (every database), per checkout: ${per(postgresCalls.sendto)} sends (about one per round trip answered), ${per(postgresCalls.recvfrom)} receives.`);
  }
  lines.push('', `WAL, the whole server, per checkout: ${wal('wal_records')} records, ${wal('wal_bytes')} bytes, ${wal('wal_write')} writes, ${wal('wal_sync')} flushes (fsync).`);
  if (LOG_STATEMENTS) {
    const text = readFileSync(SERVER_LOG, 'utf8').slice(logStart);
    lines.push('', 'Statements per checkout, by database (the most frequent first):', '');
    for (const db of DATABASES) {
      const statements = text.split('\n').filter((l) => l.includes(`@${db} LOG:  statement:`) || l.includes(`@${db} LOG:  execute`));
      const byText = new Map<string, number>();
      for (const l of statements) {
        const sql = l.slice(l.indexOf(': ', l.indexOf('LOG:  ') + 6) + 2).slice(0, 90);
        byText.set(sql, (byText.get(sql) ?? 0) + 1);
      }
      lines.push(`- ${db}: ${per(statements.length)}`);
      for (const [sql, n] of [...byText].sort((a, b) => b[1] - a[1]).slice(0, 14)) lines.push(`  - ${per(n)} × \`${sql}\``);
    }
  }
  process.stdout.write(`${lines.join('\n')}\n`);
} finally {
  await http.close();
  await platform.stop();
  if (LOG_STATEMENTS) {
    const admin = new pg.Client({ connectionString: ADMIN_URL });
    await admin.connect();
    for (const db of DATABASES) await admin.query(`ALTER DATABASE ${db} RESET log_statement`).catch(() => undefined);
    await admin.end();
  }
}
