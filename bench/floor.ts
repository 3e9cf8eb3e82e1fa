/**
 * The floor under a distributed checkout on this machine (`tsx bench/floor.ts`): the saga's eight hops
 * and nothing else. Four skeleton services (orders, inventory, payments, shipping), each its own process
 * with its own PostgreSQL database, pass the real event types over Kafka through the platform's outbox
 * relay, consumer and inbox, as the services do; each handler writes one row and emits the next event.
 * No HTTP, gateway, cart, identity, catalog, card processor or business rules. Orders places orders at
 * each offered rate (a transaction: the order row and `order_placed`) and counts those that reach
 * `payment_captured`. A rate the skeleton cannot carry on this machine, the platform cannot either.
 * Prints, per rate, the orders completed, their latencies and each process's CPU per order, with the
 * machine's yardstick (bench/hello-world.ts) measured first. This file is the driver and, with
 * `--role`, each skeleton.
 *   tsx bench/floor.ts [--rates 10,25,50,100,200,400] [--duration 15] [--db-prefix floor] [--partitions 3]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { EVENT_CONSUMERS, type EventType } from '@emporium/contracts';
import {
  createHttpApp,
  createKafkaBus,
  createKafkaGroupOps,
  createLogger,
  createMetrics,
  createPostgresDb,
  databaseUrlOn,
  defineService,
  ensureDatabase,
  event,
  writeOutbox,
  type EventHandlers,
  type HandlerContext,
  type Sql,
} from '@emporium/platform';
import pg from 'pg';
import pino from 'pino';
import { argOf, client, closedLoop, cpuMsOf, kafkaPid, machine, percentiles, postgresBackends, round, startHelloWorld, stopChild } from './lib';

const ROLES = ['orders', 'inventory', 'payments', 'shipping'] as const;
type Role = (typeof ROLES)[number];

const PREFIX = argOf('db-prefix', 'floor');
/** Partitions of each topic the skeletons create (the platform's default: 3). */
const PARTITIONS = Number(argOf('partitions', '3'));
const ADMIN_URL = process.env.POSTGRES_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const BROKERS = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
/** How long the orders of one step may take to complete after the last is placed. */
const SETTLE_MS = 60_000;

const ITEMS = [{ productId: 'prod_floor', name: 'Floor', quantity: 1, unitPrice: 1000, lineTotal: 1000 }];
const STOCK = ITEMS.map(({ productId, quantity }) => ({ productId, quantity }));
const MONEY = { amount: 1000, currency: 'EUR' as const };
const CUSTOMER = 'cus_floor';

const step = (tx: Sql, orderId: string, name: string) => tx.query('INSERT INTO floor_steps (order_id, step) VALUES ($1, $2) ON CONFLICT DO NOTHING', [orderId, name]);
const status = (tx: Sql, orderId: string, to: string) => tx.query('UPDATE floor_orders SET status = $2 WHERE id = $1', [orderId, to]);
const emitOne = <T extends EventType>(context: HandlerContext, type: T, orderId: string, data: Parameters<typeof event<T>>[2]) => context.emit([event(type, orderId, data)]);

