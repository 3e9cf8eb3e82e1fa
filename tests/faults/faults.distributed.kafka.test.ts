/**
 * The fault suite (distributed: a process per service, PostgreSQL, a Kafka broker of its own).
 *
 * Every service reaches PostgreSQL and Kafka through a TCP fault proxy (fault-proxy.ts); the broker
 * advertises the proxy's port, so every Kafka connection after bootstrap goes through it too. While
 * checkouts arrive at a steady rate (open model), faults are injected one after another: kill -9 of
 * each killable service in a random order (then of one more), payments down for a while, a restart
 * of the broker, a restart of PostgreSQL, latency, and cut connections. Then everything heals and
 * the books must balance: every accepted order ends, none is lost, no payment is captured twice, no
 * unit is oversold, the stock ledger reconciles. The figures are printed.
 *
 * Knobs: FAULTS_SEED (the kill order, and the fifth kill), FAULTS_RATE (checkouts per second, default 4).
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafkaBus, createLogger } from '@emporium/platform';
import { SERVICE_NAMES, startDistributed, type DistributedPlatform, type ServiceName } from '@emporium/launcher/distributed';
import { NO_RATE_LIMITS_ENV, signInStaff, signUpCustomer, TEST_ADMIN, type Session } from '../support/auth';
import { startFaultProxy, type FaultProxy } from './fault-proxy';

const ROOT = join(import.meta.dirname, '..', '..');
const PREFIX = 'emporium_faults';
const LOG_DIR = join(ROOT, '.data', 'faults-logs');
const PG_HOST = '127.0.0.1';
const PG_PORT = 5432;
const ADMIN_URL = `postgres://postgres@${PG_HOST}:${PG_PORT}/postgres`;
/** The suite's own broker: it listens on KAFKA_PORT and advertises the proxy's port. */
const KAFKA = {
  home: join(ROOT, '.data', 'faults-kafka'),
  port: 3911,
  controllerPort: 3912,
  proxyPort: 3910,
};
const PG_PROXY_PORT = 3913;
const NAMESPACE = `faults-${randomBytes(3).toString('hex')}`;
const RATE = Number(process.env.FAULTS_RATE) || 4;
const SEED = Number(process.env.FAULTS_SEED) || randomBytes(4).readUInt32LE(0);
const KILLABLE = ['orders', 'inventory', 'payments', 'shipping'] as const;
const SETTLE_MS = 60_000;
const SCARCE_STOCK = 6;
const PLENTY_STOCK = 100_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** mulberry32: the kill order of a run can be replayed with FAULTS_SEED. */
function generator(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `items` in a random order drawn from `random` (Fisher–Yates), so a seed replays it. */
function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const order = [...items];
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

/** Runs a command without blocking the event loop (the proxies live in this process). */
function run(command: string, args: string[], env: Record<string, string> = {}): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', (error) => resolve({ code: 127, output: String(error) }));
    child.on('close', (code) => resolve({ code: code ?? 1, output }));
  });
}

async function until<T>(probe: () => Promise<T | undefined>, what: string, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(250);
  }
}

/** True when nothing listens on 127.0.0.1:port (a foreign server there would answer our health checks). */
const portFree = (port: number) =>
  new Promise<boolean>((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });

