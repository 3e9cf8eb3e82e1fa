/**
 * `npm run reconcile`: checks that every product's stock level agrees with its ledger and its
 * active reservations, and prints `{ ok, mismatches }` as JSON. Exit 0 when all agree, 1 when a
 * product disagrees, 2 when the check could not run.
 *
 * Where it looks: DATABASE_URL (a distributed inventory database, schema `inventory`) when set;
 * otherwise the embedded database of `npm start` in DATA_DIR/pglite. PGlite is single-process, so
 * it refuses while `npm start` holds DATA_DIR (emporium.pid), and holds that lock itself meanwhile.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { createPostgresDb, loadConfigOrExit, openPglite, type Db } from '@emporium/platform';
import { createInventoryStore } from './store/inventory.store';
import { SERVICE } from './service';

const config = loadConfigOrExit('reconcile', z.object({
  DATABASE_URL: z.string().url().optional().describe('the inventory PostgreSQL database (distributed mode); unset → the embedded DATA_DIR'),
  DATA_DIR: z.string().default('.data').describe('data folder of `npm start` (embedded mode), used when DATABASE_URL is unset'),
}));

const fail = (message: string): never => {
  process.stderr.write(`reconcile: ${message}\n`);
  process.exit(2);
};

/** The embedded database, locked against `npm start` for as long as the check runs. */
async function openEmbedded(dataDir: string): Promise<{ db: Db; close(): Promise<void> }> {
  const pgliteDir = join(dataDir, 'pglite');
  if (!existsSync(pgliteDir)) fail(`no embedded database in ${pgliteDir} (start Emporium once with \`npm start\`, or set DATABASE_URL)`);
  const lockFile = join(dataDir, 'emporium.pid');
  const holder = existsSync(lockFile) ? Number(readFileSync(lockFile, 'utf8')) : 0;
  if (holder && holder !== process.pid && alive(holder)) fail(`Emporium (pid ${holder}) is using ${dataDir}; stop it first, or ask the running store: GET /inventory/reconciliation`);
  writeFileSync(lockFile, String(process.pid));
  const pglite = await openPglite(pgliteDir);
  return {
    db: pglite.forSchema(SERVICE),
    async close() {
      await pglite.close();
      rmSync(lockFile, { force: true });
    },
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: string }).code === 'EPERM';
  }
}

const target = config.DATABASE_URL
  ? (() => {
      const db = createPostgresDb({ connectionString: config.DATABASE_URL, schema: SERVICE, max: 1, applicationName: 'inventory-reconcile' });
      return { db, close: () => db.close() };
    })()
  : await openEmbedded(resolve(config.DATA_DIR));

let exitCode = 2;
try {
  const { rows } = await target.db.query<{ present: boolean }>("SELECT to_regclass($1) IS NOT NULL AS present", [`${SERVICE}.stock`]);
  if (!rows[0]?.present) throw new Error(`there is no ${SERVICE}.stock table here: is this the inventory database?`);
  const mismatches = await createInventoryStore(target.db, SERVICE).reconcile();
  process.stdout.write(`${JSON.stringify({ ok: mismatches.length === 0, mismatches }, null, 2)}\n`);
  exitCode = mismatches.length === 0 ? 0 : 1;
} catch (error) {
  process.stderr.write(`reconcile: ${error instanceof Error ? error.message : String(error)}\n`);
} finally {
  await target.close().catch(() => undefined);
}
process.exit(exitCode);