/** Each skeleton's steps of the saga; every other type routed to it is taken and ignored. */
const CHAIN: Record<Role, EventHandlers> = {
  inventory: {
    order_placed: async (order, context) => {
      await step(context.tx, order.orderId, 'reserved');
      await emitOne(context, 'stock_reserved', order.orderId, { orderId: order.orderId, items: STOCK, expiresAt: order.reserveUntil });
    },
    order_confirmed: async (order, { tx }) => void (await step(tx, order.orderId, 'confirmed')),
    order_completed: async (order, { tx }) => void (await step(tx, order.orderId, 'sold')),
  },
  orders: {
    stock_reserved: async (reserved, context) => {
      await status(context.tx, reserved.orderId, 'payment_requested');
      await emitOne(context, 'order_payment_requested', reserved.orderId, { orderId: reserved.orderId, customerId: CUSTOMER, ...MONEY, paymentMethod: 'credit_card', paymentToken: 'tok_success' });
    },
    payment_authorized: async (payment, context) => {
      await context.tx.query("UPDATE floor_orders SET status = 'confirmed', confirmed_at = now() WHERE id = $1", [payment.orderId]);
      await emitOne(context, 'order_confirmed', payment.orderId, { orderId: payment.orderId, customerId: CUSTOMER, items: ITEMS, total: MONEY.amount, currency: MONEY.currency, source: 'cart' });
    },
    shipment_created: async (shipment, context) => {
      await status(context.tx, shipment.orderId, 'shipped');
      await emitOne(context, 'order_capture_requested', shipment.orderId, { orderId: shipment.orderId, paymentId: `pay_${shipment.orderId}`, ...MONEY });
    },
    payment_captured: async (payment, context) => {
      await context.tx.query("UPDATE floor_orders SET status = 'completed', completed_at = now() WHERE id = $1", [payment.orderId]);
      await emitOne(context, 'order_completed', payment.orderId, { orderId: payment.orderId, customerId: CUSTOMER, items: STOCK });
    },
  },
  payments: {
    order_payment_requested: async (request, context) => {
      await step(context.tx, request.orderId, 'authorized');
      await emitOne(context, 'payment_authorized', request.orderId, { orderId: request.orderId, paymentId: `pay_${request.orderId}`, ...MONEY, provider: 'floor' });
    },
    order_capture_requested: async (request, context) => {
      await step(context.tx, request.orderId, 'captured');
      await emitOne(context, 'payment_captured', request.orderId, { orderId: request.orderId, paymentId: request.paymentId, ...MONEY });
    },
  },
  shipping: {
    order_confirmed: async (order, context) => {
      await step(context.tx, order.orderId, 'shipped');
      await emitOne(context, 'shipment_created', order.orderId, { orderId: order.orderId, shipmentId: `shp_${order.orderId}`, carrier: 'floor', trackingNumber: '1Z' });
    },
  },
};

function handlersOf(role: Role): EventHandlers {
  const routed = (Object.keys(EVENT_CONSUMERS) as EventType[]).filter((type) => (EVENT_CONSUMERS[type] as readonly string[]).includes(role));
  return Object.fromEntries(routed.map((type) => [type, CHAIN[role][type] ?? (async () => undefined)])) as EventHandlers;
}

/** What the orders skeleton answers for a step: its orders, those completed, and their latencies in ms. */
interface StepAnswer {
  total: number;
  completed: number;
  /** Seconds from the first order placed to the last completed. */
  span: number;
  /** The placing transaction (the order row and its event), as the orders skeleton timed it. */
  placement: ReturnType<typeof percentiles>;
  confirmation: ReturnType<typeof percentiles>;
  completion: ReturnType<typeof percentiles>;
}