async function withClient<T>(database: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ host: PG_HOST, port: PG_PORT, user: 'postgres', database, connectionTimeoutMillis: 5_000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Units sold per product according to inventory's stock-movement ledger. */
const ledgerSold = (productIds: string[]) =>
  withClient(`${PREFIX}_inventory`, async (c) =>
    new Map((await c.query<{ product_id: string; sold: string }>("SELECT product_id, -sum(quantity) AS sold FROM inventory.stock_movements WHERE kind = 'sold' AND product_id = ANY($1) GROUP BY product_id", [productIds])).rows.map((r) => [r.product_id, Number(r.sold)])),
  );

const postgresUp = () => withClient('postgres', async (c) => (await c.query('SELECT 1')).rowCount === 1).catch(() => false);

const postgresVersion = () => run('bash', ['-c', 'ls /etc/postgresql | head -n1']).then((r) => r.output.trim());

async function restartPostgres(): Promise<void> {
  const result = await run('pg_ctlcluster', ['--skip-systemctl-redirect', await postgresVersion(), 'main', 'restart']);
  if (result.code !== 0) throw new Error(`pg_ctlcluster restart failed: ${result.output}`);
  await until(async () => ((await run('pg_isready', ['-q', '-h', PG_HOST, '-p', String(PG_PORT)])).code === 0 ? true : undefined), 'PostgreSQL to accept connections', 60_000);
}

/** `bash scripts/kafka.sh <command>` for the suite's own broker, sharing the jars of the main one when they are there. */
function kafkaScript(command: 'start' | 'stop' | 'status') {
  const sharedLibs = join(ROOT, '.kafka', 'libs');
  return run('bash', [join(ROOT, 'scripts', 'kafka.sh'), command], {
    KAFKA_HOME_DIR: KAFKA.home,
    KAFKA_PORT: String(KAFKA.port),
    KAFKA_CONTROLLER_PORT: String(KAFKA.controllerPort),
    KAFKA_ADVERTISED_PORT: String(KAFKA.proxyPort),
    KAFKA_HEAP_OPTS: '-Xms128m -Xmx384m',
    ...(existsSync(sharedLibs) ? { KAFKA_LIBS_DIR: sharedLibs } : {}),
  });
}

/** The broker answers metadata requests through the proxy (the path the services take). */
async function kafkaServing(): Promise<boolean> {
  const admin = new kafkajs.Kafka({
    clientId: 'faults-probe',
    brokers: [`127.0.0.1:${KAFKA.proxyPort}`],
    logLevel: kafkajs.logLevel.NOTHING,
    connectionTimeout: 1_000,
    requestTimeout: 3_000,
    retry: { retries: 0 },
  }).admin();
  try {
    await admin.connect();
    await admin.listTopics();
    return true;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

interface Reply {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read loosely typed JSON
  body: any;
}

/** Who calls: staff by default (stocking, watching every order); shoppers place orders. */
let staff: Session | undefined;

async function call(base: string, method: string, path: string, body?: unknown, timeoutMs = 20_000, as: Session | undefined = staff): Promise<Reply> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...as?.headers },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // not JSON
  }
  return { status: res.status, body: parsed };
}

interface Offered {
  customer: string;
  items: Array<{ product_id: string; quantity: number }>;
  /** HTTP status, or 'error' (no answer: connection refused, timeout). */
  outcome: number | 'error';
  id?: string;
  /** Placed while payments was down. */
  duringPaymentsOutage: boolean;
  /** The fault injected last when the order was offered (it may have healed since). */
  since: string;
}

interface Final {
  id: string;
  status: string;
  reason: string | null;
  items: Array<{ productId: string; quantity: number }>;
  total: number;
  endedAt: number;
}

