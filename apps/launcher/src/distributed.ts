import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { DEFAULT_PUBLISHABLE_KEY } from '@emporium/sandbox-card-processor';
import { seedDemo } from './seed';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

export const SERVICE_NAMES = ['catalog', 'cart', 'inventory', 'orders', 'payments', 'shipping', 'identity'] as const;
/** Stand-ins for third parties (`sandboxes/<name>`), each its own process with its own database. */
export const SANDBOX_NAMES = ['card-processor'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number] | (typeof SANDBOX_NAMES)[number] | 'gateway';

export interface DistributedOptions {
  /** Gateway port; services listen on base+1 … base+7, the card processor sandbox on base+8. Default 3000 (services 3101–3107, 3108). */
  gatewayPort?: number;
  servicePortBase?: number;
  /** Each service's database is <prefix>_<service> on the PostgreSQL server. */
  databasePrefix?: string;
  postgresAdminUrl?: string;
  kafkaBrokers?: string;
  logLevel?: string;
  logDir?: string;
  seed?: boolean;
  /** The built storefront the gateway serves at `/`. */
  storefrontDir?: string;
  /** The first admin (identity creates it); seeding signs in as them. Required with `seed`. */
  admin?: { email: string; password: string };
  /** Extra environment per service (e.g. a shorter reservation window in tests). */
  env?: Partial<Record<ServiceName, Record<string, string>>>;
}

export interface DistributedPlatform {
  url: string;
  urls: Record<ServiceName, string>;
  seeded: boolean;
  /** Stand-ins for third parties, speaking their real protocol: the card processor (Stripe API) the storefront tokenizes cards with. */
  sandboxes: { cardProcessor: { url: string; publishableKey: string } };
  /** kill -9 one service process. */
  kill(name: ServiceName): void;
  /** Starts a killed or stopped service again and waits until it is ready. */
  restart(name: ServiceName): Promise<void>;
  pid(name: ServiceName): number | undefined;
  stop(): Promise<void>;
}

/**
 * Distributed mode on one machine: one process per service, each with its own PostgreSQL
 * database, Kafka as the bus, the gateway in front — the same code `npm start` runs in one process.
 */
