import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { loadConfigOrExit } from '@emporium/platform';
import { parseBucket } from '@emporium/gateway';
import { adminCredentials } from './admin-credentials';
import { startEmbedded } from './embedded';
import { ensureStorefrontBuilt } from './storefront';

const config = loadConfigOrExit('emporium', z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(3000).describe('public port of the gateway'),
  HOST: z.string().default('127.0.0.1').describe('interface the gateway listens on'),
  DATA_DIR: z.string().default('.data').describe('folder for the embedded database (survives restarts)'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('warn').describe('pino log level (JSON on stdout)'),
  SEED_DEMO: z.enum(['true', 'false']).default('true').describe('seed the demo catalog on first start'),
  RATE_LIMIT_CLIENT: z.string().optional().describe('requests per client address: burst/perSecond, or off (default 300/60)'),
  RATE_LIMIT_ACCOUNT: z.string().optional().describe('requests per account: burst/perSecond, or off (default 120/20)'),
  RATE_LIMIT_SIGN_IN: z.string().optional().describe('sign-ins and guest sessions per client address: burst/perSecond, or off (default 20/0.2)'),
  CORS_ORIGINS: z.string().default('').describe('comma-separated origins allowed to call the API from a browser'),
}));
const bucket = (text: string | undefined) => (text === undefined ? undefined : parseBucket(text));

const started = Date.now();
const dataDir = resolve(config.DATA_DIR);
mkdirSync(dataDir, { recursive: true });

// PGlite is single-process: refuse to open the same data folder twice.
const lockFile = join(dataDir, 'emporium.pid');
try {
  const pid = Number(readFileSync(lockFile, 'utf8'));
  if (pid && pid !== process.pid) {
    process.kill(pid, 0);
    process.stderr.write(`emporium: another Emporium (pid ${pid}) is using ${dataDir}; stop it first or set DATA_DIR.\n`);
    process.exit(1);
  }
} catch {
  // No lock, or its process is gone.
}
writeFileSync(lockFile, String(process.pid));

process.stderr.write(`Emporium is starting (embedded mode, data in ${dataDir}) …\n`);
const admin = adminCredentials(dataDir);
const storefrontDir = ensureStorefrontBuilt((m) => process.stderr.write(`${m}\n`));
const platform = await startEmbedded({ dataDir: join(dataDir, 'pglite'), port: config.PORT, host: config.HOST, logLevel: config.LOG_LEVEL, seed: config.SEED_DEMO === 'true',
  admin,
  storefrontDir,
  gateway: {
    rateLimits: { client: bucket(config.RATE_LIMIT_CLIENT), account: bucket(config.RATE_LIMIT_ACCOUNT), signIn: bucket(config.RATE_LIMIT_SIGN_IN) },
    corsOrigins: config.CORS_ORIGINS.split(',').map((o) => o.trim()).filter(Boolean),
  },
});
const seconds = ((Date.now() - started) / 1000).toFixed(1);
const rss = Math.round(process.memoryUsage().rss / 1024 / 1024);
const u = platform.url;
process.stderr.write(`
Emporium is running — ready in ${seconds} s, ${rss} MB of memory${platform.seeded ? ', demo store seeded' : ''}.

  Storefront        ${u}/
  Products          ${u}/products?q=lamp
  Inventory         ${u}/inventory/456
  A guest session   curl -X POST ${u}/auth/guest     (then send "Authorization: Bearer <accessToken>")
  Place an order    curl -X POST ${u}/api/orders -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \\
                      -d '{"items":[{"product_id":456,"quantity":2}],"payment_method":"credit_card","payment_token":"tok_success"}'
  Staff sign-in     POST ${u}/auth/staff/signin  as ${admin.email}${admin.file ? ` (password in ${admin.file})` : ''}
  Health            ${u}/health/ready
  API docs          ${u}/api-docs/orders  (and catalog, cart, inventory, payments, shipping)
${Object.entries(platform.services).map(([name, s]) => `  ${name.padEnd(17)} ${s.url}/docs`).join('\n')}
  Card processor    ${platform.sandboxes.cardProcessor.url}/v1  (sandbox, Stripe API; publishable key ${platform.sandboxes.cardProcessor.publishableKey})

Press Ctrl+C to stop.
`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  process.stderr.write('Stopping Emporium: draining in-flight work …\n');
  await platform.stop();
  rmSync(lockFile, { force: true });
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
