import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS, makeEnvelope } from '@emporium/contracts';
import { createInProcessBus, createLogger, createMetrics, openPglite, type Db, type EventBus } from '@emporium/platform';
import { eventually } from '@emporium/platform/testing';
import { createInventoryService } from '../src/service';

const CLI = fileURLToPath(new URL('../src/reconcile.ts', import.meta.url));

/** The reconciliation command on an embedded data folder, as `npm start` leaves it. */
describe('the reconcile command on the embedded data folder', () => {
  let dir: string;
  const reconcile = () => {
    const result = spawnSync(process.execPath, ['--import', 'tsx', CLI], { env: { ...process.env, DATABASE_URL: '', DATA_DIR: dir }, encoding: 'utf8' });
    return { code: result.status, stdout: result.stdout, stderr: result.stderr };
  };

  /** Opens the folder's database with inventory running on it, runs `work`, and closes it again. */
  const withInventory = async (work: (tools: { db: Db; bus: EventBus; update(productId: string, body: object): Promise<number> }) => Promise<void>) => {
    const pglite = await openPglite(join(dir, 'pglite'));
    const logger = createLogger('test', 'silent');
    const bus = createInProcessBus({ db: pglite.forSchema('bus'), logger });
    await bus.migrate();
    const db = pglite.forSchema('inventory');
    const service = await createInventoryService({ db, bus, logger, metrics: createMetrics('inventory', { defaultMetrics: false }) });
    await service.start();
    try {
      await work({ db, bus, update: async (productId, payload) => (await service.app.inject({ method: 'POST', url: `/inventory/${productId}/update`, payload })).statusCode });
    } finally {
      await service.stop();
      await bus.close();
      await pglite.close();
    }
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'emporium-reconcile-'));
    await withInventory(async ({ db, bus, update }) => {
      const envelope = makeEnvelope({
        type: 'product_created',
        source: 'test',
        key: 'lamp',
        data: { productId: 'lamp', sku: 'LAMP', name: 'Lamp', description: '', category: 'test', imageUrl: null, price: { amount: 100, currency: 'EUR' }, active: true },
      });
      await bus.publish([{ topic: EVENTS.product_created.topic, key: 'lamp', value: JSON.stringify(envelope) }]);
      await eventually(async () => (await db.query('SELECT 1 FROM stock WHERE product_id = $1', ['lamp'])).rows.length === 1, 10_000, 'the stock row');
      expect(await update('lamp', { set: 5, reason: 'opening stock' })).toBe(200);
    });
  }, 60_000);
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('when levels agree with the ledger, then it prints ok and exits 0', () => {
    const { code, stdout, stderr } = reconcile();
    expect(code, stderr).toBe(0);
    expect(JSON.parse(stdout)).toEqual({ ok: true, mismatches: [] });
  }, 30_000);

  it('when npm start holds the data folder, then it refuses and leaves the lock alone', async () => {
    await writeFile(join(dir, 'emporium.pid'), String(process.pid));
    try {
      const { code, stderr } = reconcile();
      expect(code).toBe(2);
      expect(stderr).toContain(`pid ${process.pid}`);
    } finally {
      await rm(join(dir, 'emporium.pid'), { force: true });
    }
  }, 30_000);

  it('when a stock row was changed behind the ledger, then it names the product and exits 1', async () => {
    await withInventory(async ({ db }) => {
      await db.query("UPDATE stock SET on_hand = 7 WHERE product_id = 'lamp'");
    });
    const { code, stdout } = reconcile();
    expect(code).toBe(1);
    expect(JSON.parse(stdout)).toEqual({ ok: false, mismatches: [{ productId: 'lamp', onHand: 7, onHandFromLedger: 5, reserved: 0, reservedFromReservations: 0, reservedFromLedger: 0 }] });
  }, 60_000);
});
