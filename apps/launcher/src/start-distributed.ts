import { z } from 'zod';
import { loadConfigOrExit } from '@emporium/platform';
import { mkdirSync } from 'node:fs';
import { adminCredentials } from './admin-credentials';
import { startDistributed, SERVICE_NAMES } from './distributed';
import { ensureStorefrontBuilt } from './storefront';

const config = loadConfigOrExit('emporium', z.object({
  PORT: z.coerce.number().int().min(1).max(65535).default(3000).describe('public port of the gateway'),
  SERVICE_PORT_BASE: z.coerce.number().int().min(1).max(65000).default(3100).describe('services listen on base+1 … base+7, the card processor sandbox on base+8'),
  DATABASE_PREFIX: z.string().default('emporium').describe('each service uses database <prefix>_<service>'),
  KAFKA_BROKERS: z.string().default('127.0.0.1:9092').describe('Kafka bootstrap brokers'),
  LOG_LEVEL: z.string().default('info').describe('pino log level of every service'),
}));

const started = Date.now();
mkdirSync('.data', { recursive: true });
const admin = adminCredentials('.data');
const storefrontDir = ensureStorefrontBuilt((m) => process.stderr.write(`${m}\n`));
process.stderr.write('Emporium is starting in distributed mode (PostgreSQL + Kafka, one process per service) …\n');
const platform = await startDistributed({
  gatewayPort: config.PORT,
  servicePortBase: config.SERVICE_PORT_BASE,
  databasePrefix: config.DATABASE_PREFIX,
  kafkaBrokers: config.KAFKA_BROKERS,
  logLevel: config.LOG_LEVEL,
  seed: true,
  admin,
  storefrontDir,
});
process.stderr.write(`
Emporium (distributed) is running — ready in ${((Date.now() - started) / 1000).toFixed(1)} s${platform.seeded ? ', demo store seeded' : ''}.

  Gateway   ${platform.url}/
${SERVICE_NAMES.map((name) => `  ${name.padEnd(9)} ${platform.urls[name]}/docs   (pid ${platform.pid(name)})`).join('\n')}
  card processor (sandbox, Stripe API) ${platform.urls['card-processor']}/v1   (pid ${platform.pid('card-processor')})
  Logs      .data/distributed-logs/<service>.log
  Staff     POST ${platform.url}/auth/staff/signin as ${admin.email}${admin.file ? ` (password in ${admin.file})` : ''}

Press Ctrl+C to stop every process.
`);
const stop = async () => {
  await platform.stop();
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