/** One skeleton service, as a process: answers `ready`, then (orders) a JSON line per step it is asked to run. */
async function runRole(role: Role, namespace: string): Promise<void> {
  // Standard output carries the answers to the driver; the log goes to standard error.
  const logger = createLogger(`floor-${role}`, 'error', pino.destination(2));
  const metrics = createMetrics(role);
  const database = `${PREFIX}_${role}`;
  await ensureDatabase(ADMIN_URL, database);
  const db = createPostgresDb({ connectionString: databaseUrlOn(ADMIN_URL, database), schema: role, applicationName: `floor-${role}`, metrics });
  const bus = createKafkaBus({ brokers: BROKERS, clientId: `floor-${role}`, logger, metrics, namespace, partitions: PARTITIONS });
  const service = defineService({
    name: role,
    deps: { db, bus, logger, metrics },
    app: await createHttpApp({ service: role, logger, metrics }),
    migrationsDir: join(import.meta.dirname, 'floor', 'migrations'),
    handlers: handlersOf(role),
  });
  await service.start();
  process.stdout.write('ready\n');
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      await service.stop();
      await bus.close();
      await db.close();
      process.exit(0);
    })());
  process.on('SIGTERM', () => void stop());
  // The driver holds standard input: when it ends (the driver stopped or died), so does this skeleton.
  process.stdin.on('end', () => void stop());
  if (role !== 'orders') {
    process.stdin.resume();
    return;
  }

  let run = 0;
  for await (const line of createInterface({ input: process.stdin })) {
    const { rate, seconds } = JSON.parse(line) as { rate: number; seconds: number };
    const current = ++run;
    const placement: number[] = [];
    const total = Math.round(rate * seconds);
    const place = async (n: number) => {
      const started = performance.now();
      const id = `ord_${current}_${n}`;
      await db.transaction(async (tx) => {
        await tx.query("INSERT INTO floor_orders (id, run, status, placed_at) VALUES ($1, $2, 'placed', now())", [id, current]);
        await writeOutbox(tx, [event('order_placed', id, { orderId: id, customerId: CUSTOMER, items: ITEMS, currency: 'EUR', subtotal: 1000, discount: 0, total: 1000, paymentMethod: 'credit_card', source: 'cart', reserveUntil: new Date(Date.now() + 900_000).toISOString() })], { source: 'orders' });
      });
      placement.push(performance.now() - started);
    };
    // Open model: orders are placed on schedule whether or not earlier ones were answered.
    const start = performance.now();
    const placing: Promise<void>[] = [];
    while (placing.length < total) {
      const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate) + 1);
      while (placing.length < due) placing.push(place(placing.length));
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    await Promise.all(placing);
    const deadline = Date.now() + SETTLE_MS;
    const count = async () => Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM floor_orders WHERE run = $1 AND completed_at IS NOT NULL', [current])).rows[0]!.n);
    while ((await count()) < total && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    const { rows } = await db.query<{ confirmed: number; completed: number }>(
      'SELECT EXTRACT(EPOCH FROM confirmed_at - placed_at) * 1000 AS confirmed, EXTRACT(EPOCH FROM completed_at - placed_at) * 1000 AS completed FROM floor_orders WHERE run = $1 AND completed_at IS NOT NULL',
      [current],
    );
    const span = await db.query<{ s: number }>('SELECT EXTRACT(EPOCH FROM max(completed_at) - min(placed_at)) AS s FROM floor_orders WHERE run = $1', [current]);
    const answer: StepAnswer = {
      total,
      completed: rows.length,
      span: Number(span.rows[0]!.s),
      placement: percentiles(placement),
      confirmation: percentiles(rows.map((r) => Number(r.confirmed))),
      completion: percentiles(rows.map((r) => Number(r.completed))),
    };
    process.stdout.write(`${JSON.stringify(answer)}\n`);
  }
}