describe('fault suite (distributed: kill -9, broker and PostgreSQL restarts, latency and cut connections through TCP proxies)', () => {
  let platform: DistributedPlatform | undefined;
  let pgProxy: FaultProxy | undefined;
  let kafkaProxy: FaultProxy | undefined;
  let stopLoad: (() => Promise<void>) | undefined;
  /** The watchdog that restarts services which die on their own runs while this is true. */
  let watching = false;

  const dbUrl = (name: string) => `postgres://postgres@127.0.0.1:${PG_PROXY_PORT}/${PREFIX}_${name}`;

  beforeAll(async () => {
    // PostgreSQL and Java are required: a missing server fails the suite, it does not skip it.
    await kafkaScript('stop'); // a broker an interrupted run left behind
    const ports = [3900, 3901, 3902, 3903, 3904, 3905, 3906, 3907, 3908, KAFKA.proxyPort, KAFKA.port, KAFKA.controllerPort, PG_PROXY_PORT];
    const taken = [];
    for (const port of ports) if (!(await portFree(port))) taken.push(port);
    if (taken.length > 0) throw new Error(`the fault suite's ports are in use by another process: ${taken.join(', ')} (stop it and run again)`);
    if (!(await postgresUp())) throw new Error(`PostgreSQL is required for the fault suite (${ADMIN_URL}) and is not reachable`);
    await withClient('postgres', async (client) => {
      for (const name of SERVICE_NAMES) {
        await client.query(`DROP DATABASE IF EXISTS ${PREFIX}_${name} WITH (FORCE)`);
        await client.query(`CREATE DATABASE ${PREFIX}_${name}`);
      }
    });

    pgProxy = await startFaultProxy({ name: 'postgres', port: PG_PROXY_PORT, target: { port: PG_PORT } });
    kafkaProxy = await startFaultProxy({ name: 'kafka', port: KAFKA.proxyPort, target: { port: KAFKA.port } });

    // A fresh broker per run: nothing left over from an earlier run, and its restart disturbs no one else.
    await kafkaScript('stop');
    rmSync(join(KAFKA.home, 'data'), { recursive: true, force: true });
    const started = await kafkaScript('start');
    if (started.code !== 0) throw new Error(`the fault suite's Kafka broker did not start (bash scripts/kafka.sh start, KAFKA_HOME_DIR=${KAFKA.home}):\n${started.output}`);
    await until(async () => ((await kafkaServing()) ? true : undefined), 'the Kafka broker to serve through its proxy', 60_000);

    platform = await startDistributed({
      gatewayPort: 3900,
      servicePortBase: 3900,
      databasePrefix: PREFIX,
      kafkaBrokers: `127.0.0.1:${KAFKA.proxyPort}`,
      logLevel: 'warn',
      logDir: LOG_DIR,
      admin: TEST_ADMIN,
      env: {
        ...Object.fromEntries(SERVICE_NAMES.map((name) => [name, { DATABASE_URL: dbUrl(name), KAFKA_NAMESPACE: NAMESPACE, DB_POOL_SIZE: '5' }])),
        gateway: NO_RATE_LIMITS_ENV,
      } as Partial<Record<ServiceName, Record<string, string>>>,
    });
    staff = await signInStaff(platform.url);
  }, 240_000);

  afterAll(async () => {
    // Whatever happened above: heal, bring PostgreSQL back, stop what this suite started.
    const steps: Array<[string, () => Promise<unknown>]> = [
      ['stop the watchdog and the load', async () => {
        watching = false;
        await stopLoad?.();
      }],
      ['heal the proxies', async () => {
        pgProxy?.heal();
        kafkaProxy?.heal();
      }],
      ['PostgreSQL running', async () => {
        if (await postgresUp()) return;
        await run('pg_ctlcluster', ['--skip-systemctl-redirect', await postgresVersion(), 'main', 'start']);
        await until(async () => ((await postgresUp()) ? true : undefined), 'PostgreSQL to come back', 60_000);
      }],
      ['stop the platform', async () => platform?.stop()],
      ['stop the broker', async () => kafkaScript('stop')],
      ['close the proxies', async () => Promise.all([pgProxy?.close(), kafkaProxy?.close()])],
    ];
    for (const [what, step] of steps) {
      await step().catch((error: unknown) => console.error(`fault suite cleanup: could not ${what}: ${String(error)}`));
    }
  }, 120_000);

  it('when a send is cut after the broker stored it and the broker stays out of reach past every retry, then the next send goes through as soon as it is back', async () => {
    // kafkajs' idempotent producer does not learn that the broker stored the cut batch, so it
    // numbers the next, different batch from the same sequence; the broker refuses that one and
    // every later one (OUT_OF_ORDER_SEQUENCE_NUMBER) until the producer is replaced. An outbox
    // relay on such a producer is stuck for good: this happened to orders in a run of the suite.
    const bus = createKafkaBus({ brokers: [`127.0.0.1:${KAFKA.proxyPort}`], clientId: 'faults-sender', logger: createLogger('faults-sender', 'silent'), namespace: `${NAMESPACE}-sender` });
    const messages = (from: number, count: number) => Array.from({ length: count }, (_, i) => ({ topic: 'sender-test', key: 'one-partition', value: JSON.stringify({ n: from + i }) }));
    try {
      await bus.publish(messages(0, 1));
      // The answer to the next send is held back; the connection is cut while it is held, and
      // refused for longer than kafkajs retries (about 21 s).
      kafkaProxy!.latency({ downstream: 2_000 });
      const cut = bus.publish(messages(1, 2)).then(() => 'sent', (error: unknown) => `failed: ${String(error)}`);
      await sleep(700);
      kafkaProxy!.reset({ refuseMs: 40_000 });
      expect(await cut).toMatch(/^failed/);
      kafkaProxy!.heal();
      // Healed: like the outbox relay, send the (now longer) batch again every half second; it must get through.
      const healedAt = Date.now();
      let lastError = '';
      await until(
        async () => ((await bus.publish(messages(1, 3)).then(() => true, (error: unknown) => ((lastError = String(error)), false))) ? true : undefined),
        'a send after healing',
        20_000,
      ).catch((error: unknown) => {
        throw new Error(`${String(error)}; last send: ${lastError}`);
      });
      console.log(`first send after healing went through in ${Date.now() - healedAt} ms`);
    } finally {
      kafkaProxy!.heal();
      await bus.close();
    }
  }, 120_000);

  it('when services are killed, the broker and PostgreSQL restart and connections lag or break during a stream of checkouts, then after healing every accepted order ends, none is lost, nothing is captured twice or oversold, and the ledger reconciles', async () => {
    const gateway = platform!.url;
    const run = NAMESPACE.slice('faults-'.length);
    const random = generator(SEED);
    const products = { plenty: [0, 1, 2].map((i) => `flt-${run}-p${i}`), scarce: `flt-${run}-scarce` };
    const initial = new Map<string, number>([...products.plenty.map((id) => [id, PLENTY_STOCK] as const), [products.scarce, SCARCE_STOCK]]);

    for (const [id, stock] of initial) {
      const created = await call(gateway, 'POST', '/products', {
        id,
        sku: `FLT-${id.toUpperCase().replace(/[^A-Z0-9]/g, '')}`.slice(0, 40),
        name: `Fault ${id}`,
        category: 'faults',
        price: { amount: 1250, currency: 'EUR' },
      });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      await until(async () => ((await call(gateway, 'POST', `/inventory/${id}/update`, { set: stock, reason: 'fault suite opening stock' })).status === 200 ? true : undefined), `inventory to know ${id}`, 60_000);
    }
    // Shoppers sign up before the faults (identity's database is behind the fault proxy too).
    const warmUpShopper = await signUpCustomer(gateway);
    const shoppers: Session[] = [];
    for (let i = 0; i < 20; i++) shoppers.push(await signUpCustomer(gateway));
    // Orders learns of products from catalog events: 422 until it has heard of every one.
    for (const id of initial.keys()) {
      const warmUp = await until(async () => {
        const res = await call(gateway, 'POST', '/api/orders', { items: [{ product_id: id, quantity: 1 }], payment_method: 'credit_card', payment_token: 'tok_success' }, 20_000, warmUpShopper);
        return res.status === 201 ? (res.body.id as string) : undefined;
      }, `orders to know ${id}`, 60_000);
      await until(async () => ((await call(gateway, 'GET', `/api/orders/${warmUp}`)).body.terminal ? true : undefined), `warm-up order ${warmUp} to end`, 60_000);
    }
    /** True once inventory holds no reservation of the run's products (undefined until then, for `until`). */
    const nothingReserved = async () => {
      const levels = await Promise.all([...initial.keys()].map(async (id) => (await call(gateway, 'GET', `/inventory/${id}`)).body as { reserved?: number }));
      return levels.every((l) => l.reserved === 0) ? true : undefined;
    };
    // The warm-up orders took stock too: count from the level inventory (and its ledger) has once they
    // ended and inventory has turned their reservations into sales (it does so after the order completes:
    // read before that, the opening level counted a unit the ledger's baseline, read after it, did not).
    await until(nothingReserved, 'inventory to settle the warm-up orders', 60_000);
    for (const id of initial.keys()) initial.set(id, (await call(gateway, 'GET', `/inventory/${id}`)).body.onHand as number);
    const soldBeforeLoad = await ledgerSold([...initial.keys()]);

    // ---- the load: an open model, one checkout every 1/RATE s whatever the answers take ----
    const offered: Offered[] = [];
    let paymentsDown = false;
    let currentFault = 'steady load';
    let loading = true;
    const inFlight = new Set<Promise<void>>();
    const placeOne = async (n: number) => {
      const scarce = random() < 0.12;
      const items = scarce
        ? [{ product_id: products.scarce, quantity: 1 }]
        : products.plenty.filter(() => random() < 0.5).map((product_id) => ({ product_id, quantity: 1 + Math.floor(random() * 3) }));
      if (items.length === 0) items.push({ product_id: products.plenty[n % 3]!, quantity: 1 });
      const shopper = shoppers[n % shoppers.length]!;
      const entry: Offered = { customer: shopper.id, items, outcome: 'error', duringPaymentsOutage: paymentsDown, since: currentFault };
      offered.push(entry);
      try {
        const res = await call(gateway, 'POST', '/api/orders', { items, payment_method: 'credit_card', payment_token: 'tok_success' }, 20_000, shopper);
        entry.outcome = res.status;
        if (res.status === 201) entry.id = res.body.id as string;
      } catch {
        entry.outcome = 'error';
      }
    };
    const load = (async () => {
      const started = Date.now();
      for (let n = 0; loading; n++) {
        const task = placeOne(n).finally(() => inFlight.delete(task));
        inFlight.add(task);
        const next = started + ((n + 1) * 1000) / RATE;
        await sleep(Math.max(0, next - Date.now()));
      }
      await Promise.all(inFlight);
    })();
    stopLoad = async () => {
      loading = false;
      await load;
    };

    // ---- the faults, one after another ----
    const faults: Record<string, number> = {};
    const findings: string[] = [];
    const count = (kind: string) => (faults[kind] = (faults[kind] ?? 0) + 1);
    const timeline: string[] = [];
    const t0 = Date.now();
    const note = (what: string) => timeline.push(`${((Date.now() - t0) / 1000).toFixed(1)}s ${what}`);
    /** The harness is the supervisor: a service that exits while starting (its dependency still down) is started again. */
    const bringBack = async (name: ServiceName) => {
      for (let attempt = 1; ; attempt++) {
        try {
          await platform!.restart(name);
          return;
        } catch (error) {
          findings.push(`${name} failed to start (attempt ${attempt}): ${String(error).slice(0, 200)}`);
          if (attempt === 3) throw error;
          await sleep(2_000);
        }
      }
    };
    // A watchdog: a service that dies without being killed is a finding (and is started again, so
    // the rest of the run still measures something).
    const down = new Set<ServiceName>();
    const crashed: string[] = [];
    const alive = (pid: number | undefined) => {
      try {
        return pid !== undefined && process.kill(pid, 0);
      } catch {
        return false;
      }
    };
    watching = true;
    const watchdog = (async () => {
      while (watching) {
        for (const name of SERVICE_NAMES) {
          if (down.has(name) || alive(platform!.pid(name))) continue;
          crashed.push(`${name} exited on its own during: ${currentFault}`);
          note(`${name} exited on its own; starting it again`);
          down.add(name);
          await bringBack(name).catch(() => undefined);
          down.delete(name);
        }
        await sleep(500);
      }
    })();
    const kill = async (name: ServiceName, downMs: number) => {
      note(`kill -9 ${name}`);
      currentFault = `kill -9 ${name}`;
      down.add(name);
      platform!.kill(name);
      count(`kill -9 ${name}`);
      await sleep(downMs);
      await bringBack(name);
      down.delete(name);
      note(`${name} back`);
    };

    await sleep(4_000);
    // Each killable service once, in a random order. With a random pick per kill, about three runs
    // in four (1 − 240/1,024) missed at least one of the four; session 27's CI run never killed inventory.
    for (const name of shuffled(KILLABLE, random)) {
      await kill(name, 1_000 + Math.floor(random() * 2_000));
      await sleep(2_000);
    }

    // Payments down for ~10 s: orders are still accepted and wait for it.
    note('payments down');
    currentFault = 'payments down';
    down.add('payments');
    platform!.kill('payments');
    count('payments down 10 s');
    paymentsDown = true;
    await sleep(10_000);
    paymentsDown = false;
    // (Orders for the scarce product may rightly be rejected meanwhile: inventory answers them.)
    const waitingIds = offered.filter((o) => o.duringPaymentsOutage && o.id && !o.items.some((i) => i.product_id === products.scarce)).map((o) => o.id!);
    const waitingStatuses = await Promise.all(waitingIds.map(async (id) => (await call(gateway, 'GET', `/api/orders/${id}`)).body.status as string));
    await bringBack('payments');
    down.delete('payments');
    note('payments back');
    await sleep(3_000);

    note('Kafka broker restart');
    currentFault = 'Kafka broker restart';
    const stopped = await kafkaScript('stop');
    if (stopped.code !== 0) throw new Error(`could not stop the suite's broker: ${stopped.output}`);
    await sleep(2_000);
    const restarted = await kafkaScript('start');
    if (restarted.code !== 0) throw new Error(`the suite's broker did not start again: ${restarted.output}`);
    count('Kafka broker restart');
    await until(async () => ((await kafkaServing()) ? true : undefined), 'the broker to serve again', 60_000);
    note('Kafka broker back');
    await sleep(4_000);

    note('PostgreSQL restart');
    currentFault = 'PostgreSQL restart';
    await restartPostgres();
    count('PostgreSQL restart');
    note('PostgreSQL back');
    await sleep(4_000);

    note('200 ms latency to PostgreSQL and Kafka');
    currentFault = '200 ms latency';
    pgProxy!.latency({ upstream: 100, downstream: 100 });
    kafkaProxy!.latency({ upstream: 100, downstream: 100 });
    count('latency 200 ms round trip, 10 s');
    await sleep(10_000);
    pgProxy!.heal();
    kafkaProxy!.heal();
    await sleep(3_000);

    for (const [proxy, refuseMs] of [[pgProxy!, 2_000], [kafkaProxy!, 2_000], [pgProxy!, 0], [kafkaProxy!, 0]] as const) {
      note(`cut ${proxy.name} connections (refusing ${refuseMs} ms)`);
      currentFault = `cut ${proxy.name} connections`;
      proxy.reset({ refuseMs });
      count(`cut connections to ${proxy.name}`);
      await sleep(refuseMs + 3_000);
      proxy.heal();
    }

    // One more kill while the others settle, then heal everything.
    await kill(KILLABLE[Math.floor(random() * KILLABLE.length)]!, 1_000);
    pgProxy!.heal();
    kafkaProxy!.heal();
    await stopLoad();
    const healedAt = Date.now();
    currentFault = 'after healing';
    note('healed; load stopped');

    // ---- every accepted order ends within SETTLE_MS ----
    const accepted = offered.filter((o) => o.outcome === 201);
    // Orders whose answer was lost (a killed gateway path, a timeout) may exist all the same: find them.
    const inDatabase = await withClient(`${PREFIX}_orders`, async (c) =>
      (await c.query<{ id: string; customer_id: string }>('SELECT id, customer_id FROM orders.orders WHERE customer_id = ANY($1)', [shoppers.map((s) => s.id)])).rows,
    );
    const acceptedIds = new Set(accepted.map((o) => o.id!));
    const unanswered = inDatabase.filter((row) => !acceptedIds.has(row.id)).map((row) => row.id);
    const lostIds = [...acceptedIds].filter((id) => !inDatabase.some((row) => row.id === id));
    const tracked = [...acceptedIds, ...unanswered];
    const finals = new Map<string, Final>();
    const unreadable = new Set<string>();
    const settleDeadline = healedAt + SETTLE_MS;
    for (;;) {
      const open = tracked.filter((id) => !finals.has(id));
      for (const id of open) {
        const res = await call(gateway, 'GET', `/api/orders/${id}`).catch(() => undefined);
        if (!res || res.status !== 200) {
          if (res?.status === 404) unreadable.add(id);
          continue;
        }
        unreadable.delete(id);
        if (res.body.terminal) {
          const history = res.body.history as Array<{ at: string }>;
          finals.set(id, {
            id,
            status: res.body.status,
            reason: res.body.statusReason,
            items: res.body.items,
            total: res.body.total,
            endedAt: Date.parse(history[history.length - 1]!.at),
          });
        }
      }
      if (finals.size === tracked.length || Date.now() > settleDeadline) break;
      await sleep(1_000);
    }
    const notEnded = tracked.filter((id) => !finals.has(id));
    const lastEnded = Math.max(healedAt, ...[...finals.values()].map((f) => f.endedAt));

    // ---- the books ----
    const byStatus: Record<string, number> = {};
    for (const f of finals.values()) byStatus[f.status] = (byStatus[f.status] ?? 0) + 1;
    const unexpected = [...finals.values()].filter((f) => {
      if (f.status === 'completed') return false;
      if (f.status === 'rejected') return !f.items.some((i) => i.productId === products.scarce);
      return true;
    });

    const payments = await withClient(`${PREFIX}_payments`, async (c) => ({
      doubleCaptures: (await c.query<{ payment_id: string; captures: string }>(
        "SELECT payment_id, count(*) AS captures FROM payments.payment_transactions WHERE kind = 'capture' AND outcome = 'succeeded' GROUP BY payment_id HAVING count(*) > 1",
      )).rows,
      overCaptured: (await c.query<{ id: string }>('SELECT id FROM payments.payments WHERE captured_amount > amount')).rows,
      capturedByOrder: new Map(
        (await c.query<{ order_id: string; captured_amount: number }>("SELECT order_id, captured_amount FROM payments.payments WHERE status = 'captured'")).rows.map((r) => [r.order_id, Number(r.captured_amount)]),
      ),
    }));
    // The sandbox card processor's own books (its own database): no payment intent captured beyond its authorization.
    const processorOverCaptured = await withClient(`${PREFIX}_card_processor`, async (c) =>
      (await c.query<{ id: string }>('SELECT id FROM card_processor.payment_intents WHERE amount_received > amount')).rows,
    );
    const completed = [...finals.values()].filter((f) => f.status === 'completed');
    const completedNotCaptured = completed.filter((f) => payments.capturedByOrder.get(f.id) !== f.total).map((f) => f.id);
    const capturedNotCompleted = [...finals.values()].filter((f) => f.status !== 'completed' && (payments.capturedByOrder.get(f.id) ?? 0) > 0).map((f) => f.id);

    // An order is completed before inventory turns its reservation into a sale: wait (within the
    // same deadline) until nothing is reserved any more, or until the deadline says it never will be.
    await until(nothingReserved, 'inventory to settle every reservation', Math.max(5_000, settleDeadline - Date.now())).catch((error: unknown) => findings.push(String(error)));
    const soldByLedger = await ledgerSold([...initial.keys()]);
    const stock: Record<string, { onHand: number; reserved: number; sold: number; soldToCompletedOrders: number }> = {};
    let oversold = 0;
    for (const [id, opening] of initial) {
      const level = (await call(gateway, 'GET', `/inventory/${id}`)).body as { onHand: number; reserved: number };
      const soldToCompletedOrders = completed.reduce((sum, f) => sum + f.items.filter((i) => i.productId === id).reduce((s, i) => s + i.quantity, 0), 0);
      const sold = opening - level.onHand;
      stock[id] = { onHand: level.onHand, reserved: level.reserved, sold, soldToCompletedOrders };
      oversold += Math.max(0, -level.onHand) + Math.max(0, sold - opening);
    }
    const reconciliation = (await call(platform!.urls.inventory, 'GET', '/inventory/reconciliation')).body as { ok: boolean; mismatches: unknown[] };
    const reconcileCommand = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'services', 'inventory', 'src', 'reconcile.ts')], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: `${ADMIN_URL.replace(/\/postgres$/, '')}/${PREFIX}_inventory` },
      encoding: 'utf8',
    });
    const deadLetters: Record<string, number> = {};
    for (const name of KILLABLE) {
      const res = await call(platform!.urls[name], 'GET', '/ops/dead-letters?status=parked').catch(() => undefined);
      const items = (res?.body?.items ?? res?.body ?? []) as unknown[];
      if (Array.isArray(items) && items.length > 0) deadLetters[name] = items.length;
    }

    const statusOf = (outcome: Offered['outcome']) => String(outcome);
    const answers: Record<string, number> = {};
    const refusedSince: Record<string, Record<string, number>> = {};
    for (const o of offered) {
      answers[statusOf(o.outcome)] = (answers[statusOf(o.outcome)] ?? 0) + 1;
      if (o.outcome === 201) continue;
      const bucket = (refusedSince[o.since] ??= {});
      bucket[statusOf(o.outcome)] = (bucket[statusOf(o.outcome)] ?? 0) + 1;
    }
    const figures = {
      seed: SEED,
      rate: `${RATE}/s`,
      faultsInjected: faults,
      orders: {
        offered: offered.length,
        answers,
        notAcceptedSince: refusedSince,
        accepted: accepted.length,
        acceptedWithoutAnAnswer: unanswered.length,
        completed: byStatus.completed ?? 0,
        rejected: byStatus.rejected ?? 0,
        other: Object.fromEntries(Object.entries(byStatus).filter(([s]) => s !== 'completed' && s !== 'rejected')),
        notEndedWithin60s: notEnded.length,
      },
      paymentsOutage: { acceptedWhileDown: waitingIds.length, statusesWhileDown: [...new Set(waitingStatuses)] },
      lost: lostIds.length + unreadable.size,
      duplicateCaptures: payments.doubleCaptures.length,
      oversoldUnits: oversold,
      ledgerReconciles: { endpoint: reconciliation.ok, command: reconcileCommand.status === 0 },
      deadLettersParked: deadLetters,
      servicesDiedOnTheirOwn: crashed,
      timeToRecoverMs: lastEnded - healedAt,
      stock,
    };
    console.log(`fault suite figures:\n${JSON.stringify(figures, null, 2)}\ntimeline:\n  ${timeline.join('\n  ')}`);
    for (const f of unexpected) console.log(`unexpected end: order ${f.id} ${f.status}: ${f.reason}`);
    if (findings.length > 0) console.log(`findings:\n  ${findings.join('\n  ')}`);

    watching = false;
    await watchdog;
    if (crashed.length > 0) console.log(`services that died on their own:\n  ${crashed.join('\n  ')}`);

    // ---- the assertions (soft: every broken invariant is reported, not only the first) ----
    expect.soft(crashed, 'services that exited without being killed').toEqual([]);
    expect.soft(KILLABLE.filter((name) => !faults[`kill -9 ${name}`]), 'killable services never killed').toEqual([]);
    expect.soft(accepted.length, 'orders accepted during the faults').toBeGreaterThan(50);
    expect.soft(notEnded, 'accepted orders not ended within 60 s of healing').toEqual([]);
    expect.soft(lostIds, 'accepted orders missing from the orders database').toEqual([]);
    expect.soft([...unreadable], 'accepted orders that answer 404').toEqual([]);
    expect.soft(unexpected.map((f) => `${f.id} ${f.status}: ${f.reason}`), 'orders that ended other than completed, or rejected for the scarce product').toEqual([]);
    expect.soft(byStatus.rejected ?? 0, 'orders rejected for the scarce product').toBeGreaterThan(0);
    expect.soft(payments.doubleCaptures, 'payments captured more than once').toEqual([]);
    expect.soft(payments.overCaptured, 'payments captured beyond their amount').toEqual([]);
    expect.soft(processorOverCaptured, 'processor charges captured beyond their amount').toEqual([]);
    expect.soft(completedNotCaptured, 'completed orders whose payment is not captured for their total').toEqual([]);
    expect.soft(capturedNotCompleted, 'orders not completed whose payment was captured').toEqual([]);
    expect.soft(oversold, 'units oversold').toBe(0);
    for (const [id, level] of Object.entries(stock)) {
      expect.soft(level.reserved, `${id} still reserved`).toBe(0);
      expect.soft(level.sold, `${id}: units sold = units in completed orders`).toBe(level.soldToCompletedOrders);
      expect.soft((soldByLedger.get(id) ?? 0) - (soldBeforeLoad.get(id) ?? 0), `${id}: sold in the ledger during the run`).toBe(level.sold);
    }
    expect.soft(stock[products.scarce]!.onHand, 'the scarce product sold out').toBe(0);
    expect.soft(reconciliation).toMatchObject({ ok: true, mismatches: [] });
    expect.soft(reconcileCommand.status, reconcileCommand.stderr).toBe(0);
    // Payments was down, not broken: what was accepted meanwhile waited and then completed.
    expect.soft(waitingIds.length, 'orders accepted while payments was down').toBeGreaterThan(0);
    expect.soft(waitingStatuses.every((s) => s === 'placed' || s === 'payment_pending'), `statuses while payments was down: ${waitingStatuses.join(', ')}`).toBe(true);
    expect.soft(waitingIds.filter((id) => finals.get(id)?.status !== 'completed'), 'orders placed while payments was down that did not complete').toEqual([]);
  }, 540_000);
});