export async function startDistributed(options: DistributedOptions = {}): Promise<DistributedPlatform> {
  const gatewayPort = options.gatewayPort ?? 3000;
  const base = options.servicePortBase ?? 3100;
  const logDir = options.logDir ?? join(ROOT, '.data', 'distributed-logs');
  mkdirSync(logDir, { recursive: true });
  const ports = Object.fromEntries(SERVICE_NAMES.map((name, i) => [name, base + 1 + i])) as Record<(typeof SERVICE_NAMES)[number], number>;
  const urls = {
    ...Object.fromEntries(SERVICE_NAMES.map((name) => [name, `http://127.0.0.1:${ports[name]}`])),
    'card-processor': `http://127.0.0.1:${base + 1 + SERVICE_NAMES.length}`,
    gateway: `http://127.0.0.1:${gatewayPort}`,
  } as Record<ServiceName, string>;

  const common: Record<string, string> = {
    LOG_LEVEL: options.logLevel ?? 'info',
    KAFKA_BROKERS: options.kafkaBrokers ?? process.env.KAFKA_BROKERS ?? '127.0.0.1:9092',
    DATABASE_PREFIX: options.databasePrefix ?? 'emporium',
    POSTGRES_ADMIN_URL: options.postgresAdminUrl ?? process.env.POSTGRES_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  };
  const envOf = (name: ServiceName): Record<string, string> => {
    if (name === 'gateway') {
      return {
        LOG_LEVEL: common.LOG_LEVEL!,
        PORT: String(gatewayPort),
        ...Object.fromEntries(SERVICE_NAMES.map((s) => [`${s === 'shipping' ? 'SHIPPING' : s.toUpperCase()}_URL`, urls[s]])),
        PAYMENT_PROCESSOR_URL: urls['card-processor'],
        ...(options.storefrontDir ? { STOREFRONT_DIR: options.storefrontDir } : {}),
        PAYMENT_PROCESSOR_PUBLISHABLE_KEY: options.env?.['card-processor']?.CARD_PROCESSOR_PUBLISHABLE_KEY ?? DEFAULT_PUBLISHABLE_KEY,
        ...options.env?.gateway,
      };
    }
    if (name === 'card-processor') {
      // Payments and the processor must agree on how long an authorization holds.
      const lifetime = options.env?.payments?.AUTHORIZATION_LIFETIME_MS;
      return { ...common, PORT: new URL(urls[name]).port, ...(lifetime ? { AUTHORIZATION_LIFETIME_MS: lifetime } : {}), ...options.env?.[name] };
    }
    return {
      ...common,
      PORT: String(ports[name]),
      ...(name === 'orders' ? { CART_URL: urls.cart } : {}),
      ...(name === 'identity' && options.admin ? { IDENTITY_ADMIN_EMAIL: options.admin.email, IDENTITY_ADMIN_PASSWORD: options.admin.password } : {}),
      ...(name === 'payments' ? { PAYMENTS_PROCESSOR_URL: urls['card-processor'] } : {}),
      ...options.env?.[name],
    };
  };

  const children = new Map<ServiceName, ChildProcess>();
  const launch = (name: ServiceName) => {
    const log = createWriteStream(join(logDir, `${name}.log`), { flags: 'a' });
    const entry = (SANDBOX_NAMES as readonly string[]).includes(name) ? join(ROOT, 'sandboxes', name, 'src', 'main.ts') : join(ROOT, 'services', name, 'src', 'main.ts');
    const child = spawn(process.execPath, ['--import', 'tsx', entry], {
      cwd: ROOT,
      env: { ...process.env, ...envOf(name) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.pipe(log);
    child.stderr!.pipe(log);
    children.set(name, child);
  };

  const waitReady = async (name: ServiceName, timeoutMs = 180_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const child = children.get(name);
      if (child && child.exitCode !== null) throw new Error(`${name} exited with code ${child.exitCode}; see ${join(logDir, `${name}.log`)}`);
      try {
        const res = await fetch(`${urls[name]}/health/ready`, { signal: AbortSignal.timeout(2000) });
        if (res.ok) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`${name} was not ready within ${timeoutMs} ms; see ${join(logDir, `${name}.log`)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };

  const stopChild = (child: ChildProcess) =>
    new Promise<void>((done) => {
      if (child.exitCode !== null || child.signalCode !== null) return done();
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      child.once('exit', () => {
        clearTimeout(timer);
        done();
      });
      child.kill('SIGTERM');
    });

  const stop = async () => {
    const gateway = children.get('gateway');
    if (gateway) await stopChild(gateway);
    await Promise.all([...children].filter(([n]) => n !== 'gateway' && !(SANDBOX_NAMES as readonly string[]).includes(n)).map(([, c]) => stopChild(c)));
    await Promise.all([...children].filter(([n]) => (SANDBOX_NAMES as readonly string[]).includes(n)).map(([, c]) => stopChild(c)));
  };

  try {
    for (const name of SANDBOX_NAMES) launch(name);
    for (const name of SERVICE_NAMES) launch(name);
    launch('gateway');
    await Promise.all([...SANDBOX_NAMES, ...SERVICE_NAMES, 'gateway' as const].map((name) => waitReady(name)));
  } catch (error) {
    await stop();
    throw error;
  }

  let seeded = false;
  if (options.seed) {
    if (!options.admin) throw new Error('seeding the demo store needs an admin (options.admin)');
    seeded = await seedDemo(urls.gateway, options.admin);
  }

  return {
    url: urls.gateway,
    urls,
    seeded,
    sandboxes: {
      cardProcessor: { url: urls['card-processor'], publishableKey: options.env?.['card-processor']?.CARD_PROCESSOR_PUBLISHABLE_KEY ?? DEFAULT_PUBLISHABLE_KEY },
    },
    kill(name) {
      children.get(name)?.kill('SIGKILL');
    },
    async restart(name) {
      const old = children.get(name);
      if (old) await stopChild(old);
      launch(name);
      await waitReady(name);
    },
    pid: (name) => children.get(name)?.pid,
    stop,
  };
}

/** Drops every service database of a prefix, so a test run or benchmark starts like a fresh installation. */
export async function dropServiceDatabases(prefix: string, adminUrl = process.env.POSTGRES_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect().catch((error: Error) => {
    throw new Error(`PostgreSQL is required for the distributed suites (${adminUrl}): ${error.message}`);
  });
  try {
    for (const name of [...SERVICE_NAMES, ...SANDBOX_NAMES]) await client.query(`DROP DATABASE IF EXISTS ${prefix}_${name.replace(/-/g, '_')} WITH (FORCE)`);
  } finally {
    await client.end();
  }
}