async function drive(): Promise<void> {
  const rates = argOf('rates', '10,25,50,100,200,400').split(',').map(Number);
  const duration = Number(argOf('duration', '15'));
  const namespace = `floor-${Math.random().toString(36).slice(2, 8)}`;
  const log = (message: string) => process.stderr.write(`[floor] ${message}\n`);
  const machineLine = machine();

  const helloWorld = await startHelloWorld(3991);
  const hello = client(helloWorld.url);
  const yardstick = await closedLoop(() => hello.hit('GET', '/'), 32, 5);
  await helloWorld.stop();
  log(`hello-world ${yardstick.rps} requests/s`);

  const dropDatabases = async () => {
    const admin = new pg.Client({ connectionString: ADMIN_URL });
    await admin.connect();
    for (const role of ROLES) await admin.query(`DROP DATABASE IF EXISTS ${PREFIX}_${role} WITH (FORCE)`);
    await admin.end();
  };
  await dropDatabases();

  const children = new Map<Role, { proc: ChildProcess; lines: AsyncIterator<string> }>();
  for (const role of ROLES) {
    const proc = spawn(process.execPath, [...process.execArgv, process.argv[1]!, ...process.argv.slice(2), '--role', role, '--namespace', namespace], { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines = createInterface({ input: proc.stdout! })[Symbol.asyncIterator]();
    children.set(role, { proc, lines });
  }
  for (const [role, { lines }] of children) {
    const first = await lines.next();
    if (first.value !== 'ready') throw new Error(`${role} did not start: ${String(first.value)}`);
  }
  const orders = children.get('orders')!;
  const ask = async (rate: number, seconds: number) => {
    orders.proc.stdin!.write(`${JSON.stringify({ rate, seconds })}\n`);
    return JSON.parse((await orders.lines.next()).value as string) as StepAnswer;
  };
  const databases = ROLES.map((role) => `${PREFIX}_${role}`);
  const processes = () => [
    ...ROLES.map((role) => ({ name: role, pid: children.get(role)!.proc.pid! })),
    ...postgresBackends(databases).map(({ pid, db }) => ({ name: `postgres ${db.slice(PREFIX.length + 1)}`, pid })),
    { name: 'kafka broker', pid: kafkaPid()! },
  ];
  /** CPU ms so far of each process, keyed `name|pid`: a PostgreSQL backend that ends during a step takes its CPU with it. */
  const cpu = () => new Map(processes().map(({ name, pid }) => [`${name}|${pid}`, cpuMsOf(pid) ?? 0]));
  const byProcess = (before: Map<string, number>, after: Map<string, number>) => {
    const spent = new Map<string, number>();
    for (const [key, ms] of after) {
      const name = key.slice(0, key.lastIndexOf('|'));
      spent.set(name, (spent.get(name) ?? 0) + ms - (before.get(key) ?? 0));
    }
    return spent;
  };

  log('warm-up: 600 orders at 40/s');
  await ask(40, 15);
  const rows: string[] = [];
  for (const rate of rates) {
    const before = cpu();
    const started = Date.now();
    const result = await ask(rate, duration);
    const wall = (Date.now() - started) / 1000;
    const after = cpu();
    const perOrder = [...byProcess(before, after)].map(([name, ms]) => [name, ms / Math.max(1, result.completed)] as const);
    const totalMs = perOrder.reduce((sum, [, ms]) => sum + ms, 0);
    const completedPerSecond = result.completed / result.span;
    log(`${rate}/s: ${result.completed} of ${result.total} completed in ${round(result.span, 1)} s (${round(completedPerSecond, 1)}/s); CPU ${round(totalMs, 2)} ms per order over ${round(wall, 1)} s`);
    const cells = [
      rate,
      result.total,
      result.completed,
      round(completedPerSecond, 1),
      `${round(result.placement.p50, 1)} / ${round(result.placement.p99, 1)}`,
      [result.confirmation.p50, result.confirmation.p95, result.confirmation.p99].map((ms) => round(ms, 0)).join(' / '),
      [result.completion.p50, result.completion.p95, result.completion.p99].map((ms) => round(ms, 0)).join(' / '),
      round(totalMs, 2),
      perOrder.map(([name, ms]) => `${name} ${round(ms, 2)}`).join(', '),
    ];
    rows.push(`| ${cells.join(' | ')} |`);
  }

  await Promise.all([...children.values()].map(({ proc }) => stopChild(proc)));
  const ops = createKafkaGroupOps({ brokers: BROKERS, namespace });
  await ops.deleteNamespace().catch((error: unknown) => log(`could not delete Kafka namespace ${namespace}: ${String(error)}`));
  await ops.close();
  await dropDatabases();

  process.stdout.write(
    [
      `Saga floor (\`tsx bench/floor.ts --rates ${rates.join(',')} --duration ${duration}\`, ${PARTITIONS} partitions per topic, after a warm-up of 600 orders at 40/s): four skeleton services, eight hops, one row written per hop.`,
      '',
      `Machine: ${machineLine}. Hello-world (32 connections): ${yardstick.rps} requests/s.`,
      '',
      '| offered/s | orders | completed | completed/s (first placed → last completed) | placement p50 / p99 ms | placement → confirmed p50 / p95 / p99 ms | placement → completed p50 / p95 / p99 ms | CPU ms per order | per process (ms per order) |',
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
      ...rows,
      '',
    ].join('\n'),
  );
}

const role = argOf('role', '');
if (!role) await drive();
else if ((ROLES as readonly string[]).includes(role)) await runRole(role as Role, argOf('namespace', ''));
else throw new Error(`--role must be one of ${ROLES.join(', ')}`);
